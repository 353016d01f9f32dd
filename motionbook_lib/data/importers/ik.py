"""Joint positions -> local rotations on the 22-joint skeleton: body-shape fit + analytic swing IK.

Shared by the HumanML3D and BVH importers. Two steps:

1. :func:`fit_betas`: the 10 shape coefficients whose rest skeleton best matches the observed
   bone lengths (median over frames) and the widths of the two rigid joint groups (hips/spine
   under the pelvis, neck/collars under spine3). Rest joints are linear in betas, so this is a
   small bounded Gauss-Newton least squares problem.
2. :func:`ik_from_positions`: joints are solved parent first. A joint with one child gets the
   *swing* (minimal rotation, relative to its parent's frame) taking its rest bone to the observed
   bone; the pelvis and spine3, which have several children, get the rotation that best aligns all
   their child bones (Kabsch). Leaves keep their parent's orientation (identity local rotation).

Positions cannot tell how a bone is rolled about its own axis, so the twist of every one-child
bone is the minimal one (as HumanML3D's own IK); FK of the result passes through every observed
joint up to the bone-length mismatch, which :class:`IKResult` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionbook_lib.skeleton import (
    NUM_BETAS,
    NUM_JOINTS,
    PARENTS,
    bone_offsets,
    forward_kinematics,
    joint_depths,
    load_calibration,
    rest_joints,
)

__all__ = ["IKResult", "fit_betas", "fit_scale_and_betas", "ik_from_positions", "rotation_between"]

CHILDREN: tuple[tuple[int, ...], ...] = tuple(
    tuple(c for c in range(1, NUM_JOINTS) if PARENTS[c] == j) for j in range(NUM_JOINTS)
)
#: Joint pairs of the two rigid groups whose distances also constrain the shape fit.
_GROUP_PAIRS: tuple[tuple[int, int], ...] = ((1, 2), (1, 3), (2, 3), (12, 13), (12, 14), (13, 14))
_ORDER: tuple[int, ...] = tuple(sorted(range(NUM_JOINTS), key=lambda j: (joint_depths()[j], j)))


@dataclass
class IKResult:
    """Local rotations fitted to joint positions, and how well their FK reproduces them."""

    local_rot: torch.Tensor  # (T, 22, 3, 3) float32
    root_pos: torch.Tensor  # (T, 3) float32
    betas: np.ndarray  # (10,) float32
    joint_error: torch.Tensor  # (T, 22) metres; 0 where a joint had no measurement
    measured: torch.Tensor | None = None  # (22,) bool, joints counted in the error

    @property
    def mean_error(self) -> float:
        """Mean joint error (metres) over measured joints and frames."""
        return float(self._measured().mean()) if self._measured().numel() else 0.0

    @property
    def max_error(self) -> float:
        """Largest joint error (metres)."""
        return float(self.joint_error.max()) if self.joint_error.numel() else 0.0

    def _measured(self) -> torch.Tensor:
        m = self.measured if self.measured is not None else torch.ones(NUM_JOINTS, dtype=torch.bool)
        return self.joint_error[:, m]


#: Limb bones and the hip width: the distances that mean the same on any humanoid rig.
LIMB_PAIRS: tuple[tuple[int, int], ...] = tuple((PARENTS[j], j) for j in (4, 5, 7, 8, 10, 11, 18, 19, 20, 21)) + (
    (1, 2),
)


def _pairs(measured: np.ndarray, pairs: tuple[tuple[int, int], ...] | None = None) -> list[tuple[int, int]]:
    if pairs is None:
        pairs = (*((PARENTS[j], j) for j in range(1, NUM_JOINTS)), *_GROUP_PAIRS)
    return [(a, b) for a, b in pairs if measured[a] and measured[b]]


def fit_betas(
    positions: np.ndarray | torch.Tensor,
    measured: np.ndarray | None = None,
    bound: float = 3.0,
    reg: float = 1e-7,
    iters: int = 30,
    pairs: tuple[tuple[int, int], ...] | None = None,
) -> np.ndarray:
    """Shape coefficients (10,) whose rest distances match the observed ones.

    Args:
        positions: (T, 22, 3) joint positions in metres.
        measured: (22,) bool, joints that were observed (others are ignored).
        bound: every beta is kept within [-bound, bound].
        reg: Tikhonov weight pulling betas toward 0 (metres^2 per unit beta^2).
        pairs: joint pairs whose distances are matched (default: every bone and the widths of the
            pelvis and spine3 groups; :data:`LIMB_PAIRS` for rigs whose spine differs from ours).
    Returns:
        (10,) float64 betas.
    """
    pos = torch.as_tensor(positions).double().numpy()  # (T, 22, 3)
    m = np.ones(NUM_JOINTS, bool) if measured is None else np.asarray(measured, bool)
    pairs = _pairs(m, pairs)
    if not pairs:
        return np.zeros(NUM_BETAS)
    a, b = np.array(pairs).T
    target = np.median(np.linalg.norm(pos[:, b] - pos[:, a], axis=-1), axis=0)  # (P,)
    cal = load_calibration()
    v0 = cal.joint_rest[b] - cal.joint_rest[a]  # (P, 3)
    dv = cal.joint_dirs[b] - cal.joint_dirs[a]  # (P, 3, 10)
    beta = np.zeros(NUM_BETAS)
    for _ in range(iters):
        v = v0 + dv @ beta  # (P, 3)
        n = np.maximum(np.linalg.norm(v, axis=-1), 1e-9)
        r = np.concatenate([n - target, np.sqrt(reg) * beta])
        J = np.concatenate([np.einsum("pc,pck->pk", v / n[:, None], dv), np.sqrt(reg) * np.eye(NUM_BETAS)])
        step = np.linalg.lstsq(J, -r, rcond=None)[0]
        beta = np.clip(beta + step, -bound, bound)
        if np.abs(step).max() < 1e-7:
            break
    return beta


#: Thigh and shin bones (joint whose parent bone it is), both sides.
_LEG_BONES: tuple[int, ...] = (4, 5, 7, 8)


def _leg_length(lengths: np.ndarray) -> float:
    return float(np.mean([lengths[4] + lengths[7], lengths[5] + lengths[8]]))


def _pair_residual(pos: np.ndarray, measured: np.ndarray, betas: np.ndarray) -> float:
    """Largest |rest distance - observed median distance| over all bones and group widths (metres)."""
    pairs = _pairs(measured)
    if not pairs:
        return 0.0
    a, b = np.array(pairs).T
    target = np.median(np.linalg.norm(pos[:, b] - pos[:, a], axis=-1), axis=0)
    rest = rest_joints(torch.from_numpy(betas)).numpy()
    return float(np.abs(np.linalg.norm(rest[b] - rest[a], axis=-1) - target).max())


def fit_scale_and_betas(
    positions: np.ndarray | torch.Tensor,
    measured: np.ndarray | None = None,
    bound: float = 3.0,
    same_body_tol: float = 0.005,
    tolerance: float = 0.01,
) -> tuple[float, np.ndarray]:
    """(scale, betas) for retargeting a skeleton that may have other proportions than ours.

    First betas are fitted to every bone length; if they reproduce all of them within
    ``same_body_tol`` metres the skeleton is an SMPL-X body and (1, betas) is returned. Otherwise
    (another rig: other spine, neck, collar layout) betas are fitted to the limbs and hip width
    only (:data:`LIMB_PAIRS`), and when the fitted legs (thigh + shin) still differ from the
    observed ones by more than ``tolerance`` (relative), the positions are to be scaled by the
    leg-length ratio (feet meet the floor, strides match our legs) and betas refitted.
    """
    pos = torch.as_tensor(positions).double().numpy()  # (T, 22, 3)
    m = np.ones(NUM_JOINTS, bool) if measured is None else np.asarray(measured, bool)
    betas = fit_betas(pos, m, bound=bound)
    if _pair_residual(pos, m, betas) <= same_body_tol:
        return 1.0, betas
    betas = fit_betas(pos, m, bound=bound, pairs=LIMB_PAIRS)
    if not all(m[j] and m[PARENTS[j]] for j in _LEG_BONES):
        return 1.0, betas
    observed = np.zeros(NUM_JOINTS)
    for j in _LEG_BONES:
        observed[j] = np.median(np.linalg.norm(pos[:, j] - pos[:, PARENTS[j]], axis=-1))
    scale = 1.0
    for _ in range(3):
        ours = bone_offsets(torch.from_numpy(betas)).norm(dim=-1).numpy()
        ratio = _leg_length(ours) / (_leg_length(observed) * scale)
        if abs(ratio - 1) <= tolerance:
            break
        scale *= ratio
        betas = fit_betas(pos * scale, m, bound=bound, pairs=LIMB_PAIRS)
    return scale, betas


def rotation_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Minimal rotation (..., 3, 3) turning direction ``a`` (..., 3) onto direction ``b`` (..., 3).

    Antiparallel vectors turn by 180 degrees about an axis perpendicular to ``a``; a zero
    vector gives the identity.
    """
    a, b = torch.broadcast_tensors(a, b)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    degenerate = ((na < 1e-12) | (nb < 1e-12))[..., 0]
    a = a / na.clamp_min(1e-12)
    b = b / nb.clamp_min(1e-12)
    c = torch.linalg.cross(a, b, dim=-1)
    d = (a * b).sum(-1)
    x, y, z = c.unbind(-1)
    o = torch.zeros_like(x)
    K = torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*c.shape, 3)
    eye = torch.eye(3, dtype=a.dtype, device=a.device).expand(K.shape)
    opposite = d < -1 + 1e-9
    R = eye + K + (K @ K) / (1 + d).clamp_min(1e-9)[..., None, None]
    # 180 degrees about p perpendicular to a: 2 p p^T - I
    helper = torch.where(
        (a[..., :1].abs() < 0.9),
        torch.tensor([1.0, 0.0, 0.0], dtype=a.dtype),
        torch.tensor([0.0, 1.0, 0.0], dtype=a.dtype),
    )
    p = torch.linalg.cross(a, helper, dim=-1)
    p = p / p.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    flip = 2 * p[..., :, None] * p[..., None, :] - eye
    R = torch.where(opposite[..., None, None], flip, R)
    return torch.where(degenerate[..., None, None], eye, R)


