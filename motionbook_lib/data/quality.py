"""Measurable motion-quality metrics: foot skating, ground penetration, joint limits, cadence, knee flexion.

Used by the synthetic-corpus tests and later to evaluate generated motions. Every function takes numpy
arrays or torch tensors (Y up, metres, the 22-joint skeleton of :mod:`motionbook_lib.skeleton`).

Joint angles are measured by a swing-twist split of each local rotation, which has no gimbal lock in
the working range of any joint: the *twist* is the rotation about the joint's bone axis (X for the
arms, Y for the legs and spine, Z for the feet), the *swing* is the remaining rotation about an axis
perpendicular to it, written as a rotation vector. :func:`swing_twist_angles` returns, per joint,
three numbers in degrees, one per local axis: the twist on the bone axis and the two swing
components on the other two. :data:`JOINT_LIMITS` bounds those three numbers per joint.

Sign conventions that follow (rest pose: a T-pose facing +Z, left = +X):

- knee flexion is +X (the shin swings back); hip flexion is -X (the thigh swings forward);
- ankle plantarflexion (toes down) is +X; spine forward bend is +X; spine twist to the left is +Y;
- left elbow flexion is -Y, right elbow flexion is +Y; left shoulder raising the arm is +Z, forward -Y.

Right-side limits are the mirror image of the left ones: a rotation vector (x, y, z) mirrors to (x, -y, -z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionbook_lib.skeleton import JOINT_NAMES, LEFT_FOOT, NUM_JOINTS, RIGHT_FOOT

__all__ = [
    "HELD_POSE_SHARE",
    "JOINT_LIMITS",
    "STATIC_SPEED",
    "JointLimit",
    "TWIST_AXIS",
    "cadence",
    "foot_contacts",
    "foot_skating",
    "ground_penetration",
    "is_held_pose",
    "joint_limit_violations",
    "knee_flexion",
    "root_speed",
    "static_share",
    "swing_twist_angles",
]

FOOT_JOINTS: tuple[int, int, int, int] = (LEFT_FOOT[0], LEFT_FOOT[1], RIGHT_FOOT[0], RIGHT_FOOT[1])

#: Bone axis (0 = X, 1 = Y, 2 = Z) about which each joint's twist is measured.
TWIST_AXIS: tuple[int, ...] = (
    1,  # pelvis
    1, 1, 1,  # hips, spine1
    1, 1, 1,  # knees, spine2
    2, 2, 1,  # ankles, spine3
    2, 2, 1,  # feet (toes), neck
    0, 0, 1,  # collars, head
    0, 0,  # shoulders
    0, 0,  # elbows
    0, 0,  # wrists
)  # fmt: skip


@dataclass(frozen=True)
class JointLimit:
    """Allowed range (degrees) of the swing-twist angles (x, y, z) of one joint."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    def mirrored(self) -> JointLimit:
        """The same limit for the other side of the body: (x, y, z) -> (x, -y, -z)."""
        return JointLimit(
            (self.lo[0], -self.hi[1], -self.hi[2]),
            (self.hi[0], -self.lo[1], -self.lo[2]),
        )


