"""The Motionbook SMPL-D135 feature: 135 numbers per frame, lossless by forward kinematics.

Layout of one frame (channel indices)::

    [0:6]    root global orientation, continuous 6D (first two matrix columns)
    [6:8]    root XZ velocity, metres per frame, in the heading frame of this frame:
             (x, z) = Ry(-heading_t) @ (p_{t+1} - p_t); the last frame repeats the one before
    [8]      root (pelvis) height Y, metres
    [9:135]  21 joints (SMPL order 1..21) x 6D local rotation relative to the parent

Decoding integrates the velocity from the start position (the origin unless given),
turns each step back by the frame's heading, and rebuilds joints by FK through the
skeleton: every joint rotation and the root path come back, so the round trip is
exact up to float rounding. Only the start XZ position is not stored (pass
``root_xz0`` to :func:`decode_d135` to place the motion).
"""

from __future__ import annotations

import torch

from motionbook_lib.rotations import (
    check_finite,
    check_rotation_matrix,
    heading_angle,
    matrix_to_rotation_6d,
    rotation_6d_to_matrix,
    yaw_to_matrix,
)
from motionbook_lib.skeleton import BODY_PARTS, JOINT_NAMES, NUM_JOINTS, Skeleton, forward_kinematics

D135_DIM = 135
D135_ROOT_ROT = slice(0, 6)
D135_ROOT_VEL = slice(6, 8)
D135_ROOT_HEIGHT = 8
D135_JOINT_ROT = slice(9, 135)


def d135_channel_names() -> list[str]:
    """Human-readable name of each of the 135 channels."""
    names = [f"root_rot6d_{i}" for i in range(6)] + ["root_vel_x", "root_vel_z", "root_height"]
    for j in range(1, NUM_JOINTS):
        names += [f"{JOINT_NAMES[j]}_rot6d_{i}" for i in range(6)]
    return names


def d135_part_channels() -> dict[str, list[int]]:
    """Channels of each body part of :data:`motionbook_lib.skeleton.BODY_PARTS`.

    ``root`` holds the 9 root channels; every other part holds the 6D rotations
    of its joints (joint j >= 1 lives at ``9 + 6 * (j - 1)``).
    """
    out: dict[str, list[int]] = {}
    for part, joints in BODY_PARTS.items():
        if part == "root":
            out[part] = list(range(9))
        else:
            out[part] = [9 + 6 * (j - 1) + i for j in joints for i in range(6)]
    return out