def _kabsch(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Rotation (T, 3, 3) minimising sum_k |R src_k - dst_tk|^2; src (K, 3), dst (T, K, 3)."""
    H = torch.einsum("kc,tkd->tcd", src, dst)  # (T, 3, 3) = sum_k src_k dst_k^T
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    det = torch.linalg.det(V @ U.transpose(-1, -2))
    D = torch.diag_embed(torch.stack([torch.ones_like(det), torch.ones_like(det), det.sign()], -1))
    return V @ D @ U.transpose(-1, -2)


def ik_from_positions(
    positions: np.ndarray | torch.Tensor,
    betas: np.ndarray | None = None,
    has_target: np.ndarray | None = None,
    measured: np.ndarray | None = None,
    fit_shape: bool = True,
    betas_bound: float = 3.0,
) -> IKResult:
    """Fit local rotations of our skeleton to joint positions (Y up, metres).

    Args:
        positions: (T, 22, 3) target joints in our joint order; row 0 (pelvis) becomes the root.
        betas: (10,) body shape; None fits it to the bone lengths (``fit_shape``) or uses zeros.
        has_target: (22,) bool, joints whose position constrains the fit (default all);
            a joint without a target gets no rotation toward it (identity local rotation of its
            parent when it is the only child).
        measured: (22,) bool, joints counted in the error and the shape fit (default ``has_target``).
    Returns:
        :class:`IKResult` with float32 rotations and root positions.
    """
    X = torch.as_tensor(positions).double()  # (T, 22, 3)
    if X.dim() != 3 or tuple(X.shape[1:]) != (NUM_JOINTS, 3):
        raise ValueError(f"positions must have shape (T, 22, 3), got {tuple(X.shape)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("positions contain NaN or inf")
    tgt = np.ones(NUM_JOINTS, bool) if has_target is None else np.asarray(has_target, bool)
    meas = tgt.copy() if measured is None else np.asarray(measured, bool) & tgt
    tgt[0] = meas[0] = True
    if betas is None:
        betas = fit_betas(X, meas, bound=betas_bound) if fit_shape else np.zeros(NUM_BETAS)
    betas = np.asarray(betas, np.float64)
    off = bone_offsets(torch.from_numpy(betas))  # (22, 3) float64
    T = X.shape[0]
    eye = torch.eye(3, dtype=torch.float64).expand(T, 3, 3)
    local: list[torch.Tensor] = [eye] * NUM_JOINTS
    glob: list[torch.Tensor] = [eye] * NUM_JOINTS
    for j in _ORDER:
        parent_rot = eye if j == 0 else glob[PARENTS[j]]
        kids = [c for c in CHILDREN[j] if tgt[c]]
        if kids:
            want = X[:, kids] - X[:, j : j + 1]  # (T, K, 3) world
            want = torch.einsum("tji,tkj->tki", parent_rot, want)  # into the parent's frame
            if len(kids) == 1:
                local[j] = rotation_between(off[kids[0]].expand(T, 3), want[:, 0])
            else:
                local[j] = _kabsch(off[kids], want)
        glob[j] = parent_rot @ local[j]
    local_rot = torch.stack(local, dim=1)  # (T, 22, 3, 3)
    root = X[:, 0]
    fk = forward_kinematics(local_rot, root, off)  # (T, 22, 3)
    err = (fk - X).norm(dim=-1) * torch.from_numpy(meas).double()
    return IKResult(local_rot.float(), root.float(), betas.astype(np.float32), err.float(), torch.from_numpy(meas))
