"""The 22-joint SMPL / SMPL-X body skeleton (the HumanML3D joint set) and forward kinematics.

Axes and units: Y up, metres, a body at rest faces +Z and its left side is +X
(SMPL's convention). Default frame rate 20 fps, as in HumanML3D.

Body proportions come from the ``mannequin-x`` package (Apache-2.0), which ships
the SMPL-X neutral rest joints and their exact linear response to the first ten
shape coefficients (betas), so no licensed SMPL file is needed. The forward
kinematics here is the one ``smplx`` uses for the same pose: each joint turns
about its rest position, ``x_j = x_parent + G_parent @ (J_j - J_parent)``, and
``G_j = G_parent @ R_j``; only the root position is given directly (``smplx``
gives ``J_0 + transl``; see :func:`smplx_transl_to_root`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

import numpy as np
import torch

from motionbook_lib.rotations import axis_angle_to_matrix, check_finite

NUM_JOINTS = 22
NUM_BETAS = 10
DEFAULT_FPS = 20.0

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

#: HumanML3D's five kinematic chains: right leg, left leg, spine to head, right arm, left arm.
KINEMATIC_CHAINS: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),
    (0, 1, 4, 7, 10),
    (0, 3, 6, 9, 12, 15),
    (9, 14, 17, 19, 21),
    (9, 13, 16, 18, 20),
)
#: right hip, left hip, right shoulder, left shoulder (used for the facing direction).
FACE_JOINTS: tuple[int, int, int, int] = (2, 1, 17, 16)
LEFT_FOOT: tuple[int, int] = (7, 10)  # ankle, toe
RIGHT_FOOT: tuple[int, int] = (8, 11)

#: The six body parts of MotionLib's hierarchical text and the 2D tokenizer's part axis.
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "root": (0,),
    "torso": (3, 6, 9, 12, 15),
    "left_arm": (13, 16, 18, 20),
    "right_arm": (14, 17, 19, 21),
    "left_leg": (1, 4, 7, 10),
    "right_leg": (2, 5, 8, 11),
}

#: Left/right joint pairs, for mirroring.
MIRROR_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
)  # fmt: skip


def mirror_permutation() -> list[int]:
    """Joint index permutation that swaps left and right."""
    perm = list(range(NUM_JOINTS))
    for a, b in MIRROR_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def joint_depths() -> list[int]:
    """Depth of each joint in the tree (pelvis 0)."""
    depth = [0] * NUM_JOINTS
    for j in range(1, NUM_JOINTS):
        depth[j] = depth[PARENTS[j]] + 1
    return depth


# ---------------------------------------------------------------- body proportions


@dataclass(frozen=True)
class ShapeCalibration:
    """SMPL-X neutral rest joints and sole heights, linear in the 10 betas."""

    joint_rest: np.ndarray  # (22, 3) metres, SMPL-X model coordinates
    joint_dirs: np.ndarray  # (22, 3, 10)
    sole_y_rest: np.ndarray  # (K,) heights of the sole vertices at rest
    sole_y_dirs: np.ndarray  # (K, 10)


@lru_cache(maxsize=1)
def load_calibration() -> ShapeCalibration:
    """Read ``mannequin/assets/smplx_calibration.npz`` from the installed mannequin-x package."""
    resource = files("mannequin") / "assets" / "smplx_calibration.npz"
    try:
        with resource.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            return ShapeCalibration(
                joint_rest=data["joint_rest"][:NUM_JOINTS].astype(np.float64),
                joint_dirs=data["joint_dirs"][:NUM_JOINTS, :, :NUM_BETAS].astype(np.float64),
                sole_y_rest=data["sole_y_rest"].astype(np.float64),
                sole_y_dirs=data["sole_y_dirs"][:, :NUM_BETAS].astype(np.float64),
            )
    except FileNotFoundError as err:  # pragma: no cover - depends on the install
        raise FileNotFoundError(
            f"body-model calibration file not found: {resource} (field 'joint_rest'); "
            "reinstall the 'mannequin-x' package (pip install mannequin-x==0.3.0)"
        ) from err
    except KeyError as err:  # pragma: no cover
        raise ValueError(f"{resource} lacks field {err}; mannequin-x version mismatch") from err


def _betas(betas: torch.Tensor | np.ndarray | None) -> torch.Tensor:
    if betas is None:
        return torch.zeros(NUM_BETAS, dtype=torch.float64)
    b = torch.as_tensor(betas, dtype=torch.float64)
    if b.dim() == 0 or b.shape[-1] < NUM_BETAS:
        raise ValueError(f"betas must have shape (..., {NUM_BETAS}) (more are truncated), got {tuple(b.shape)}")
    check_finite(b, "betas")
    return b[..., :NUM_BETAS]


def rest_joints(betas: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Rest joint positions for shape ``betas`` (..., 10) -> (..., 22, 3), float64, metres.

    Coordinates are SMPL-X model coordinates (pelvis near y = -0.35).
    """
    cal = load_calibration()
    b = _betas(betas)
    rest = torch.from_numpy(cal.joint_rest)
    dirs = torch.from_numpy(cal.joint_dirs)
    return rest + torch.einsum("jck,...k->...jc", dirs, b)


