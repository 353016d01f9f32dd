"""The HumanML3D 263-dim motion feature (Guo et al. 2022), extracted and decoded in torch.

Layout of one feature frame (22 joints, 20 fps)::

    [0]        root yaw velocity: arcsin of the y part of the frame-to-frame root quaternion (a half angle)
    [1:3]      root XZ velocity, turned by the heading of the *next* frame
    [3]        root (pelvis) height Y
    [4:67]     21 x 3 joint positions, root XZ removed, turned so the root faces +Z
    [67:193]   21 x 6 local rotations from swing-only IK, 6D = first two matrix columns
    [193:259]  22 x 3 joint velocities, turned by the heading of this frame
    [259:263]  foot contacts: left ankle, left toe, right ankle, right toe

T frames of joints give T - 1 feature frames.

How this follows the official pipeline (``motion_representation.py`` +
``common/skeleton.py`` of the HumanML3D repository):

- preprocessing: optional retarget to reference bone lengths, floor = min Y over all
  frames and joints, first-frame pelvis XZ to the origin, first frame turned to face +Z
  with across = (r_hip - l_hip) + (r_shoulder - l_shoulder), unsmoothed;
- the heading used by the features comes from the IK: across = (l_hip - r_hip) +
  (r_shoulder - l_shoulder) (the official index swap, kept), forward = up x across,
  smoothed over time with ``scipy.ndimage.gaussian_filter1d(sigma=20, mode="nearest")``
  (scipy itself is used, in float64, as in the official code, so a feature row depends
  on up to 80 later frames); the first frame's root rotation is forced to identity;
- joint rotations are swing-only (the rotation taking the HumanML3D raw offset
  direction of each bone to its observed direction), chained along the five kinematic
  chains, the two arm chains starting again from the root rotation;
- quaternion maths runs in float32 with the official operation order (numpy-side
  norms use a correctly rounded sqrt, as numpy does); run against the official
  functions with the same torch / numpy / scipy, the features, the retarget and the
  recovery agree bit for bit;
- the optional retarget is the official ``uniform_skeleton``: unsmoothed IK, then FK
  with the reference bone lengths along the raw offset directions;
- the yaw velocity ignores the sign of the relative quaternion's w. Once the body has
  turned past 180 degrees from its start, one step of the recovered yaw goes the wrong
  way and the decoded path drifts. ``fix_yaw=True`` flips the quaternion to w >= 0
  first (the corrected variant); :func:`h3d263_to_joints` decodes both.

Deviations, only where the official code would produce NaN: antiparallel vectors in
the "rotation between two vectors" use a 180 degree turn about a perpendicular axis,
and the arcsin argument is clamped to [-1, 1]. Degenerate input (coincident joints,
zero facing vector) raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from motionbook_lib.features.d135 import d135_to_joints, encode_d135
from motionbook_lib.rotations import check_finite, quaternion_conjugate, rotation_6d_to_matrix
from motionbook_lib.skeleton import (
    FACE_JOINTS,
    JOINT_NAMES,
    KINEMATIC_CHAINS,
    LEFT_FOOT,
    NUM_JOINTS,
    PARENTS,
    RIGHT_FOOT,
    Skeleton,
    forward_kinematics,
)

H3D263_DIM = 263
H3D263_ROOT_ROT_VEL = slice(0, 1)
H3D263_ROOT_LIN_VEL = slice(1, 3)
H3D263_ROOT_HEIGHT = slice(3, 4)
H3D263_RIC = slice(4, 67)
H3D263_ROT = slice(67, 193)
H3D263_VEL = slice(193, 259)
H3D263_CONTACTS = slice(259, 263)

#: Channel blocks of the 263 feature; the HumanML3D normalizer replaces each block's
#: per-channel std by the block mean (see :meth:`Normalizer.block_average_std`).
H3D263_BLOCKS: list[slice] = [
    H3D263_ROOT_ROT_VEL,
    H3D263_ROOT_LIN_VEL,
    H3D263_ROOT_HEIGHT,
    H3D263_RIC,
    H3D263_ROT,
    H3D263_VEL,
    H3D263_CONTACTS,
]

#: HumanML3D's rest direction of each bone (joint minus parent), used by its IK.
H3D_RAW_OFFSETS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0),
    (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1),
    (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
)  # fmt: skip

_R_HIP, _L_HIP, _R_SHOULDER, _L_SHOULDER = FACE_JOINTS
_LOWER_LEG = (5, 8)  # right knee, right ankle: the bones whose lengths set the retarget scale

# ---------------------------------------------------------------- float32 quaternion helpers
# (w, x, y, z); the term order follows the official code so results agree bit for bit.


def _qmul(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hamilton product q * r of (..., 4) quaternions."""
    q0, q1, q2, q3 = q.unbind(-1)
    r0, r1, r2, r3 = r.unbind(-1)
    w = r0 * q0 - r1 * q1 - r2 * q2 - r3 * q3
    x = r0 * q1 + r1 * q0 - r2 * q3 + r3 * q2
    y = r0 * q2 + r1 * q3 + r2 * q0 - r3 * q1
    z = r0 * q3 - r1 * q2 + r2 * q1 + r3 * q0
    return torch.stack((w, x, y, z), dim=-1)