# Left-side and central joints; right-side limits are mirrored below. Ranges are generous anatomical
# ranges of motion (a little wider than textbook active ranges), not comfortable ones.
_LEFT_LIMITS: dict[str, JointLimit] = {
    "left_hip": JointLimit((-135.0, -50.0, -35.0), (35.0, 50.0, 55.0)),  # flex -X, twist Y, abduct +Z
    "spine1": JointLimit((-30.0, -35.0, -35.0), (50.0, 35.0, 35.0)),
    "left_knee": JointLimit((0.0, -20.0, -10.0), (150.0, 20.0, 10.0)),  # flexion +X, no hyperextension
    "spine2": JointLimit((-30.0, -35.0, -35.0), (50.0, 35.0, 35.0)),
    "left_ankle": JointLimit((-45.0, -35.0, -35.0), (55.0, 35.0, 35.0)),  # plantarflexion +X
    "spine3": JointLimit((-30.0, -35.0, -35.0), (50.0, 35.0, 35.0)),
    "left_foot": JointLimit((-60.0, -20.0, -20.0), (40.0, 20.0, 20.0)),
    "neck": JointLimit((-50.0, -60.0, -45.0), (60.0, 60.0, 45.0)),
    "left_collar": JointLimit((-30.0, -30.0, -20.0), (30.0, 30.0, 40.0)),
    "head": JointLimit((-45.0, -60.0, -40.0), (45.0, 60.0, 40.0)),
    "left_shoulder": JointLimit((-120.0, -150.0, -110.0), (120.0, 80.0, 115.0)),  # twist X, fwd -Y, up +Z
    "left_elbow": JointLimit((-90.0, -150.0, -15.0), (90.0, 0.0, 15.0)),  # flexion -Y, 0..150 deg
    "left_wrist": JointLimit((-90.0, -80.0, -60.0), (90.0, 80.0, 60.0)),
}


def _build_limits() -> dict[int, JointLimit]:
    out: dict[int, JointLimit] = {}
    for name, lim in _LEFT_LIMITS.items():
        out[JOINT_NAMES.index(name)] = lim
        if name.startswith("left_"):
            out[JOINT_NAMES.index("right_" + name[5:])] = lim.mirrored()
    return dict(sorted(out.items()))


#: Joint index -> allowed swing-twist angles (degrees). The pelvis (global orientation) has no limit.
JOINT_LIMITS: dict[int, JointLimit] = _build_limits()


# ---------------------------------------------------------------- helpers


def _np(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN/inf values (shape {x.shape})")
    return x


def _check_joints(joints: np.ndarray) -> None:
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, 22, 3), got {joints.shape}")