def floor_height(betas: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Height of the lowest sole point at rest, in the same coordinates as :func:`rest_joints`."""
    cal = load_calibration()
    b = _betas(betas)
    soles = torch.from_numpy(cal.sole_y_rest) + b @ torch.from_numpy(cal.sole_y_dirs).T
    return soles.amin(-1)


def bone_offsets(betas: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Per-joint offsets from the parent at rest, (..., 22, 3); the root row is zero."""
    J = rest_joints(betas)
    parents = torch.tensor((0, *PARENTS[1:]))
    off = J - J[..., parents, :]
    off[..., 0, :] = 0.0
    return off


def smplx_transl_to_root(transl: torch.Tensor, betas: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """``smplx``'s ``transl`` (..., 3) -> pelvis world position (..., 3): ``J_0(betas) + transl``."""
    return transl + rest_joints(betas)[..., 0, :].to(transl)


def root_to_smplx_transl(root: torch.Tensor, betas: torch.Tensor | np.ndarray | None = None) -> torch.Tensor:
    """Inverse of :func:`smplx_transl_to_root`."""
    return root - rest_joints(betas)[..., 0, :].to(root)


@dataclass(frozen=True)
class Skeleton:
    """One body: its shape coefficients and the derived rest geometry.

    ``Skeleton()`` is the SMPL-X neutral body (betas = 0).
    """

    betas: tuple[float, ...] = field(default=(0.0,) * NUM_BETAS)

    def __post_init__(self) -> None:
        if len(self.betas) != NUM_BETAS:
            raise ValueError(f"betas must have {NUM_BETAS} values, got {len(self.betas)}")

    @classmethod
    def from_betas(cls, betas: np.ndarray | torch.Tensor | list[float]) -> Skeleton:
        b = _betas(betas)
        if b.dim() != 1:
            raise ValueError(f"betas must have shape (10,), got {tuple(b.shape)}")
        return cls(tuple(float(x) for x in b))

    @property
    def betas_tensor(self) -> torch.Tensor:
        return torch.tensor(self.betas, dtype=torch.float64)

    def rest_joints(self) -> torch.Tensor:
        """(22, 3) rest joints, SMPL-X model coordinates."""
        return rest_joints(self.betas_tensor)

    def offsets(self, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
        """(22, 3) bone offsets from the parent joint."""
        return bone_offsets(self.betas_tensor).to(dtype=dtype, device=device)

    def standing_root_height(self) -> float:
        """Pelvis height above the floor when standing in the rest pose (metres)."""
        return float(self.rest_joints()[0, 1] - floor_height(self.betas_tensor))

    def rest_pose_joints(self) -> torch.Tensor:
        """(22, 3) rest joints standing on the floor (y = 0) with the pelvis above the origin."""
        J = self.rest_joints()
        shift = torch.stack([J[0, 0], floor_height(self.betas_tensor), J[0, 2]])
        return J - shift


# ---------------------------------------------------------------- forward kinematics


def _levels() -> list[tuple[list[int], list[int]]]:
    depth = joint_depths()
    out = []
    for d in range(1, max(depth) + 1):
        idx = [j for j in range(NUM_JOINTS) if depth[j] == d]
        out.append((idx, [PARENTS[j] for j in idx]))
    return out


_LEVELS = _levels()


def forward_kinematics_transforms(
    local_rot: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Global rotations (..., 22, 3, 3) and positions (..., 22, 3) of every joint.

    Args:
        local_rot: (..., 22, 3, 3) rotation of each joint relative to its parent;
            row 0 is the root's global orientation.
        root_pos: (..., 3) pelvis world position.
        offsets: (22, 3) or (B, 22, 3) bone offsets (:func:`bone_offsets`); a
            batched one broadcasts against the leading dimension of ``local_rot``.
    """
    if local_rot.dim() < 2 or tuple(local_rot.shape[-3:]) != (NUM_JOINTS, 3, 3):
        raise ValueError(f"local_rot must have shape (..., 22, 3, 3), got {tuple(local_rot.shape)}")
    if tuple(root_pos.shape) != tuple(local_rot.shape[:-3]) + (3,):
        raise ValueError(
            f"root_pos must have shape {tuple(local_rot.shape[:-3]) + (3,)} to match local_rot, "
            f"got {tuple(root_pos.shape)}"
        )
    if offsets.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"offsets must have shape (22, 3) or (B, 22, 3), got {tuple(offsets.shape)}")
    offsets = offsets.to(local_rot)
    # Line up a per-sequence offset (B, 22, 3) with (B, T, ..., 22, 3, 3).
    while offsets.dim() > 2 and offsets.dim() < local_rot.dim() - 1:
        offsets = offsets.unsqueeze(1)
    rots: list[torch.Tensor | None] = [None] * NUM_JOINTS
    pos: list[torch.Tensor | None] = [None] * NUM_JOINTS
    rots[0] = local_rot[..., 0, :, :]
    pos[0] = root_pos
    for idx, par in _LEVELS:
        parent_rot = torch.stack([rots[p] for p in par], dim=-3)  # (..., n, 3, 3)
        parent_pos = torch.stack([pos[p] for p in par], dim=-2)  # (..., n, 3)
        child_rot = parent_rot @ local_rot[..., idx, :, :]
        child_pos = parent_pos + (parent_rot @ offsets[..., idx, :, None]).squeeze(-1)
        for k, j in enumerate(idx):
            rots[j] = child_rot[..., k, :, :]
            pos[j] = child_pos[..., k, :]
    return torch.stack(rots, dim=-3), torch.stack(pos, dim=-2)


def forward_kinematics(local_rot: torch.Tensor, root_pos: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Joint positions (..., 22, 3) from local rotations (..., 22, 3, 3) and root positions (..., 3).

    Batched over any leading dimensions, differentiable. See
    :func:`forward_kinematics_transforms` for the argument shapes.
    """
    return forward_kinematics_transforms(local_rot, root_pos, offsets)[1]


#: (joint, child along the bone, joint whose orientation must be kept) for :func:`twist_limbs`.
TWIST_BONES: tuple[tuple[int, int, int | None], ...] = ((18, 20, None), (19, 21, None), (4, 7, 7), (5, 8, 8))


def twist_limbs(local_rot: torch.Tensor, angle: torch.Tensor, skeleton: Skeleton | None = None) -> torch.Tensor:
    """Roll the forearms and shins about their own bone axis without moving any joint.

    The elbows roll about elbow->wrist and the knees about knee->ankle. The wrists are
    leaves, so an elbow roll moves no joint; a knee roll would swing the toes about
    the ankle, so the ankle gets the opposite roll and keeps its global orientation.
    This is the information a joint-position feature (HumanML3D-263) cannot hold.

    Args:
        local_rot: (..., T, 22, 3, 3); angle: (T,) or broadcastable roll in radians.
    Returns:
        (..., T, 22, 3, 3) rotations whose FK joints equal those of ``local_rot``.
    """
    off = (skeleton or Skeleton()).offsets(local_rot.dtype, local_rot.device)
    angle = torch.as_tensor(angle, dtype=local_rot.dtype, device=local_rot.device)
    out = local_rot.clone()
    for joint, child, keep in TWIST_BONES:
        axis = off[child] / off[child].norm()
        roll = axis_angle_to_matrix(angle[..., None] * axis)  # (T, 3, 3), in the joint's own frame
        out[..., joint, :, :] = out[..., joint, :, :] @ roll
        if keep is not None:
            out[..., keep, :, :] = roll.transpose(-1, -2) @ out[..., keep, :, :]
    return out