def _qrot(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate (..., 3) vectors by (..., 4) unit quaternions (shapes broadcast)."""
    shape = torch.broadcast_shapes(q.shape[:-1], v.shape[:-1])
    q, v = q.expand(*shape, 4), v.expand(*shape, 3)
    qvec = q[..., 1:]
    uv = torch.linalg.cross(qvec, v, dim=-1)
    uuv = torch.linalg.cross(qvec, uv, dim=-1)
    return v + 2 * (q[..., :1] * uv + uuv)


def _qbetween(v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """Unit quaternion (..., 4) of the shortest rotation taking v0 (..., 3) to v1 (..., 3).

    Antiparallel pairs (where the official formula divides 0 by 0) get a half turn about
    an axis perpendicular to v0.
    """
    v0, v1 = torch.broadcast_tensors(v0, v1)
    v = torch.linalg.cross(v0, v1, dim=-1)
    w = torch.sqrt((v0**2).sum(dim=-1, keepdim=True) * (v1**2).sum(dim=-1, keepdim=True)) + (v0 * v1).sum(
        dim=-1, keepdim=True
    )
    q = torch.cat([w, v], dim=-1)
    n = torch.norm(q, dim=-1, keepdim=True)
    bad = n <= 0
    if bool(bad.any()):
        # any axis perpendicular to v0: cross with the basis vector least aligned with it
        e = torch.zeros_like(v0)
        e.scatter_(-1, v0.abs().argmin(dim=-1, keepdim=True), 1.0)
        axis = torch.nn.functional.normalize(torch.linalg.cross(v0, e, dim=-1), dim=-1)
        half_turn = torch.cat([torch.zeros_like(w), axis], dim=-1)
        return torch.where(bad, half_turn, q / torch.where(bad, torch.ones_like(n), n))
    return q / n


def _norm3(v: torch.Tensor) -> torch.Tensor:
    """Length of (..., 3) vectors as numpy computes it: x, y, z summed in order, correctly rounded sqrt.

    (torch's float32 CPU sqrt is not always correctly rounded; taking it in float64 is.)
    """
    return torch.sqrt((v[..., 0] ** 2 + v[..., 1] ** 2 + v[..., 2] ** 2).double()).to(v.dtype)


def _quat_to_cont6d(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions -> (..., 6): first two columns of the rotation matrix."""
    r, i, j, k = q.unbind(-1)
    two_s = 2.0 / (q * q).sum(-1)
    col0 = (1 - two_s * (j * j + k * k), two_s * (i * j + k * r), two_s * (i * k - j * r))
    col1 = (two_s * (i * j - k * r), 1 - two_s * (i * i + k * k), two_s * (j * k + i * r))
    return torch.stack(col0 + col1, dim=-1)


# ---------------------------------------------------------------- input checks


def _as_tensor(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    return x


def _check_joints(joints: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
    """Validate joints -> ((B, T, 22, 3) tensor, whether the input was batched)."""
    x = _as_tensor(joints, "joints")
    if x.dim() not in (3, 4) or tuple(x.shape[-2:]) != (NUM_JOINTS, 3):
        raise ValueError(
            f"joints must have shape (T, {NUM_JOINTS}, 3) or (B, T, {NUM_JOINTS}, 3) in metres, Y up; "
            f"got {tuple(x.shape)}"
        )
    if x.shape[-3] < 2:
        raise ValueError(f"joints must have at least 2 frames (shape (..., T >= 2, 22, 3)), got {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.double()
    check_finite(x, "joints")
    batched = x.dim() == 4
    return (x if batched else x[None]), batched


def _check_feature(feat: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = _as_tensor(feat, "feat")
    if x.dim() < 2 or x.shape[-1] != H3D263_DIM:
        raise ValueError(f"feat must have shape (..., T, {H3D263_DIM}) (HumanML3D 263 layout), got {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    check_finite(x, "feat")
    return x


def _check_bones(pos: torch.Tensor, name: str) -> None:
    """Raise if a bone has zero length in some frame (its direction is then undefined)."""
    child = list(range(1, NUM_JOINTS))
    length = (pos[..., child, :] - pos[..., list(PARENTS[1:]), :]).norm(dim=-1)  # (..., 21)
    short = length.flatten(0, -2).amin(0) <= 0
    if bool(short.any()):
        names = [JOINT_NAMES[c] for c, s in zip(child, short.tolist(), strict=True) if s]
        raise ValueError(f"{name}: zero-length bone(s) ending at {names} in some frame; joint directions undefined")


# ---------------------------------------------------------------- preprocessing


def _retarget(pos: torch.Tensor, reference_offsets: torch.Tensor) -> torch.Tensor:
    """Official ``uniform_skeleton``: (B, T, 22, 3) float32 joints -> (B, T, 22, 3) float64.

    Unsmoothed swing IK, then FK with the reference bone lengths along the raw offset
    directions, so every bone keeps its observed direction and takes the reference
    length; the root path is scaled by the ratio of lower-leg lengths (first frame).
    Float32 quaternion maths and float64 accumulation, as in the official code.
    """
    raw = torch.tensor(H3D_RAW_OFFSETS, dtype=torch.float32, device=pos.device)
    tgt = _norm3(reference_offsets.float().to(pos.device))[:, None] * raw  # (22, 3)
    first = pos[:, 0]  # (B, 22, 3)
    src_len = torch.norm(first[:, 1:] - first[:, list(PARENTS[1:])], p=2, dim=-1)  # (B, 21)
    a, b = _LOWER_LEG
    scale = (tgt[a].abs().amax() + tgt[b].abs().amax()) / (src_len[:, a - 1] + src_len[:, b - 1])  # (B,)
    quat = _swing_ik(pos, 0.0)  # (B, T, 22, 4)
    out: list[torch.Tensor | None] = [None] * NUM_JOINTS
    out[0] = (pos[:, :, 0] * scale[:, None, None]).double()
    for chain in KINEMATIC_CHAINS:
        R = quat[:, :, 0]
        for p, c in zip(chain[:-1], chain[1:], strict=True):
            R = _qmul(R, quat[:, :, c])
            out[c] = _qrot(R, tgt[c]).double() + out[p]
    return torch.stack(out, dim=2)  # type: ignore[arg-type]


def _preprocess(x: torch.Tensor, reference_offsets: torch.Tensor | None) -> torch.Tensor:
    """(B, T, 22, 3) -> (B, T, 22, 3) float32: on the floor, first frame at the origin facing +Z."""
    pos = x.double()
    _check_bones(pos, "joints")
    if reference_offsets is not None:
        ref = _as_tensor(reference_offsets, "reference_offsets")
        if tuple(ref.shape) != (NUM_JOINTS, 3):
            raise ValueError(
                f"reference_offsets must have shape ({NUM_JOINTS}, 3) (bone offsets, joint minus parent), "
                f"got {tuple(ref.shape)}"
            )
        check_finite(ref, "reference_offsets")
        if bool((ref[1:].double().norm(dim=-1) <= 0).any()):
            raise ValueError("reference_offsets must give every bone (rows 1..21) a positive length")
        pos = _retarget(x.float(), ref)
    floor = pos[..., 1].amin(dim=(1, 2))  # (B,) over all frames, the last one included
    pos = pos - torch.stack([torch.zeros_like(floor), floor, torch.zeros_like(floor)], -1)[:, None, None]
    first = pos[:, 0]  # (B, 22, 3)
    pos = pos - (first[:, 0] * pos.new_tensor([1.0, 0.0, 1.0]))[:, None, None]
    across = (first[:, _R_HIP] - first[:, _L_HIP]) + (first[:, _R_SHOULDER] - first[:, _L_SHOULDER])
    across = across / _norm3(across)[:, None]
    fwd = torch.stack([across[:, 2], torch.zeros_like(across[:, 0]), -across[:, 0]], -1)  # up x across
    n = _norm3(fwd)[:, None]
    if not bool(torch.isfinite(fwd / n).all()):
        raise ValueError("joints: first frame has no horizontal facing (hips and shoulders give a vertical across)")
    fwd = (fwd / n).float()
    quat0 = _qbetween(fwd, fwd.new_tensor([0.0, 0.0, 1.0]))  # (B, 4)
    return _qrot(quat0[:, None, None], pos.float())


def preprocess_h3d263(joints: torch.Tensor | np.ndarray, reference_offsets: torch.Tensor | None = None) -> torch.Tensor:
    """Joints (T, 22, 3) / (B, T, 22, 3) -> the same shape, float32, as the 263 feature sees them.

    Optional retarget (see :func:`extract_h3d263`), floor at Y = 0, first-frame pelvis
    above the origin, first frame facing +Z. ``h3d263_to_joints(extract_h3d263(j))``
    reproduces ``preprocess_h3d263(j)[..., :-1, :, :]``.
    """
    x, batched = _check_joints(joints)
    out = _preprocess(x, reference_offsets)
    return out if batched else out[0]


# ---------------------------------------------------------------- IK and heading


def _smooth_forward(glob: torch.Tensor, sigma: float) -> torch.Tensor:
    """Facing direction per frame from (B, T, 22, 3) float32 joints -> (B, T, 3) float32 unit vectors."""
    across = (glob[..., _L_HIP, :] - glob[..., _R_HIP, :]) + (glob[..., _R_SHOULDER, :] - glob[..., _L_SHOULDER, :])
    norm = _norm3(across)
    if bool((norm <= 0).any()):
        raise ValueError("joints: hips and shoulders give a zero facing vector in some frame")
    across = across / norm[..., None]
    ax, az = across[..., 0].double(), across[..., 2].double()
    fwd = torch.stack([az, torch.zeros_like(az), -ax], dim=-1)  # up x across, float64 as in the official code
    if sigma > 0:
        # scipy itself, so the heading matches the official one bit for bit
        fwd_np = gaussian_filter1d(fwd.cpu().numpy(), sigma, axis=1, mode="nearest")
        fwd = torch.from_numpy(fwd_np).to(glob.device)
    n = _norm3(fwd)
    if bool((n <= 0).any()):
        raise ValueError("joints: the smoothed facing direction vanishes in some frame")
    return (fwd / n[..., None]).float()


def _swing_ik(glob: torch.Tensor, sigma: float) -> torch.Tensor:
    """HumanML3D IK: (B, T, 22, 3) float32 joints -> (B, T, 22, 4) float32 quaternions.

    Row 0 is the world-to-heading rotation (identity on the first frame); row j is the
    rotation of joint j relative to the previous rotation along its chain, each bone
    rotated from its raw offset direction to its observed direction (no twist).
    """
    fwd = _smooth_forward(glob, sigma)  # (B, T, 3)
    root = _qbetween(fwd, fwd.new_tensor([0.0, 0.0, 1.0]))  # (B, T, 4)
    root[:, 0] = root.new_tensor([1.0, 0.0, 0.0, 0.0])
    raw = torch.tensor(H3D_RAW_OFFSETS, dtype=glob.dtype, device=glob.device)
    quat: list[torch.Tensor | None] = [None] * NUM_JOINTS
    quat[0] = root
    for chain in KINEMATIC_CHAINS:
        R = root
        for p, c in zip(chain[:-1], chain[1:], strict=True):
            v = glob[..., c, :] - glob[..., p, :]  # (B, T, 3)
            v = v / _norm3(v)[..., None]
            swing = _qbetween(raw[c].expand_as(v), v)
            local = _qmul(quaternion_conjugate(R), swing)
            quat[c] = local
            R = _qmul(R, local)
    return torch.stack(quat, dim=2)  # type: ignore[arg-type]


# ---------------------------------------------------------------- public API


def extract_h3d263(
    joints: torch.Tensor | np.ndarray,
    feet_threshold: float = 0.002,
    smooth_sigma: float = 20.0,
    fix_yaw: bool = False,
    reference_offsets: torch.Tensor | None = None,
) -> torch.Tensor:
    """Joints (T, 22, 3) / (B, T, 22, 3), metres, Y up -> HumanML3D features (T-1, 263) / (B, T-1, 263).

    Args:
        joints: positions of the 22 SMPL body joints (HumanML3D order), T >= 2.
        feet_threshold: a foot joint is in contact when its squared displacement over
            one frame (m^2) is below this (0.002 at 20 fps in HumanML3D).
        smooth_sigma: sigma (frames) of the Gaussian smoothing of the heading; 20 in
            HumanML3D; 0 disables it.
        fix_yaw: store the yaw velocity of the relative root quaternion taken with
            w >= 0 (the corrected variant); False reproduces the official values.
        reference_offsets: (22, 3) bone offsets (joint minus parent) of a reference
            skeleton, e.g. HumanML3D's ``tgt_offsets`` (subject 000021) or
            ``Skeleton().offsets()``. When given, every bone takes the reference length
            (direction kept) and the root path is scaled by the lower-leg length ratio,
            as the official ``uniform_skeleton``. None (default) skips the retarget:
            motionbook joints already come from one fixed skeleton.

    Returns:
        float32 features. Batched rows are computed independently (batched equals
        per-sequence). Runs on the tensor's device except the heading smoothing,
        which goes through scipy on the CPU.
    """
    x, batched = _check_joints(joints)
    glob = _preprocess(x, reference_offsets)  # (B, T, 22, 3) float32
    step = glob[:, 1:] - glob[:, :-1]  # (B, T-1, 22, 3)
    sq = step**2
    disp = sq[..., 0] + sq[..., 1] + sq[..., 2]  # (B, T-1, 22)
    feet_l = (disp[..., list(LEFT_FOOT)] < feet_threshold).float()
    feet_r = (disp[..., list(RIGHT_FOOT)] < feet_threshold).float()

    quat = _swing_ik(glob, float(smooth_sigma))  # (B, T, 22, 4)
    rot6 = _quat_to_cont6d(quat)  # (B, T, 22, 6)
    r_rot = quat[:, :, 0]  # (B, T, 4) world -> heading frame

    root_vel = _qrot(r_rot[:, 1:], step[:, :, 0])  # (B, T-1, 3), heading of frame t+1
    r_vel = _qmul(r_rot[:, 1:], quaternion_conjugate(r_rot[:, :-1]))  # (B, T-1, 4)
    y = r_vel[..., 2]
    if fix_yaw:
        y = torch.where(r_vel[..., 0] < 0, -y, y)
    yaw_vel = torch.asin(y.clamp(-1.0, 1.0))  # half angle per frame

    local = glob - glob[:, :, :1] * glob.new_tensor([1.0, 0.0, 1.0])  # root XZ removed
    local = _qrot(r_rot[:, :, None], local)  # (B, T, 22, 3) facing +Z
    joint_vel = _qrot(r_rot[:, :-1, None], step)  # (B, T-1, 22, 3), heading of frame t

    feat = torch.cat(
        [
            yaw_vel[..., None],
            root_vel[..., [0, 2]],
            local[:, :-1, 0, 1:2],
            local[:, :-1, 1:].flatten(-2),
            rot6[:, :-1, 1:].flatten(-2),
            joint_vel.flatten(-2),
            feet_l,
            feet_r,
        ],
        dim=-1,
    )  # (B, T-1, 263)
    if not bool(torch.isfinite(feat).all()):  # pragma: no cover - guarded by the checks above
        raise ValueError("joints: degenerate pose gave non-finite HumanML3D features")
    return feat if batched else feat[0]


def h3d263_to_joints(feat: torch.Tensor | np.ndarray) -> torch.Tensor:
    """HumanML3D features (..., T, 263) -> joints (..., T, 22, 3), the official ``recover_from_ric``.

    Yaw = cumulative sum of ``[0]`` shifted by one frame, read as the half angle of
    ``(cos a, 0, sin a, 0)`` (so official files decode with their yaw drift, and
    ``fix_yaw=True`` features decode without it); root XZ = cumulative sum of the
    velocities turned back by that yaw; root Y = ``[3]``; joints = ``[4:67]`` turned
    back and shifted by the root XZ. Computed in the feature's dtype.
    """
    f = _check_feature(feat)
    rot_vel = f[..., 0]  # (..., T)
    ang = torch.cumsum(torch.cat([torch.zeros_like(rot_vel[..., :1]), rot_vel[..., :-1]], dim=-1), dim=-1)
    zero = torch.zeros_like(ang)
    quat = torch.stack([torch.cos(ang), zero, torch.sin(ang), zero], dim=-1)  # (..., T, 4)
    inv = quaternion_conjugate(quat)
    step = torch.zeros(*f.shape[:-1], 3, dtype=f.dtype, device=f.device)
    step[..., 1:, 0] = f[..., :-1, 1]
    step[..., 1:, 2] = f[..., :-1, 2]
    root = torch.cumsum(_qrot(inv, step), dim=-2)  # (..., T, 3)
    root[..., 1] = f[..., 3]
    pos = _qrot(inv[..., None, :], f[..., H3D263_RIC].unflatten(-1, (NUM_JOINTS - 1, 3)))  # (..., T, 21, 3)
    pos = pos + root[..., None, :] * pos.new_tensor([1.0, 0.0, 1.0])
    return torch.cat([root[..., None, :], pos], dim=-2)


def h3d263_rotations(feat: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The IK rotations stored in a 263 feature: (..., T, 263) -> (..., T, 21, 3, 3) for joints 1..21.

    They are HumanML3D's swing-only rotations relative to the previous rotation along
    the kinematic chain (arms and legs relative to the smoothed heading), not SMPL's
    local joint rotations.
    """
    f = _check_feature(feat)
    return rotation_6d_to_matrix(f[..., H3D263_ROT].unflatten(-1, (NUM_JOINTS - 1, 6)))


def _geodesic_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle (degrees) between (..., 3, 3) rotations."""
    rel = a.transpose(-1, -2) @ b
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cos))


def compare_d135_h3d263(
    local_rot: torch.Tensor,
    root_pos: torch.Tensor,
    skeleton: Skeleton | torch.Tensor | None = None,
    fix_yaw: bool = False,
) -> dict[str, float]:
    """How much of a motion each feature gives back.

    Args:
        local_rot: (T, 22, 3, 3) or (B, T, 22, 3, 3) local joint rotations (row 0 global).
        root_pos: (T, 3) or (B, T, 3) pelvis positions, metres.
        skeleton: a :class:`Skeleton`, (22, 3) bone offsets, or None for the neutral body.
        fix_yaw: extract the 263 feature with the corrected yaw velocity.

    Returns:
        ``d135_mpjpe_m``: mean joint error of FK joints -> D135 -> joints (start XZ given);
        ``h3d263_mpjpe_m``: mean joint error of joints -> 263 -> joints, measured against
        the preprocessed joints (:func:`preprocess_h3d263`, the frame the feature lives in);
        ``h3d263_rot_geodesic_deg``: mean angle between the true local rotations of
        joints 1..21 and the IK rotations in the 263 feature's 6D block;
        ``d135_max_m`` / ``h3d263_max_m``: the worst joint errors.
    """
    if skeleton is None:
        skeleton = Skeleton()
    dtype = local_rot.dtype if local_rot.is_floating_point() else torch.float32
    offsets = skeleton.offsets(dtype, local_rot.device) if isinstance(skeleton, Skeleton) else skeleton
    joints = forward_kinematics(local_rot, root_pos, offsets)  # (..., T, 22, 3)
    d135 = encode_d135(local_rot, root_pos)  # (..., T, 135)
    back = d135_to_joints(d135, offsets, root_xz0=root_pos[..., 0, [0, 2]])
    d135_err = (back - joints).norm(dim=-1)

    feat = extract_h3d263(joints, fix_yaw=fix_yaw)  # (..., T-1, 263)
    ref = preprocess_h3d263(joints)[..., :-1, :, :]
    h_err = (h3d263_to_joints(feat) - ref).norm(dim=-1)
    angles = _geodesic_deg(local_rot[..., :-1, 1:, :, :].float(), h3d263_rotations(feat))
    return {
        "d135_mpjpe_m": float(d135_err.mean()),
        "d135_max_m": float(d135_err.max()),
        "h3d263_mpjpe_m": float(h_err.mean()),
        "h3d263_max_m": float(h_err.max()),
        "h3d263_rot_geodesic_deg": float(angles.mean()),
    }