def matrix_to_quaternion_np(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z) with w >= 0 (numpy, float64)."""
    m = R
    diag = np.stack(
        [
            1 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2],
            1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
        ],
        axis=-1,
    )
    best = np.argmax(diag, axis=-1)
    s = 2.0 * np.sqrt(np.maximum(np.take_along_axis(diag, best[..., None], -1)[..., 0], 1e-12))  # 4|q_best|
    m21, m12, m02, m20, m10, m01 = m[..., 2, 1], m[..., 1, 2], m[..., 0, 2], m[..., 2, 0], m[..., 1, 0], m[..., 0, 1]
    cands = np.stack(
        [
            np.stack([s * s / 4, m21 - m12, m02 - m20, m10 - m01], -1),
            np.stack([m21 - m12, s * s / 4, m10 + m01, m02 + m20], -1),
            np.stack([m02 - m20, m10 + m01, s * s / 4, m12 + m21], -1),
            np.stack([m10 - m01, m20 + m02, m21 + m12, s * s / 4], -1),
        ],
        axis=-2,
    )  # (..., 4, 4)
    q = np.take_along_axis(cands, best[..., None, None].repeat(4, -1), -2)[..., 0, :] / s[..., None]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def swing_twist_angles(local_rot: np.ndarray | torch.Tensor) -> np.ndarray:
    """Local rotations (..., 22, 3, 3) -> swing-twist angles (..., 22, 3) in degrees.

    For joint j with bone axis k = ``TWIST_AXIS[j]``, component k is the twist about axis k (in
    (-180, 180]) and the other two components are the swing rotation vector (perpendicular to axis k).
    """
    R = _np(local_rot, "local_rot")
    if R.ndim < 3 or R.shape[-3:] != (NUM_JOINTS, 3, 3):
        raise ValueError(f"local_rot must have shape (..., 22, 3, 3), got {R.shape}")
    q = matrix_to_quaternion_np(R)  # (..., 22, 4)
    axis = np.array(TWIST_AXIS)
    onehot = np.eye(3)[axis]  # (22, 3)
    w, v = q[..., 0], q[..., 1:]
    vk = (v * onehot).sum(-1)  # (..., 22)
    twist = 2.0 * np.arctan2(vk, w)  # w >= 0 -> (-pi, pi)
    n = np.sqrt(w * w + vk * vk)
    ok = n > 1e-9
    tw_w = np.where(ok, w / np.where(ok, n, 1.0), 1.0)
    tw_k = np.where(ok, vk / np.where(ok, n, 1.0), 0.0)
    # swing = q * conj(twist); twist = (tw_w, tw_k e_k)
    sw_w = w * tw_w + vk * tw_k
    e = np.broadcast_to(onehot, v.shape)
    sw_v = tw_w[..., None] * v - (w * tw_k)[..., None] * e - tw_k[..., None] * np.cross(v, e)
    sw_n = np.linalg.norm(sw_v, axis=-1)
    angle = 2.0 * np.arctan2(sw_n, np.abs(sw_w))
    sign = np.where(sw_w < 0, -1.0, 1.0)
    scale = np.where(sw_n > 1e-12, angle / np.maximum(sw_n, 1e-12), 2.0)
    swing = sw_v * (sign * scale)[..., None]
    out = swing * (1.0 - onehot) + twist[..., None] * onehot
    return np.degrees(out)


# ---------------------------------------------------------------- joint angles


def knee_flexion(local_rot: np.ndarray | torch.Tensor) -> np.ndarray:
    """Knee flexion (T, 2) in degrees, [left, right]; 0 = straight, positive = bent, negative = hyperextended."""
    ang = swing_twist_angles(local_rot)
    return ang[..., [4, 5], 0]


def elbow_flexion(local_rot: np.ndarray | torch.Tensor) -> np.ndarray:
    """Elbow flexion (T, 2) in degrees, [left, right]; 0 = straight, positive = bent."""
    ang = swing_twist_angles(local_rot)
    return np.stack([-ang[..., 18, 1], ang[..., 19, 1]], axis=-1)


def joint_limit_violations(
    local_rot: np.ndarray | torch.Tensor, limits: dict[int, JointLimit] | None = None, tol_deg: float = 0.5
) -> dict[str, object]:
    """How often and how far local rotations (T, 22, 3, 3) leave :data:`JOINT_LIMITS`.

    Returns a dict: ``fraction`` (share of frames x limited joints with any angle more than
    ``tol_deg`` outside its range), ``worst_deg`` (largest excess, degrees), ``worst_joint`` (its name or
    None) and ``per_joint`` (joint name -> fraction of frames violating).
    """
    limits = JOINT_LIMITS if limits is None else limits
    ang = swing_twist_angles(local_rot)
    if ang.ndim == 2:
        ang = ang[None]
    idx = np.array(sorted(limits))
    lo = np.array([limits[j].lo for j in idx])
    hi = np.array([limits[j].hi for j in idx])
    a = ang[..., idx, :]  # (T, J, 3)
    excess = np.maximum(lo - a, 0.0) + np.maximum(a - hi, 0.0)
    worst_per = excess.max(-1)  # (T, J)
    bad = worst_per > tol_deg
    worst = float(worst_per.max()) if worst_per.size else 0.0
    worst_joint = (
        JOINT_NAMES[int(idx[np.unravel_index(worst_per.argmax(), worst_per.shape)[-1]])] if worst > 0 else None
    )
    return {
        "fraction": float(bad.mean()) if bad.size else 0.0,
        "worst_deg": worst,
        "worst_joint": worst_joint,
        "per_joint": {JOINT_NAMES[int(j)]: float(bad[:, k].mean()) for k, j in enumerate(idx)},
    }


# ---------------------------------------------------------------- contacts, skating, penetration


def _clearance(joints: np.ndarray, foot_joints: tuple[int, ...], clearance: np.ndarray | None) -> np.ndarray:
    """Per-foot-joint height above the floor when planted: given, or the 2nd percentile over the clip."""
    if clearance is not None:
        c = np.asarray(clearance, dtype=np.float64).reshape(-1)
        if c.shape != (len(foot_joints),):
            raise ValueError(f"clearance must have {len(foot_joints)} values (one per foot joint), got {c.shape}")
        return c
    y = joints[:, list(foot_joints), 1]
    return np.clip(np.percentile(y, 2, axis=0), 0.0, 0.15)


def foot_contacts(
    joints: np.ndarray | torch.Tensor,
    fps: float,
    contact_height: float = 0.05,
    contact_speed: float = 0.6,
    clearance: np.ndarray | None = None,
) -> np.ndarray:
    """(T, 2) bool [left, right]: a foot is in contact when its ankle or toe joint is within
    ``contact_height`` m of its planted height (``clearance``) and moves slower than ``contact_speed`` m/s."""
    J = _np(joints, "joints")
    _check_joints(J)
    c = _clearance(J, FOOT_JOINTS, clearance)
    y = J[:, list(FOOT_JOINTS), 1] - c  # (T, 4)
    xz = J[:, list(FOOT_JOINTS)][..., [0, 2]]
    sp = np.zeros_like(y)
    if J.shape[0] > 1:
        step = np.linalg.norm(np.diff(xz, axis=0), axis=-1) * fps
        sp[1:-1] = np.minimum(step[1:], step[:-1])
        sp[0], sp[-1] = step[0], step[-1]
    low = (y < contact_height) & (sp < contact_speed)
    return np.stack([low[:, 0] | low[:, 1], low[:, 2] | low[:, 3]], axis=-1)


def foot_skating(
    joints: np.ndarray | torch.Tensor,
    fps: float,
    contact_height: float = 0.05,
    slide_speed: float = 0.25,
    clearance: np.ndarray | None = None,
    mode: str = "foot",
) -> dict[str, float]:
    """Horizontal motion of the feet where they touch the ground.

    Heights are measured above each foot joint's planted height (``clearance``: (4,) m for left ankle,
    left toe, right ankle, right toe; default: each joint's 2nd-percentile height over the clip).
    With ``mode="foot"`` (default) a foot touches the ground through whichever of its joints are
    below ``contact_height`` at frames t and t+1, and slides at the speed of the slowest of them: a heel
    rising about the planted ball of the foot is a roll, not a slide. With ``mode="all"`` every foot
    joint below ``contact_height`` counts on its own (the rising heel then counts as sliding).

    Returns ``mean_speed`` (m/s over contact samples), ``slide_fraction`` (share of them faster than
    ``slide_speed`` m/s) and ``n_contact`` (number of samples).
    """
    J = _np(joints, "joints")
    _check_joints(J)
    if mode not in ("foot", "all"):
        raise ValueError(f"mode must be 'foot' or 'all', got {mode!r}")
    if J.shape[0] < 2:
        return {"mean_speed": 0.0, "slide_fraction": 0.0, "n_contact": 0}
    c = _clearance(J, FOOT_JOINTS, clearance)
    f = J[:, list(FOOT_JOINTS)]  # (T, 4, 3)
    h = f[..., 1] - c
    speed = np.linalg.norm(np.diff(f[..., [0, 2]], axis=0), axis=-1) * fps  # (T-1, 4)
    if mode == "all":
        low = h < contact_height
        contact = low[1:] & low[:-1]
        s = speed[contact]
    else:
        samples = []
        for a, b in ((0, 1), (2, 3)):
            low = (h[:-1, [a, b]] < contact_height) & (h[1:, [a, b]] < contact_height)  # (T-1, 2)
            sp = np.where(low, speed[:, [a, b]], np.inf).min(-1)
            samples.append(sp[low.any(-1)])
        s = np.concatenate(samples)
    n = int(s.size)
    if n == 0:
        return {"mean_speed": 0.0, "slide_fraction": 0.0, "n_contact": 0}
    return {"mean_speed": float(s.mean()), "slide_fraction": float((s > slide_speed).mean()), "n_contact": n}


def ground_penetration(
    joints: np.ndarray | torch.Tensor, floor: float = 0.0, clearance: np.ndarray | None = None
) -> dict[str, float]:
    """Depth below the floor of the lowest joint: ``max_depth`` and ``mean_depth`` (m, per-frame maxima).

    ``clearance`` (22,) optionally lifts each joint's floor by its rest height above the sole (a toe
    joint that sits 2 cm above the sole penetrates when it is lower than 2 cm).
    """
    J = _np(joints, "joints")
    _check_joints(J)
    c = np.zeros(NUM_JOINTS) if clearance is None else np.asarray(clearance, dtype=np.float64).reshape(NUM_JOINTS)
    depth = np.maximum(floor + c - J[..., 1], 0.0).max(-1)  # (T,)
    return {"max_depth": float(depth.max()), "mean_depth": float(depth.mean())}


# ---------------------------------------------------------------- gait


def cadence(
    joints: np.ndarray | torch.Tensor,
    fps: float,
    contact_height: float = 0.05,
    contact_speed: float = 0.6,
    clearance: np.ndarray | None = None,
    min_gap: float = 0.2,
) -> float:
    """Steps per minute from foot-contact onsets, NaN without at least two onsets of one foot.

    An onset is a frame where a foot's contact (:func:`foot_contacts`) switches on; onsets of the same
    foot closer than ``min_gap`` seconds are merged. Each foot's onset-to-onset intervals are strides
    (two steps); intervals longer than 1.6 times the median (a missed onset) are dropped and
    cadence = 120 / mean stride (s).
    """
    con = foot_contacts(joints, fps, contact_height, contact_speed, clearance)
    strides: list[float] = []
    for f in range(2):
        c = con[:, f]
        on = np.flatnonzero(c[1:] & ~c[:-1]) + 1
        times: list[float] = []
        for i in on:
            if not times or i / fps - times[-1] >= min_gap:
                times.append(i / fps)
        strides += list(np.diff(times))
    if not strides:
        return float("nan")
    d = np.asarray(strides)
    d = d[d <= 1.6 * np.median(d)]
    return float(120.0 / d.mean())


def root_speed(root_pos: np.ndarray | torch.Tensor, fps: float) -> np.ndarray:
    """Horizontal (XZ) speed of the root, (T-1,) m/s, between consecutive frames."""
    p = _np(root_pos, "root_pos")
    if p.ndim != 2 or p.shape[-1] != 3:
        raise ValueError(f"root_pos must have shape (T, 3), got {p.shape}")
    return np.linalg.norm(np.diff(p[:, [0, 2]], axis=0), axis=-1) * fps


# ---------------------------------------------------------------- static clips

#: A frame is static when its fastest joint moves slower than this (m/s): nothing visibly moves. Quiet standing
#: sways the pelvis by a few cm at about 0.25 Hz (well under 0.05 m/s), any deliberate movement exceeds it.
STATIC_SPEED = 0.05
#: A clip is a held pose when at least this share of its frames is static (the critique of the first MotionLib
#: release: over half of its sequences were one pose repeated).
HELD_POSE_SHARE = 0.9


def static_share(joints: np.ndarray | torch.Tensor, fps: float, speed: float = STATIC_SPEED) -> float:
    """Share of the clip's frame steps in which every joint moves slower than ``speed`` m/s (1.0 for a clip of
    one frame)."""
    j = _np(joints, "joints")
    _check_joints(j)
    if len(j) < 2:
        return 1.0
    fastest = np.linalg.norm(np.diff(j, axis=0), axis=-1).max(-1) * fps  # (T-1,) m/s
    return float((fastest < speed).mean())


def is_held_pose(
    joints: np.ndarray | torch.Tensor, fps: float, speed: float = STATIC_SPEED, share: float = HELD_POSE_SHARE
) -> bool:
    """Whether the clip is a held pose: at least ``share`` of its frames static (:func:`static_share`)."""
    return static_share(joints, fps, speed) >= share