def _heading_matrix(root_rot: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) root orientation -> (..., 2, 2) matrix turning heading-frame XZ into world XZ."""
    yaw = heading_angle(root_rot)
    c, s = torch.cos(yaw), torch.sin(yaw)
    # world (x, z) = [[c, s], [-s, c]] @ local (x, z)  (rotation about +Y by yaw)
    return torch.stack([c, s, -s, c], dim=-1).reshape(*yaw.shape, 2, 2)


def _check_motion(local_rot: torch.Tensor, root_pos: torch.Tensor) -> None:
    if not isinstance(local_rot, torch.Tensor) or local_rot.dim() < 4 or tuple(local_rot.shape[-3:]) != (
        NUM_JOINTS,
        3,
        3,
    ):
        shape = tuple(local_rot.shape) if hasattr(local_rot, "shape") else type(local_rot).__name__
        raise ValueError(f"local_rot must have shape (..., T, 22, 3, 3), got {shape}")
    if not isinstance(root_pos, torch.Tensor) or tuple(root_pos.shape) != tuple(local_rot.shape[:-3]) + (3,):
        shape = tuple(root_pos.shape) if hasattr(root_pos, "shape") else type(root_pos).__name__
        raise ValueError(f"root_pos must have shape (..., T, 3) = {tuple(local_rot.shape[:-3]) + (3,)}, got {shape}")
    check_rotation_matrix(local_rot, "local_rot")
    check_finite(root_pos, "root_pos")


def encode_d135(local_rot: torch.Tensor, root_pos: torch.Tensor) -> torch.Tensor:
    """Local rotations (..., T, 22, 3, 3) and pelvis positions (..., T, 3) -> D135 (..., T, 135)."""
    _check_motion(local_rot, root_pos)
    T = local_rot.shape[-4]
    root_rot = local_rot[..., 0, :, :]  # (..., T, 3, 3)
    step = root_pos[..., 1:, :] - root_pos[..., :-1, :]  # (..., T-1, 3)
    step_xz = step[..., [0, 2]]
    H = _heading_matrix(root_rot[..., :-1, :, :])  # (..., T-1, 2, 2)
    vel = (H.transpose(-1, -2) @ step_xz[..., None]).squeeze(-1)  # (..., T-1, 2)
    if T >= 2:
        vel = torch.cat([vel, vel[..., -1:, :]], dim=-2)
    else:
        vel = torch.zeros(*root_pos.shape[:-1], 2, dtype=root_pos.dtype, device=root_pos.device)
    rot6 = matrix_to_rotation_6d(local_rot)  # (..., T, 22, 6)
    return torch.cat(
        [rot6[..., 0, :], vel, root_pos[..., 1:2], rot6[..., 1:, :].flatten(-2)],
        dim=-1,
    )


def _check_feature(feat: torch.Tensor, name: str = "features") -> None:
    if not isinstance(feat, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(feat).__name__}")
    if feat.dim() < 2 or feat.shape[-1] != D135_DIM:
        raise ValueError(
            f"{name} must have shape (..., T, {D135_DIM}) (Motionbook SMPL-D135 layout), got {tuple(feat.shape)}"
        )
    check_finite(feat, name)


def decode_d135(
    feat: torch.Tensor, root_xz0: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """D135 (..., T, 135) -> local rotations (..., T, 22, 3, 3) and pelvis positions (..., T, 3).

    ``root_xz0`` (..., 2) is the start XZ position (default: the origin).
    """
    _check_feature(feat)
    rot6 = torch.cat([feat[..., D135_ROOT_ROT], feat[..., D135_JOINT_ROT]], dim=-1)
    local_rot = rotation_6d_to_matrix(rot6.unflatten(-1, (NUM_JOINTS, 6)))  # (..., T, 22, 3, 3)
    H = _heading_matrix(local_rot[..., :-1, 0, :, :])  # (..., T-1, 2, 2)
    step = (H @ feat[..., :-1, D135_ROOT_VEL, None]).squeeze(-1)  # (..., T-1, 2)
    # integrate in float64 so long clips do not drift through rounding
    xz = torch.cumsum(step.double(), dim=-2).to(feat.dtype)
    xz = torch.cat([xz.new_zeros(*xz.shape[:-2], 1, 2), xz], dim=-2)  # (..., T, 2)
    if root_xz0 is not None:
        xz = xz + torch.as_tensor(root_xz0, dtype=feat.dtype, device=feat.device)[..., None, :]
    root_pos = torch.stack([xz[..., 0], feat[..., D135_ROOT_HEIGHT], xz[..., 1]], dim=-1)
    return local_rot, root_pos


def d135_to_joints(
    feat: torch.Tensor,
    skeleton: Skeleton | torch.Tensor | None = None,
    root_xz0: torch.Tensor | None = None,
) -> torch.Tensor:
    """D135 (..., T, 135) -> joints (..., T, 22, 3) by FK.

    ``skeleton`` is a :class:`Skeleton`, bone offsets (22, 3) / (B, 22, 3), or None
    for the neutral body.
    """
    local_rot, root_pos = decode_d135(feat, root_xz0)
    if skeleton is None:
        skeleton = Skeleton()
    offsets = skeleton.offsets(feat.dtype, feat.device) if isinstance(skeleton, Skeleton) else skeleton
    return forward_kinematics(local_rot, root_pos, offsets)


def canonicalize(
    local_rot: torch.Tensor, root_pos: torch.Tensor, floor: float | torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put the first frame's pelvis above the origin, facing +Z; optionally subtract a floor height.

    Args:
        local_rot: (..., T, 22, 3, 3); root_pos: (..., T, 3).
        floor: height to subtract from Y (e.g. the lowest foot point); None keeps Y.
    Returns:
        (local_rot, root_pos) with the same shapes; only the root rotation and
        positions change, so joints move rigidly.
    """
    _check_motion(local_rot, root_pos)
    yaw0 = heading_angle(local_rot[..., :1, 0, :, :])  # (..., 1)
    turn = yaw_to_matrix(-yaw0)  # (..., 1, 3, 3)
    new_rot = local_rot.clone()
    new_rot[..., 0, :, :] = turn @ local_rot[..., 0, :, :]
    origin = root_pos[..., :1, :] * torch.tensor([1.0, 0.0, 1.0], dtype=root_pos.dtype, device=root_pos.device)
    new_pos = (turn @ (root_pos - origin)[..., None]).squeeze(-1)
    if floor is not None:
        new_pos = new_pos - torch.as_tensor(floor, dtype=root_pos.dtype, device=root_pos.device)[..., None, None] * (
            torch.tensor([0.0, 1.0, 0.0], dtype=root_pos.dtype, device=root_pos.device)
        )
    return new_rot, new_pos
