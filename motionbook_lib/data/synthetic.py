"""Deterministic procedural motion corpus, so that every notebook runs with no downloads.

``generate_motion(index, config)`` builds motion ``index`` from ``numpy.random.default_rng([seed, index])``
alone: any slice of a million-motion corpus can be built on any machine, in any order, and comes out
bit-identical. Each motion is a :class:`~motionbook_lib.motion.Motion` with MotionLib-style hierarchical
text in ``meta`` (a whole-body caption and one line per body part, each with paraphrases).

How a motion is made
--------------------
1. Body: betas ~ N(0, ``betas_std``) clipped to +-``betas_clip``; beta 0 (stature) is then solved so that
   the standing head joint lands at a height drawn from ``head_height`` (it is stored in ``Motion.betas``).
2. Plan: 1-3 segments. Each has a base action (locomotion, whole-body, leg action, or standing) and
   optionally an arm action overlaid on it (walk while waving the right hand). Every segment starts and
   ends standing on both feet, so segments chain without jumps.
3. Each segment writes per-frame *targets*: the pelvis path and tilt, where each foot is (a planted foot
   stays exactly where it was put, rolling about the heel after touch-down and about the ball of the
   foot, then the toe tips, before lift-off; a swinging foot follows a smooth arc with a least toe
   clearance, its ankle angle taken relative to the shank in mid-swing), spine and neck angles, and
   where each wrist should be relative to its shoulder (heading frame).
4. Solve: the pelvis is lowered wherever a planted (or landing) foot would otherwise be out of reach of
   a knee bent at least 5 degrees; closed-form two-bone inverse kinematics then turns foot targets into
   hip, knee and ankle rotations (knee a pure hinge) and wrist targets into shoulder and elbow rotations
   (elbow a pure hinge); a second pass lifts any swinging toe that would scrape the floor. Arm actions
   blend in and out over 0.5 s by moving the wrist target along a spherical Bezier path that leans out
   and forward (so an arm goes from hanging to overhead through the side, never through the body);
   a swinging foot's world pitch and its shank-relative angle are blended by slerp.

Measured on motions 2000-2999 with :mod:`motionbook_lib.data.quality`: no joint outside
:data:`JOINT_LIMITS`, no joint below its rest height above the floor, foot skating 0.006 m/s on average
(at most 0.04 m/s per clip). On single-action clips: walking 1.0-1.55 m/s at 99-123 steps/min with
55-72 degrees (mean 65) of peak knee flexion in swing; jogging 2.0-2.8 m/s and running 3.0-4.0 m/s at
152-179 steps/min with 92-127 degrees; standing head height 1.53-1.76 m.
About 90 motions/s on one core.

Conventions (as in :mod:`motionbook_lib.skeleton`): Y up, metres, a body at rest faces +Z with its left
side at +X. The heading (yaw) is the angle about +Y: 0 faces +Z, +pi/2 faces +X. *Turning left* means
the heading increases, which is counterclockwise seen from above (+Y). "Forward" is the facing
direction ``(sin yaw, 0, cos yaw)``; "walks backwards" means the root moves against it; "to the left"
is ``(cos yaw, 0, -sin yaw)``.

Labels are ``walk, jog, run, walk_backward, side_step_{left,right}, turn_{left,right},
walk_circle_{left,right}`` (locomotion), ``jump, squat, lunge_{left,right}, bow, sit_stand, crouch,
stretch, dance`` (whole body), ``wave_*, punch_*, raise_*, clap, reach_*, throw_*`` (arms; * is
left, right or both) and ``kick_*, knee_raise_*`` (legs), plus ``stand``. "Step up" is realised as a
knee raise: with no platform in the scene a foot cannot stand above the floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from motionbook_lib.data.quality import JOINT_LIMITS, matrix_to_quaternion_np
from motionbook_lib.motion import Motion
from motionbook_lib.skeleton import DEFAULT_FPS, NUM_BETAS, NUM_JOINTS, PARENTS, load_calibration

__all__ = [
    "ACTION_FAMILIES",
    "JOINT_LIMITS",
    "PART_NAMES",
    "SyntheticConfig",
    "generate_corpus",
    "generate_motion",
    "label_family",
]

#: Base actions of each family (labels add a side suffix where it matters).
ACTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "locomotion": ("walk", "jog", "run", "walk_backward", "side_step", "turn", "walk_circle"),
    "whole_body": ("jump", "squat", "lunge", "bow", "sit_stand", "crouch", "stretch", "dance"),
    "arms": ("wave", "punch", "raise", "clap", "reach", "throw"),
    "legs": ("kick", "knee_raise"),
}
#: Body parts that get their own caption lines (MotionLib's hierarchical text).
PART_NAMES: tuple[str, ...] = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")

LEFT, RIGHT = 0, 1
_SIDE = ("left", "right")
_SIGN = np.array([1.0, -1.0])  # +X is the body's left
_M = np.diag([-1.0, 1.0, 1.0])  # mirror left <-> right
_GRAV = 9.81
_BIG = 1e3
_BLEND = 0.5  # seconds over which an arm action blends in or out


def label_family(label: str) -> str:
    """Family ('locomotion', 'whole_body', 'arms', 'legs' or 'stand') of an action label."""
    if label == "stand":
        return "stand"
    for fam, actions in ACTION_FAMILIES.items():
        for a in actions:
            if label == a or label.startswith(a + "_"):
                if a == "walk" and label.startswith(("walk_backward", "walk_circle")):
                    continue
                return fam
    raise ValueError(f"unknown action label {label!r}")


@dataclass
class SyntheticConfig:
    """Settings of the synthetic corpus; every field is JSON-serialisable (recorded by motion stores).

    ``family_weights`` picks the family of each segment (``arms`` = standing with an arm action);
    ``action_weights`` optionally reweights base actions within a family (missing = 1).
    ``overlay_prob`` is the chance that a locomotion or standing segment also gets an arm action.
    """

    fps: float = DEFAULT_FPS
    min_seconds: float = 2.0
    max_seconds: float = 10.0
    betas_std: float = 1.0
    betas_clip: float = 2.5
    head_height: tuple[float, float] = (1.53, 1.76)
    family_weights: dict[str, float] = field(
        default_factory=lambda: {"locomotion": 0.36, "whole_body": 0.32, "arms": 0.2, "legs": 0.12}
    )
    action_weights: dict[str, float] = field(default_factory=dict)
    overlay_prob: float = 0.3
    segment_weights: tuple[float, float, float] = (0.45, 0.35, 0.2)
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not 1.0 <= self.min_seconds <= self.max_seconds:
            raise ValueError(f"need 1 <= min_seconds <= max_seconds, got {self.min_seconds}, {self.max_seconds}")
        if self.max_seconds < 3.0:
            raise ValueError(f"max_seconds must be at least 3 (whole actions need room), got {self.max_seconds}")
        unknown = set(self.family_weights) - set(ACTION_FAMILIES)
        if unknown or not any(w > 0 for w in self.family_weights.values()):
            raise ValueError(
                f"family_weights needs positive weights over {sorted(ACTION_FAMILIES)}, got {self.family_weights}"
            )
        known = {a for acts in ACTION_FAMILIES.values() for a in acts}
        if set(self.action_weights) - known:
            raise ValueError(f"action_weights has unknown actions {sorted(set(self.action_weights) - known)}")
        if len(self.segment_weights) != 3 or min(self.segment_weights) < 0 or sum(self.segment_weights) <= 0:
            raise ValueError(f"segment_weights must be 3 non-negative weights, got {self.segment_weights}")
        lo, hi = self.head_height
        if not 1.2 <= lo <= hi <= 2.0:
            raise ValueError(f"head_height must be a range within [1.2, 2.0] m, got {self.head_height}")


# ---------------------------------------------------------------- small numpy helpers (float64)


def _rx(a: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([i, o, o, o, c, -s, o, s, c], -1).reshape(a.shape + (3, 3))


def _ry(a: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, o, s, o, i, o, -s, o, c], -1).reshape(a.shape + (3, 3))


def _rz(a: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, -s, o, s, c, o, o, o, i], -1).reshape(a.shape + (3, 3))


def _skew(v: np.ndarray) -> np.ndarray:
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = np.zeros_like(x)
    return np.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(v.shape[:-1] + (3, 3))


def _aa(v: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3) -> matrices (..., 3, 3)."""
    v = np.asarray(v, dtype=np.float64)
    th2 = (v * v).sum(-1)[..., None, None]
    small = th2 < 1e-10
    th = np.sqrt(np.where(small, 1.0, th2))
    a = np.where(small, 1 - th2 / 6, np.sin(th) / th)
    b = np.where(small, 0.5 - th2 / 24, (1 - np.cos(th)) / np.where(small, 1.0, th2))
    K = _skew(v)
    return np.eye(3) + a * K + b * (K @ K)


def _axis_rot(axis: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Rotations by angles ``phi`` (...) about one fixed unit ``axis`` (3,) -> (..., 3, 3)."""
    K = _skew(np.asarray(axis, dtype=np.float64))
    s, c = np.sin(phi)[..., None, None], np.cos(phi)[..., None, None]
    return np.eye(3) + s * K + (1 - c) * (K @ K)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _mv(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Matrices (..., 3, 3) times vectors (..., 3)."""
    return (R @ v[..., None])[..., 0]


def _frame(e1: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Orthonormal frame (..., 3, 3) whose columns are e1, the part of v orthogonal to it, and their cross."""
    a = _unit(e1)
    b = _unit(v - (v * a).sum(-1, keepdims=True) * a)
    return np.stack([a, b, np.cross(a, b)], axis=-1)


def _quat_mat(q: np.ndarray) -> np.ndarray:
    q = _unit(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return np.stack(m, -1).reshape(q.shape[:-1] + (3, 3))


def _slerp(R0: np.ndarray, R1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation of rotations (..., 3, 3) with weights w (...) in [0, 1]."""
    q0, q1 = matrix_to_quaternion_np(R0), matrix_to_quaternion_np(R1)
    d = (q0 * q1).sum(-1, keepdims=True)
    q1 = np.where(d < 0, -q1, q1)
    d = np.abs(d)
    th = np.arccos(np.clip(d, -1.0, 1.0))
    s = np.sin(th)
    small = s < 1e-6
    w = w[..., None]
    ss = np.where(small, 1.0, s)
    a = np.where(small, 1 - w, np.sin((1 - w) * th) / ss)
    b = np.where(small, w, np.sin(w * th) / ss)
    return _quat_mat(a * q0 + b * q1)


def _ss(x: np.ndarray | float) -> np.ndarray:
    """Smootherstep (minimum-jerk) 0 -> 1 on [0, 1], clamped outside."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def _ramp(t: np.ndarray, t0: float, dur: float) -> np.ndarray:
    return _ss((t - t0) / max(dur, 1e-6))


def _window(t: np.ndarray, t0: float, t1: float, r: float) -> np.ndarray:
    """0 before t0, ramps to 1 over r, back to 0 over r ending at t1."""
    return _ramp(t, t0, r) * (1.0 - _ramp(t, t1 - r, r))


def _bump(s: np.ndarray, peak: float | np.ndarray) -> np.ndarray:
    """A 0 -> 1 -> 0 arc on s in [0, 1] that peaks at ``peak`` (scalar or per element)."""
    s = np.clip(s, 0.0, 1.0)
    k = math.log(0.5) / np.log(np.clip(peak, 0.05, 0.95))
    return np.sin(np.pi * s**k)


def _keys(t: np.ndarray, times: list[float] | np.ndarray, values: list | np.ndarray) -> np.ndarray:
    """Pose-to-pose interpolation: smootherstep between key values (K, ...) at key times (K,)."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    u = _ss((t - times[i]) / np.maximum(times[i + 1] - times[i], 1e-6))
    u = u.reshape(u.shape + (1,) * (values.ndim - 1))
    return values[i] + (values[i + 1] - values[i]) * u


def _gauss(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    return gaussian_filter1d(x, sigma_frames, axis=0, mode="nearest") if sigma_frames > 0 else x


def _smooth_below(y: np.ndarray, r: int) -> np.ndarray:
    """Smooth y while never exceeding it: a min filter then a triangular average, both of radius r."""
    if r <= 0 or len(y) < 3:
        return y
    p = np.pad(y, r, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(p, 2 * r + 1)
    z = np.pad(win.min(-1), r, mode="edge")
    k = np.concatenate([np.arange(1, r + 2), np.arange(r, 0, -1)]).astype(np.float64)
    k /= k.sum()
    return np.convolve(z, k, mode="valid")


def _fwd(yaw: np.ndarray | float) -> np.ndarray:
    """Facing direction on the floor, (..., 2) as (x, z)."""
    return np.stack([np.sin(yaw), np.cos(yaw)], -1)


def _left(yaw: np.ndarray | float) -> np.ndarray:
    """The body's left on the floor, (..., 2) as (x, z)."""
    return np.stack([np.cos(yaw), -np.sin(yaw)], -1)


def _rot2(yaw: np.ndarray | float, v: np.ndarray) -> np.ndarray:
    """Heading-frame floor vector(s) (..., 2) as (x, z) -> world, turned by yaw."""
    return v[..., :1] * _left(yaw) + v[..., 1:] * _fwd(yaw)


def _wrap(a: np.ndarray | float) -> np.ndarray:
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


# ---------------------------------------------------------------- body geometry


class _Body:
    """Rest geometry of one body (float64), plus the handful of derived lengths the planner needs."""

    def __init__(self, betas: np.ndarray) -> None:
        cal = load_calibration()
        b = np.asarray(betas, dtype=np.float64)
        J = cal.joint_rest + np.einsum("jck,k->jc", cal.joint_dirs, b)
        floor = float((cal.sole_y_rest + cal.sole_y_dirs @ b).min())
        parents = np.array((0, *PARENTS[1:]))
        self.off = J - J[parents]
        self.off[0] = 0.0
        self.rest = J - np.array([J[0, 0], floor, J[0, 2]])
        self.hip = self.off[[1, 2]]
        self.thigh = self.off[[4, 5]]
        self.shank = self.off[[7, 8]]
        self.toe = self.off[[10, 11]]
        self.ankle_h = self.rest[[7, 8], 1]
        self.toe_h = self.rest[[10, 11], 1]
        self.heel = np.array([[0.0, -h, -0.05] for h in self.ankle_h])  # ankle -> heel contact point
        self.foot_xz = self.rest[[7, 8]][:, [0, 2]]  # planted ankle relative to the pelvis, heading frame
        self.arm_u = np.stack([self.off[18], _M @ self.off[19]])  # left-canonical (right arm mirrored)
        self.arm_l = np.stack([self.off[20], _M @ self.off[21]])
        self.h0 = float(self.rest[0, 1])
        self.leg = float(np.linalg.norm(self.thigh, axis=-1).mean() + np.linalg.norm(self.shank, axis=-1).mean())
        self.reach = np.array([self.leg_len(s, math.radians(5.0)) for s in (0, 1)])  # planted: knee >= 5 deg
        self.reach_max = np.array([self.leg_len(s, math.radians(2.0)) for s in (0, 1)])
        hip_xz = self.hip[:, [0, 2]]
        r2 = ((hip_xz - self.foot_xz) ** 2).sum(-1)
        self.h_stand = float(np.min(self.ankle_h - self.hip[:, 1] + np.sqrt(self.reach**2 - r2)))
        self.shoulder_x = float(self.rest[16, 0] - self.rest[9, 0])
        self.torso = float(self.rest[16, 1] - self.rest[0, 1])

    def leg_len(self, side: int, phi: float | np.ndarray) -> np.ndarray:
        """Hip-to-ankle distance with the knee bent by phi (rad)."""
        return np.linalg.norm(self.thigh[side] + _mv(_rx(phi), self.shank[side]), axis=-1)

    def arm_len(self, side: int, e: float | np.ndarray) -> np.ndarray:
        """Shoulder-to-wrist distance with the elbow bent by e (rad)."""
        return np.linalg.norm(self.arm_u[side] + _mv(_ry(-np.asarray(e, dtype=np.float64)), self.arm_l[side]), axis=-1)


def _sample_betas(rng: np.random.Generator, cfg: SyntheticConfig) -> np.ndarray:
    """Shape coefficients (10,) float32; beta 0 is solved for a head height drawn from cfg.head_height."""
    cal = load_calibration()
    b = np.clip(rng.normal(0.0, cfg.betas_std, NUM_BETAS), -cfg.betas_clip, cfg.betas_clip)
    target = rng.uniform(*cfg.head_height)

    def head(bb: np.ndarray) -> float:
        y = cal.joint_rest[15, 1] + cal.joint_dirs[15, 1, :NUM_BETAS] @ bb
        return float(y - (cal.sole_y_rest + cal.sole_y_dirs[:, :NUM_BETAS] @ bb).min())

    b[0] = 0.0
    h0 = head(b)
    b1 = b.copy()
    b1[0] = 1.0
    slope = head(b1) - h0
    b[0] = (target - h0) / slope
    b[0] += (target - head(b)) / slope
    b[0] = np.clip(b[0], -cfg.betas_clip, cfg.betas_clip)
    return b.astype(np.float32)


# ---------------------------------------------------------------- per-segment targets


@dataclass
class _State:
    """Where a segment starts: pelvis floor position, heading, planted feet (ankle floor points) and their yaw."""

    xz: np.ndarray  # (2,)
    yaw: float
    feet: np.ndarray  # (2, 2)
    feet_yaw: np.ndarray  # (2,)


def _standing_state(body: _Body, xz: np.ndarray, yaw: float) -> _State:
    feet = np.stack([xz + _rot2(yaw, body.foot_xz[s]) for s in (0, 1)])
    return _State(np.asarray(xz, dtype=np.float64), float(yaw), feet, np.array([yaw, yaw], dtype=np.float64))


_BALL_ROLL = 0.85  # rad of heel rise about the ball of the foot before rolling onto the toe tips
_TIP = 0.05  # toe tips, m in front of the toe (ball) joint


def _planted(body: _Body, side: int, p: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Ankle position (..., 3) of a foot whose flat-foot ankle floor point is p (..., 2), turned by yaw and
    pitched by ``pitch`` (> 0: heel up, rolling about the ball of the foot, then beyond ``_BALL_ROLL``
    about the toe tips; < 0: toes up, rolling about the heel)."""
    yaw = np.broadcast_to(np.asarray(yaw, dtype=np.float64), p.shape[:-1])
    pitch = np.broadcast_to(np.asarray(pitch, dtype=np.float64), p.shape[:-1])
    Ry = _ry(yaw)
    A0 = np.stack([p[..., 0], np.full(p.shape[:-1], body.ankle_h[side]), p[..., 1]], -1)
    toe, heel = body.toe[side], body.heel[side]
    b = np.broadcast_to(toe, A0.shape)
    p1 = np.minimum(pitch, _BALL_ROLL)
    a_toe = A0 + _mv(Ry, b) - _mv(Ry @ _rx(p1), b)  # rolled about the ball
    tip = np.array([0.0, -body.toe_h[side], _TIP])  # ball -> tip, foot frame
    ball = a_toe + _mv(Ry @ _rx(p1), b)
    tip_w = ball + _mv(Ry @ _rx(p1), np.broadcast_to(tip, A0.shape))
    Gf = Ry @ _rx(pitch)
    a_tip = tip_w - _mv(Gf, b + tip)  # then about the tips
    a_toe = np.where((pitch > _BALL_ROLL)[..., None], a_tip, a_toe)
    hb = np.broadcast_to(heel, A0.shape)
    a_heel = A0 + _mv(Ry, hb) - _mv(Gf, hb)
    return np.where(pitch[..., None] >= 0, a_toe, a_heel)


class _Track:
    """Per-frame targets of one segment (n frames). Arm targets are left-canonical heading-frame vectors
    from the shoulder to the wrist (the right arm is mirrored: +x is always outward)."""

    def __init__(self, body: _Body, n: int, st: _State) -> None:
        self.n = n
        self.pxz = np.tile(st.xz, (n, 1))  # pelvis floor position
        self.y_plan = np.full(n, _BIG)  # wanted pelvis height (lowered where a planted foot needs it)
        self.soft = np.zeros(n)  # extra pelvis drop (knee softness)
        self.yaw = np.full(n, st.yaw)  # heading
        self.pel = np.zeros((n, 3))  # pelvis pitch (+ forward), yaw offset, roll (+ left side up)
        self.spine = np.zeros((n, 3))  # total spine rotation vector: x bend fwd, y twist left, z lean right
        self.neck = np.zeros((n, 3))
        self.ankle = np.zeros((n, 2, 3))
        self.fyaw = np.zeros((n, 2))
        self.fpitch = np.zeros((n, 2))
        self.contact = np.ones((n, 2))
        self.flocal = np.zeros((n, 2))  # swing ankle angle relative to the shank (rad, + toes down)
        self.flocal_w = np.zeros((n, 2))  # its weight against the world foot pitch
        self.fclear = np.zeros((n, 2))  # least toe height above rest while swinging
        self.knee_min = np.full((n, 2), math.radians(5.0))  # least knee bend of a planted leg
        for s in (0, 1):
            self.ankle[:, s] = _planted(body, s, np.tile(st.feet[s], (n, 1)), st.feet_yaw[s], 0.0)
            self.fyaw[:, s] = st.feet_yaw[s]
        hang = _arm_target(body, np.array([0.09, -1.0, 0.03]), math.radians(12))
        self.arm = np.tile(hang, (n, 1, 1))  # (n, 2, 3)
        self.pole = np.tile(_DEFAULT_POLE, (n, 2, 1))
        self.wrist = np.zeros((n, 2, 3))
        self.ov_arm = self.arm.copy()
        self.ov_pole = self.pole.copy()
        self.ov_wrist = np.zeros((n, 2, 3))
        self.ov_w = np.zeros((n, 2))


_DEFAULT_POLE = np.array([0.45, -0.75, -0.5])  # where an elbow points by default (out, down, back)


def _arm_target(body: _Body, d: np.ndarray, e: float | np.ndarray, side: int | None = None) -> np.ndarray:
    """Shoulder->wrist vectors along directions d (..., 3) for an elbow bent by e; (..., 2, 3) if side is None."""
    d = _unit(np.asarray(d, dtype=np.float64))
    if side is None:
        return np.stack([d * body.arm_len(s, e)[..., None] for s in (0, 1)], axis=-2)
    return d * np.asarray(body.arm_len(side, e))[..., None]


@dataclass
class _Stance:
    """One planted phase of a foot: [t0, t1] at floor point p with yaw; pitches at touch-down and lift-off;
    ``lift``/``peak`` shape the swing arc that *arrives* at this stance."""

    t0: float
    t1: float
    p: np.ndarray
    yaw: float
    p_land: float = 0.0
    p_lift: float = 0.0
    lift: float = 0.06
    peak: float = 0.5


def _foot_track(
    body: _Body,
    side: int,
    t: np.ndarray,
    st: list[_Stance],
    r_land: float,
    r_lift: float,
    swing_ankle: tuple[float, float] = (0.1, 0.0),
    clearance: float = 0.04,
    h_end: float = 0.84,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One foot from its stances: ankle (n, 3), foot yaw (n,), foot pitch (n,), contact (n,), and the
    swing ankle angle relative to the shank (n,) with its weight (n,) (0 on the ground, 1 mid-swing), and
    the least height (n,) of the toe above its rest height (``clearance`` at mid-swing).

    ``r_land``/``r_lift`` are the seconds of heel (toe) roll after touch-down (before lift-off); a
    swinging foot rises before it moves forward and comes down after it stops moving forward."""
    t0 = np.array([s.t0 for s in st])
    t1 = np.array([s.t1 for s in st])
    P = np.stack([s.p for s in st])
    Y = np.array([s.yaw for s in st])
    pl = np.array([s.p_land for s in st])
    pu = np.array([s.p_lift for s in st])
    lift = np.array([s.lift for s in st])
    peak = np.array([s.peak for s in st])
    K = len(st)
    i = np.clip(np.searchsorted(t0, t, side="right") - 1, 0, K - 1)
    stance = (t <= t1[i]) | (t < t0[0])
    pitch_st = pl[i] * (1.0 - _ss((t - t0[i]) / r_land)) + pu[i] * _ss((t - (t1[i] - r_lift)) / r_lift)
    a_st = _planted(body, side, P[i], Y[i], pitch_st)
    j = np.minimum(i + 1, K - 1)
    s = np.clip((t - t1[i]) / np.maximum(t0[j] - t1[i], 1e-6), 0.0, 1.0)
    sh = np.clip((s - 0.04) / (h_end - 0.04), 0.0, 1.0)
    u = sh * sh * (3 - 2 * sh)
    a0 = _planted(body, side, P[i], Y[i], pu[i])
    a1 = _planted(body, side, P[j], Y[j], pl[j])
    a_sw = a0 + (a1 - a0) * u[:, None]
    a_sw[:, 1] += lift[j] * _bump(s, peak[j])
    yaw_sw = Y[i] + _wrap(Y[j] - Y[i]) * u
    pitch_sw = pu[i] * (1.0 - _ss(s / 0.5)) + pl[j] * _ss((s - 0.5) / 0.5)
    ankle = np.where(stance[:, None], a_st, a_sw)
    yaw = np.where(stance, Y[i], yaw_sw)
    pitch = np.where(stance, pitch_st, pitch_sw)
    # keep the swinging foot's toe and heel above the floor
    Gf = _ry(yaw) @ _rx(pitch)
    toe_y = ankle[:, 1] + _mv(Gf, np.broadcast_to(body.toe[side], ankle.shape))[:, 1]
    heel_y = ankle[:, 1] + _mv(Gf, np.broadcast_to(body.heel[side], ankle.shape))[:, 1]
    fix = np.maximum(0.0, np.maximum(body.toe_h[side] - toe_y, -heel_y))
    ankle[:, 1] += np.where(stance, 0.0, fix)
    local = swing_ankle[0] + (swing_ankle[1] - swing_ankle[0]) * s
    fade = np.where(pl[j] > 0, 0.82, 0.65)  # toes-first landings keep the shank-relative ankle longer
    local_w = np.where(stance, 0.0, _ss(s / 0.2) * (1.0 - _ss((s - fade) / (1.0 - fade))))
    c0 = np.where(pl[j] > 0, 0.55, 0.72)  # toes-first landings bring the toe down earlier
    clear = clearance * np.minimum(1.0, 2.0 * np.sin(np.pi * s)) * (1.0 - _ss((s - c0) / (1.0 - c0)))
    clear = np.where(stance, 0.0, clear)
    return ankle, yaw, pitch, stance.astype(np.float64), local, local_w, clear


@dataclass
class _Seg:
    """A built segment: its targets, what it is (for text and labels), and where it leaves the body."""

    action: str
    label: str
    tr: _Track
    params: dict
    end: _State
    part_labels: dict[str, str]
    text: dict = field(default_factory=dict)
    overlay: dict | None = None


@dataclass
class _Ctx:
    body: _Body
    rng: np.random.Generator
    fps: float
    state: _State

    def frames(self, dur: float) -> tuple[int, np.ndarray]:
        n = max(2, int(round(dur * self.fps)))
        return n, np.arange(n) / self.fps


# ---------------------------------------------------------------- shared body dynamics of stepping


def _ankle_fwd(tr: _Track, side: int) -> np.ndarray:
    """Forward offset (n,) of an ankle from the pelvis, in the heading frame."""
    d = tr.ankle[:, side, [0, 2]] - tr.pxz
    return (d * _fwd(tr.yaw)).sum(-1)


def _stepping_upper_body(
    body: _Body, tr: _Track, fps: float, step_len: float, arm_amp: float, run: float, lean: float, env: np.ndarray
) -> None:
    """Pelvis rotation and list, counter-rotating chest, arm swing and head stabilisation for a gait.

    ``run`` in [0, 1] bends the elbows into a running carriage; ``lean`` is the forward lean (rad)."""
    half = max(step_len * 0.5, 0.05)
    xl, xr = _ankle_fwd(tr, LEFT), _ankle_fwd(tr, RIGHT)
    rel = np.clip((xl - xr) / (2 * half), -1.2, 1.2)
    tr.pel[:, 1] = -0.07 * rel * env  # left foot forward -> left hip forward -> pelvis turns right
    swing = 1.0 - tr.contact
    tr.pel[:, 2] = _gauss(-0.05 * (swing[:, 0] - swing[:, 1]), 0.6 * fps / 20)
    tr.pel[:, 0] += lean * 0.4 * env
    tr.spine[:, 0] += (0.03 + lean * 0.6) * env
    tr.spine[:, 1] += 1.3 * 0.07 * rel * env  # chest turns against the pelvis
    tr.neck[:, 0] -= 0.7 * (tr.pel[:, 0] + tr.spine[:, 0])
    for s, contra in ((LEFT, xr), (RIGHT, xl)):
        a = arm_amp * np.clip(contra / half, -1.2, 1.2) * env
        ang = a + run * 0.55 * env
        d = np.stack([np.full_like(a, 0.1 + 0.05 * run), -np.cos(ang), np.sin(ang)], -1)
        e = 0.2 + 0.2 * np.maximum(a, 0) / max(arm_amp, 1e-3) + run * env * (1.25 + 0.15 * np.sin(a))
        tr.arm[:, s] = _arm_target(body, d, e, s)


def _support_pelvis(tr: _Track, st: _State, fps: float, k_support: float = 0.4, sigma_s: float = 0.12) -> None:
    """Pelvis floor path from the feet: between the feet, shifted toward the supporting foot."""
    feet = tr.ankle[:, :, [0, 2]]
    mid = feet.mean(1)
    w = tr.contact
    den = w.sum(1, keepdims=True)
    sup = np.where(den > 0, (feet * w[..., None]).sum(1) / np.maximum(den, 1e-9), mid)
    c = _gauss((1 - k_support) * mid + k_support * sup, sigma_s * fps)
    off0 = st.xz - st.feet.mean(0)
    off_h = np.array([(off0 * _left(st.yaw)).sum(), (off0 * _fwd(st.yaw)).sum()])
    tr.pxz = c + _rot2(tr.yaw, np.broadcast_to(off_h, (tr.n, 2)))


def _end_state(body: _Body, tr: _Track, feet: np.ndarray, feet_yaw: np.ndarray) -> _State:
    return _State(tr.pxz[-1].copy(), float(tr.yaw[-1]), np.asarray(feet, dtype=np.float64), np.asarray(feet_yaw))


# ---------------------------------------------------------------- locomotion


@dataclass(frozen=True)
class _Gait:
    duty: float  # share of the gait cycle a foot is on the ground
    lift: float  # swing arc height (m, ankle above the straight line)
    peak: float  # where in the swing the arc peaks
    p_land: float  # foot pitch at touch-down (rad, < 0 heel first)
    p_lift: float  # foot pitch at lift-off (rad, > 0 heel up)
    f_land: float  # share of the stance spent rolling the foot flat after touch-down
    f_lift: float  # share of the stance spent raising the heel before lift-off
    alpha: float  # where in the stance the pelvis passes over the foot
    ankle: tuple[float, float] = (0.15, 0.0)  # swing ankle angle relative to the shank, start and end (rad)
    clear: float = 0.04  # toe clearance at mid-swing (m above its rest height)
    h_end: float = 0.84  # share of the swing after which the foot only comes down

    def rolls(self, T_step: float) -> tuple[float, float]:
        stance = 2 * self.duty * T_step
        return self.f_land * stance, self.f_lift * stance


_GAITS: dict[str, _Gait] = {
    "walk": _Gait(0.57, 0.02, 0.3, -0.15, 1.0, 0.2, 0.45, 0.36, (0.0, -0.15), 0.055),
    "walk_backward": _Gait(0.65, 0.03, 0.45, 0.25, -0.05, 0.15, 0.15, 0.5, (0.15, 0.25), 0.07, 0.95),
    "jog": _Gait(0.38, 0.26, 0.3, -0.05, 0.7, 0.12, 0.35, 0.48, (0.3, 0.0), 0.07, 0.97),
    "run": _Gait(0.31, 0.34, 0.3, 0.0, 0.75, 0.1, 0.35, 0.5, (0.35, 0.0), 0.08, 0.97),
    "step": _Gait(0.66, 0.02, 0.45, 0.0, 0.12, 0.12, 0.15, 0.5, (0.1, 0.0), 0.07),
}


def _b_locomotion(ctx: _Ctx, kind: str, budget: float) -> _Seg | None:
    """walk, jog, run, walk_backward and walk_circle: path first, feet placed under the hips."""
    rng, body, st = ctx.rng, ctx.body, ctx.state
    scale = math.sqrt(body.leg / 0.79)
    if kind in ("walk", "walk_circle"):
        g = _GAITS["walk"]
        v_max = min(1.6, 1.85 * body.leg)  # short legs cannot stride 1.6 m/s within 125 steps/min
        v = rng.uniform(1.0, v_max) if kind == "walk" else rng.uniform(1.0, min(1.4, v_max))
        ratio = 0.72 + 0.18 * (v - 1.0) / 0.6 + rng.normal(0, 0.02)  # step length / leg length
        cad = np.clip(60 * v / (ratio * body.leg), 98, 122)
        dur_lo, dur_hi, t_s = (3.0, 7.0, 0.3) if kind == "walk" else (4.5, 9.0, 0.3)
    elif kind == "walk_backward":
        g = _GAITS["walk_backward"]
        v = rng.uniform(0.5, 0.8)
        cad = np.clip((88 + 25 * (v - 0.5) / 0.4 + rng.normal(0, 3)) / scale, 85, 115)
        dur_lo, dur_hi, t_s = (3.0, 6.5, 0.3)
    elif kind == "jog":
        g = _GAITS["jog"]
        v = rng.uniform(2.0, 2.8)
        cad = np.clip((155 + 15 * (v - 2.0) / 0.8 + rng.normal(0, 3)) / scale, 155, 172)
        dur_lo, dur_hi, t_s = (3.0, 6.5, 0.3)
    else:
        g = _GAITS["run"]
        v = rng.uniform(3.0, 4.0)
        cad = np.clip((164 + 18 * (v - 3.0) / 1.2 + rng.normal(0, 3)) / scale, 160, 181)
        dur_lo, dur_hi, t_s = (3.0, 6.5, 0.3)
    if budget < dur_lo:
        return None
    dur = rng.uniform(dur_lo, min(dur_hi, budget))
    T_step = 60.0 / cad
    T_sw = (1.0 - g.duty) * 2 * T_step
    settle = 0.4
    N = max(4, int((dur - t_s - T_sw - settle) / T_step) + 1)
    while N > 4 and t_s + (N - 1) * T_step + T_sw + settle > budget:
        N -= 1
    if t_s + (N - 1) * T_step + T_sw + settle > budget + 1e-9:
        return None
    t_lift = t_s + np.arange(N) * T_step
    t_land = t_lift + T_sw
    t_stop = float(t_land[-1])
    n, t = ctx.frames(t_stop + settle)
    runlike = kind in ("jog", "run")
    up = (2.5 if runlike else 1.2) * T_step
    dn = (3.0 if runlike else 1.6) * T_step
    up = min(up, 0.45 * (t_stop - t_s))
    dn = min(dn, 0.45 * (t_stop - t_s))
    env = _ramp(t, t_s, up) * (1.0 - _ramp(t, t_stop - dn, dn))
    speed = v * env
    dist = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) / ctx.fps)])
    params: dict = {"speed": round(float(v), 3), "cadence": round(float(cad), 1), "step_length": round(v * T_step, 3)}
    yaw = np.full(n, st.yaw)
    turn = 0.0
    if kind == "walk_circle":
        want = math.radians(rng.uniform(200, 360))
        radius = max(dist[-1] / want, 1.0)
        turn = float(dist[-1] / radius)
        sgn = 1.0 if rng.random() < 0.5 else -1.0
        yaw = st.yaw + sgn * dist / radius
        turn *= sgn
        params.update(radius=round(radius, 3), turn_deg=round(math.degrees(turn), 1))
    direction = -1.0 if kind == "walk_backward" else 1.0
    vel = speed[:, None] * _fwd(yaw) * direction
    path = st.xz + np.concatenate([[[0.0, 0.0]], np.cumsum(0.5 * (vel[1:] + vel[:-1]) / ctx.fps, axis=0)])

    def at(tq: float) -> tuple[np.ndarray, float]:
        return np.array([np.interp(tq, t, path[:, 0]), np.interp(tq, t, path[:, 1])]), float(np.interp(tq, t, yaw))

    first = int(rng.integers(2))
    width = rng.uniform(-0.015, 0.025)
    toe_out = rng.normal(0.0, 0.04)
    stances: list[list[_Stance]] = [[_Stance(-_BIG, _BIG, st.feet[s].copy(), float(st.feet_yaw[s]))] for s in (0, 1)]
    for k in range(N):
        side = first if k % 2 == 0 else 1 - first
        stances[side][-1].t1 = float(t_lift[k])
        tq = t_stop if k + 2 >= N else float(t_land[k] + g.alpha * (t_lift[k + 2] - t_land[k]))
        c, yq = at(tq)
        off = body.foot_xz[side] + np.array([_SIGN[side] * width, 0.0])
        amt = float(np.interp(t_lift[k] + 0.5 * T_sw, t, env))
        stances[side][-1].p_lift = g.p_lift * max(amt, 0.3)
        stances[side].append(
            _Stance(
                float(t_land[k]),
                _BIG,
                c + _rot2(yq, off),
                yq + _SIGN[side] * toe_out,
                p_land=g.p_land * amt,
                lift=g.lift * scale * (0.35 + 0.65 * amt),
                peak=g.peak,
            )
        )
    tr = _Track(body, n, st)
    tr.yaw = yaw
    _set_feet(body, tr, t, stances, g, T_step)
    # pelvis: path plus a sway toward the supporting foot
    sway_k = 0.1 if runlike else 0.32
    feet = tr.ankle[:, :, [0, 2]]
    den = tr.contact.sum(1, keepdims=True)
    sup = np.where(den > 0, (feet * tr.contact[..., None]).sum(1) / np.maximum(den, 1e-9), feet.mean(1))
    lat = ((sup - path) * _left(yaw)).sum(-1)
    tr.pxz = path + sway_k * _gauss(lat, 0.12 * ctx.fps)[:, None] * _left(yaw)
    if runlike:
        tr.knee_min[:] = math.radians(14.0) * env[:, None] + math.radians(5.0) * (1 - env[:, None])
        lands = np.sort(t_land)
        mids = lands + g.duty * T_step  # mid-stance (stance = 2 duty T_step)
        idx = np.clip(np.searchsorted(mids, t) - 1, 0, len(mids) - 1)
        near = np.where(
            np.abs(t - mids[idx]) < np.abs(t - mids[np.minimum(idx + 1, len(mids) - 1)]),
            mids[idx],
            mids[np.minimum(idx + 1, len(mids) - 1)],
        )
        base, amp = (0.035, 0.03) if kind == "jog" else (0.045, 0.035)
        tr.y_plan = body.h_stand - env * (base + amp * (0.5 + 0.5 * np.cos(2 * np.pi * (t - near) / T_step)))
    else:
        tr.soft = (0.006 + 0.01 * max(v - 1.0, 0.0)) * env
    lean = {"walk": 0.05, "walk_circle": 0.05, "walk_backward": -0.03, "jog": 0.1, "run": 0.13}[kind]
    arm_amp = {"walk": 0.32, "walk_circle": 0.3, "walk_backward": 0.18, "jog": 0.45, "run": 0.6}[kind]
    arm_amp *= rng.uniform(0.7, 1.3)
    _stepping_upper_body(body, tr, ctx.fps, v * T_step, arm_amp, 1.0 if runlike else 0.0, lean, env)
    if kind == "walk_circle":
        tr.pel[:, 2] += -np.sign(turn) * 0.03 * env  # lean into the turn
    steady = np.flatnonzero(env > 0.999)
    params.update(
        frames_steady=[int(steady[0]), int(steady[-1]) + 1] if len(steady) else [0, 0],
        distance=round(float(dist[-1]), 3),
        duty=g.duty,
    )
    if kind == "walk_circle":
        label = "walk_circle_" + ("left" if turn > 0 else "right")
    else:
        label = kind
    feet_end = np.stack([stances[s][-1].p for s in (0, 1)])
    yaw_end = np.array([stances[s][-1].yaw for s in (0, 1)])
    pl = {p: label for p in PART_NAMES}
    return _Seg(kind, label, tr, params, _end_state(body, tr, feet_end, yaw_end), pl)


def _set_feet(body: _Body, tr: _Track, t: np.ndarray, stances: list[list[_Stance]], g: _Gait, T_step: float) -> None:
    r_land, r_lift = g.rolls(T_step)
    for s in (0, 1):
        a, fy, fp, con, loc, lw, cl = _foot_track(
            body, s, t, stances[s], r_land, r_lift, g.ankle, g.clear * body.leg / 0.8, g.h_end
        )
        tr.ankle[:, s], tr.fyaw[:, s], tr.fpitch[:, s], tr.contact[:, s] = a, fy, fp, con
        tr.flocal[:, s], tr.flocal_w[:, s], tr.fclear[:, s] = loc, lw, cl


def _steps_first(
    ctx: _Ctx,
    t: np.ndarray,
    tr: _Track,
    steps: list[tuple[int, float, float, np.ndarray, float]],
    g: _Gait,
    T_step: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Feet from explicit steps (side, t_lift, t_land, floor point, yaw); pelvis follows the support."""
    st = ctx.state
    stances: list[list[_Stance]] = [[_Stance(-_BIG, _BIG, st.feet[s].copy(), float(st.feet_yaw[s]))] for s in (0, 1)]
    for side, tl, td, p, y in sorted(steps, key=lambda s: s[1]):
        stances[side][-1].t1 = tl
        stances[side][-1].p_lift = g.p_lift
        stances[side].append(_Stance(td, _BIG, np.asarray(p, dtype=np.float64), y, g.p_land, 0.0, g.lift, g.peak))
    _set_feet(ctx.body, tr, t, stances, g, T_step)
    _support_pelvis(tr, st, ctx.fps)
    return np.stack([stances[s][-1].p for s in (0, 1)]), np.array([stances[s][-1].yaw for s in (0, 1)])


def _b_turn(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    ang = math.radians(rng.uniform(60, 190)) * (1 if rng.random() < 0.5 else -1)
    cad = rng.uniform(88, 110)
    T_step = 60.0 / cad
    g = _GAITS["step"]
    T_sw = (1 - g.duty) * 2 * T_step
    N = max(3, math.ceil(abs(ang) / math.radians(32))) + 1
    t_s, settle = 0.25, 0.4
    while N > 3 and t_s + (N - 1) * T_step + T_sw + settle > budget:
        N -= 1
    dur = t_s + (N - 1) * T_step + T_sw + settle
    if abs(ang) / N > math.radians(36):  # fewer steps fitted the budget: turn less
        ang = math.copysign(N * math.radians(36), ang)
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    t_lift = t_s + np.arange(N) * T_step
    t_land = t_lift + T_sw
    t_stop = float(t_land[-1])
    yaw = st.yaw + ang * _ramp(t, t_s, t_stop - t_s)
    tr = _Track(body, n, st)
    tr.yaw = yaw
    first = LEFT if ang > 0 else RIGHT  # open the turn with the foot on the turning side
    steps = []
    for k in range(N):
        side = first if k % 2 == 0 else 1 - first
        tq = t_stop if k + 2 >= N else float(t_land[k] + 0.5 * (t_lift[k + 2] - t_land[k]))
        yq = float(st.yaw + ang * _ramp(np.array(tq), t_s, t_stop - t_s))
        steps.append((side, float(t_lift[k]), float(t_land[k]), st.xz + _rot2(yq, body.foot_xz[side]), yq))
    feet, fyaw = _steps_first(ctx, t, tr, steps, g, T_step)
    env = _window(t, t_s, t_stop + 0.2, 0.3)
    _stepping_upper_body(body, tr, ctx.fps, 0.3, 0.08, 0.0, 0.0, env)
    tr.soft = 0.01 * env
    d = "left" if ang > 0 else "right"
    params = {"turn_deg": round(math.degrees(ang), 1), "cadence": round(cad, 1), "steps": N}
    return _Seg("turn", f"turn_{d}", tr, params, _end_state(body, tr, feet, fyaw), {p: f"turn_{d}" for p in PART_NAMES})


def _b_side_step(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    lead = int(rng.integers(2))
    step = rng.uniform(0.25, 0.45)
    pairs = int(rng.integers(2, 6))
    cad = rng.uniform(85, 110)
    T_step = 60.0 / cad
    g = _GAITS["step"]
    T_sw = (1 - g.duty) * 2 * T_step
    t_s, settle = 0.3, 0.4
    while pairs > 1 and t_s + (2 * pairs - 1) * T_step + T_sw + settle > budget:
        pairs -= 1
    dur = t_s + (2 * pairs - 1) * T_step + T_sw + settle
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    lat = _left(st.yaw) * _SIGN[lead]  # toward the leading foot's side
    steps = []
    for j in range(pairs):
        for k, side in enumerate((lead, 1 - lead)):
            tl = t_s + (2 * j + k) * T_step
            steps.append((side, tl, tl + T_sw, st.feet[side] + (j + 1) * step * lat, float(st.feet_yaw[side])))
    feet, fyaw = _steps_first(ctx, t, tr, steps, g, T_step)
    env = _window(t, t_s, dur - 0.2, 0.3)
    _stepping_upper_body(body, tr, ctx.fps, 0.3, 0.05, 0.0, 0.0, env)
    tr.soft = 0.015 * env
    d = _SIDE[lead]
    params = {
        "direction": d,
        "step_width": round(step, 3),
        "steps": 2 * pairs,
        "cadence": round(cad, 1),
        "distance": round(pairs * step, 3),
    }
    return _Seg(
        "side_step",
        f"side_step_{d}",
        tr,
        params,
        _end_state(body, tr, feet, fyaw),
        {p: f"side_step_{d}" for p in PART_NAMES},
    )


# ---------------------------------------------------------------- whole-body actions


def _hermite(t: np.ndarray, t0: float, t1: float, y0: float, y1: float, v0: float, v1: float) -> np.ndarray:
    h = max(t1 - t0, 1e-6)
    s = np.clip((t - t0) / h, 0, 1)
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * y0 + h10 * h * v0 + h01 * y1 + h11 * h * v1


def _b_jump(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    reps = int(rng.integers(1, 4))
    fwd = 0.0 if rng.random() < 0.5 else rng.uniform(0.3, 0.8)
    D = rng.uniform(0.3, 0.45)  # flight time
    depth = rng.uniform(0.12, 0.24)
    land_depth = rng.uniform(0.08, 0.15)
    prep, push, absorb, recover = 0.45, 0.18, 0.3, 0.45
    rep_len = prep + push + D + absorb + recover
    while reps > 1 and 0.3 + reps * rep_len + 0.3 > budget:
        reps -= 1
    dur = 0.3 + reps * rep_len + 0.3
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    hs = body.h_stand
    h_to = hs + 0.035
    v0 = _GRAV * D / 2
    y = np.full(n, hs)
    xoff = np.zeros(n)  # forward travel
    pitch_f = np.zeros(n)
    contact = np.ones(n)
    crouch = np.zeros(n)
    arm_ang = np.zeros(n)
    fly = np.zeros(n, dtype=bool)
    keys_t = []
    for r in range(reps):
        a = 0.3 + r * rep_len
        b, c, d_, e, f = a + prep, a + prep + push, a + prep + push + D, a + prep + push + D + absorb, a + rep_len
        keys_t.append((a, b, c, d_, e, f))
        m = (t >= a) & (t < b)
        y[m] = _hermite(t[m], a, b, hs, hs - depth, 0, 0)
        m = (t >= b) & (t < c)
        y[m] = _hermite(t[m], b, c, hs - depth, h_to, 0, v0)
        m = (t >= c) & (t < d_)
        fly |= m
        y[m] = h_to + _GRAV / 2 * (t[m] - c) * (d_ - t[m])
        m = (t >= d_) & (t < e)
        y[m] = _hermite(t[m], d_, e, h_to, hs - land_depth, -v0, 0)
        m = (t >= e) & (t < f)
        y[m] = _hermite(t[m], e, f, hs - land_depth, hs, 0, 0)
        xoff += fwd * _ramp(t, b + 0.5 * push, d_ - b)
        pitch_f = np.maximum(pitch_f, 0.6 * _window(t, b, d_ + 0.12, 0.12))
        contact[(t > c) & (t < d_)] = 0.0
        crouch = np.maximum(crouch, _window(t, a, c, 0.3) * depth / 0.24 + _window(t, d_, f, 0.25) * land_depth / 0.24)
        arm_ang += _keys(t, [a, b - 0.15, c, d_, e, f], [0, -0.8, 2.0, 1.9, 0.5, 0]) * ((t >= a) & (t < f))
    tr.y_plan = y
    fw = _fwd(st.yaw)
    tr.pxz = st.xz + xoff[:, None] * fw
    tr.pel[:, 0] = 0.45 * crouch
    tr.spine[:, 0] = 0.25 * crouch + 0.02
    tr.neck[:, 0] = -0.5 * (tr.pel[:, 0] + tr.spine[:, 0])
    for s in (0, 1):
        p = st.feet[s] + xoff[:, None] * fw
        tr.ankle[:, s] = _planted(body, s, p, st.feet_yaw[s], pitch_f)
        tr.fpitch[:, s] = pitch_f
        tr.contact[:, s] = contact
    # in the air the feet hang under the pelvis: keep the take-off leg shape, tucked a little
    pel3 = np.concatenate([tr.pxz[:, :1], y[:, None], tr.pxz[:, 1:]], 1)
    for _a, _b, c, d_, _e, _f in keys_t:
        ic, idd = int(math.ceil(c * ctx.fps)), int(math.floor(d_ * ctx.fps))
        m = (t >= c) & (t <= d_)
        if not m.any() or ic >= n:
            continue
        s_ = np.clip((t[m] - c) / (d_ - c), 0, 1)
        for s in (0, 1):
            off0 = tr.ankle[max(ic - 1, 0), s] - pel3[max(ic - 1, 0)]
            off1 = tr.ankle[min(idd + 1, n - 1), s] - pel3[min(idd + 1, n - 1)]
            off = off0 + (off1 - off0) * _ss(s_)[:, None]
            off[:, 1] += 0.12 * np.sin(np.pi * s_)
            tr.ankle[m, s] = pel3[m] + off
    d = np.stack([np.full(n, 0.12), -np.cos(arm_ang), np.sin(arm_ang)], -1)
    tr.arm = _arm_target(body, d, 0.25 + 0.15 * np.abs(np.sin(arm_ang)))
    tr.pole = np.tile(np.array([0.6, -0.3, -0.7]), (n, 2, 1))
    feet = st.feet + fwd * reps * fw
    params = {
        "reps": reps,
        "forward": round(reps * fwd, 3),
        "flight_time": round(D, 3),
        "height": round(_GRAV * D * D / 8, 3),
        "crouch_depth": round(depth, 3),
    }
    end = _State(st.xz + reps * fwd * fw, st.yaw, feet, st.feet_yaw.copy())
    return _Seg("jump", "jump", tr, params, end, {p: "jump" for p in PART_NAMES})


def _still(ctx: _Ctx, tr: _Track, label: str, params: dict) -> _Seg:
    """A segment whose feet stay where they started."""
    st = ctx.state
    return _Seg(
        label,
        label,
        tr,
        params,
        _State(st.xz.copy(), st.yaw, st.feet.copy(), st.feet_yaw.copy()),
        {p: label for p in PART_NAMES},
    )


def _b_squat(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    reps = int(rng.integers(1, 5))
    depth = rng.uniform(0.2, 0.42) * body.leg / 0.79
    per = rng.uniform(1.3, 2.2)
    while reps > 1 and 0.6 + reps * per > budget:
        reps -= 1
    dur = 0.6 + reps * per
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    u = np.zeros(n)
    for r in range(reps):
        a = 0.3 + r * per
        u = np.maximum(
            u, _keys(t, [a, a + 0.45 * per, a + 0.55 * per, a + per], [0, 1, 1, 0]) * ((t >= a) & (t <= a + per))
        )
    k = depth / 0.42
    tr.y_plan = body.h_stand - depth * u
    tr.pxz = st.xz - (0.32 * depth * u)[:, None] * _fwd(st.yaw)
    tr.pel[:, 0] = 0.55 * k * u
    tr.spine[:, 0] = 0.25 * k * u + 0.02
    tr.neck[:, 0] = -0.6 * (tr.pel[:, 0] + tr.spine[:, 0])
    style = "forward" if rng.random() < 0.6 else "chest"
    if style == "forward":
        ang = 0.15 + (1.45) * _ss(u / 0.6)
        d = np.stack([np.full(n, 0.05), -np.cos(ang), np.sin(ang)], -1)
        tr.arm = _arm_target(body, d, 0.2)
        tr.ov_arm = tr.arm.copy()
    else:
        target = np.array([-body.shoulder_x + 0.07, -0.2, 0.25])
        tr.arm = tr.arm + (target - tr.arm) * _ss(u / 0.4)[:, None, None]
    params = {"reps": reps, "depth": round(depth, 3), "period": round(per, 3), "arms": style}
    return _still(ctx, tr, "squat", params)


def _b_lunge(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    front = int(rng.integers(2))
    step = rng.uniform(0.6, 0.85) * body.leg / 0.79
    depth = rng.uniform(0.22, 0.34) * body.leg / 0.79
    hold = rng.uniform(0.2, 0.8)
    out, down, upt, back = 0.55, 0.6, 0.6, 0.55
    dur = 0.3 + out + down + hold + upt + back + 0.4
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    t1 = 0.3
    t2 = t1 + out
    t3 = t2 + down
    t4 = t3 + hold
    t5 = t4 + upt
    t6 = t5 + back
    fw = _fwd(st.yaw)
    p_front = st.feet[front] + step * fw
    g = _GAITS["step"]
    stf = [
        _Stance(-_BIG, t1, st.feet[front].copy(), float(st.feet_yaw[front]), p_lift=0.1),
        _Stance(t2, t5, p_front, float(st.feet_yaw[front]), p_land=-0.15, p_lift=0.0, lift=0.1, peak=0.45),
        _Stance(t6, _BIG, st.feet[front].copy(), float(st.feet_yaw[front]), lift=0.1, peak=0.55),
    ]
    a, fy, fp, con, loc, lw, cl = _foot_track(body, front, t, stf, 0.12, 0.12, g.ankle, g.clear)
    tr.ankle[:, front], tr.fyaw[:, front], tr.fpitch[:, front], tr.contact[:, front] = a, fy, fp, con
    tr.flocal[:, front], tr.flocal_w[:, front], tr.fclear[:, front] = loc, lw, cl
    u = _keys(t, [t1, t2, t3, t4, t5, t6], [0, 0.55, 1, 1, 0.55, 0])
    back_leg = 1 - front
    pitch_b = 0.8 * _keys(t, [t1, t2 - 0.15, t3 - 0.2, t4 + 0.2, t5 + 0.15, t6], [0, 0.5, 1, 1, 0.5, 0])
    tr.ankle[:, back_leg] = _planted(body, back_leg, np.tile(st.feet[back_leg], (n, 1)), st.feet_yaw[back_leg], pitch_b)
    tr.fpitch[:, back_leg] = pitch_b
    shift = _keys(t, [t1, t2, t3, t4, t5, t6], [0, 0.4, 0.5, 0.5, 0.4, 0])
    tr.pxz = st.xz + (shift * step)[:, None] * fw
    tr.y_plan = body.h_stand - depth * u
    tr.pel[:, 0] = 0.05 * u
    tr.spine[:, 0] = 0.02
    tr.pel[:, 1] = -_SIGN[front] * 0.08 * u  # front hip forward
    params = {"leg": _SIDE[front], "step_length": round(step, 3), "depth": round(depth, 3), "hold": round(hold, 2)}
    label = f"lunge_{_SIDE[front]}"
    seg = _still(ctx, tr, label, params)
    seg.action = "lunge"
    return seg


def _b_bow(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    depth = math.radians(rng.uniform(20, 70))
    down, hold, upt = rng.uniform(0.7, 1.2), rng.uniform(0.4, 1.5), rng.uniform(0.7, 1.2)
    dur = 0.3 + down + hold + upt + 0.4
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    u = _keys(t, [0.3, 0.3 + down, 0.3 + down + hold, 0.3 + down + hold + upt], [0, 1, 1, 0])
    tr.pel[:, 0] = 0.6 * depth * u
    tr.spine[:, 0] = 0.4 * depth * u + 0.02
    tr.neck[:, 0] = 0.1 * depth * u
    tr.pxz = st.xz - (0.12 * math.sin(depth) * u)[:, None] * _fwd(st.yaw)
    params = {"depth_deg": round(math.degrees(depth), 1), "hold": round(hold, 2)}
    return _still(ctx, tr, "bow", params)


def _b_sit_stand(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    seat = rng.uniform(0.5, 0.58) * body.h0
    back = rng.uniform(0.22, 0.32) * body.leg / 0.79
    down, hold, upt = rng.uniform(1.0, 1.4), rng.uniform(0.6, 2.0), rng.uniform(1.0, 1.4)
    dur = 0.3 + down + hold + upt + 0.4
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    a, b, c, d = 0.3, 0.3 + down, 0.3 + down + hold, 0.3 + down + hold + upt
    uy = _keys(t, [a, a + 0.2 * down, b, c, d - 0.8 * upt, d], [0, 0.05, 1, 1, 0.95, 0])
    ux = _keys(t, [a, b - 0.3 * down, c, d - 0.4 * upt, d], [0, 1, 1, 0.6, 0])
    lean = np.maximum(_window(t, a, b + 0.1, 0.45 * down), _window(t, c - 0.1, d, 0.45 * upt))
    tr.y_plan = body.h_stand + (seat - body.h_stand) * uy
    tr.pxz = st.xz - (back * ux)[:, None] * _fwd(st.yaw)
    tr.pel[:, 0] = 0.5 * lean + 0.08 * uy
    tr.spine[:, 0] = 0.25 * lean + 0.02
    tr.neck[:, 0] = -0.5 * (tr.pel[:, 0] + tr.spine[:, 0])
    rest = _arm_target(body, np.array([0.02, -0.75, 0.66]), 0.5)
    w = _ss((uy - 0.6) / 0.4)
    tr.arm = tr.arm + (rest - tr.arm) * w[:, None, None]
    params = {"seat_height": round(seat, 3), "hold": round(hold, 2)}
    return _still(ctx, tr, "sit_stand", params)


def _b_crouch(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    low = rng.uniform(0.49, 0.57) * body.h0
    down, hold, upt = rng.uniform(0.7, 1.1), rng.uniform(0.6, 2.0), rng.uniform(0.7, 1.1)
    dur = 0.3 + down + hold + upt + 0.4
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    u = _keys(t, [0.3, 0.3 + down, 0.3 + down + hold, 0.3 + down + hold + upt], [0, 1, 1, 0])
    heel = rng.uniform(0.25, 0.5)
    tr.y_plan = body.h_stand + (low - body.h_stand) * u
    tr.pxz = st.xz - (0.06 * u)[:, None] * _fwd(st.yaw)
    tr.pel[:, 0] = 0.45 * u
    tr.spine[:, 0] = 0.35 * u + 0.02
    tr.neck[:, 0] = -0.55 * (tr.pel[:, 0] + tr.spine[:, 0])
    for s in (0, 1):
        tr.fpitch[:, s] = heel * _ss(u / 0.7)
        tr.ankle[:, s] = _planted(body, s, np.tile(st.feet[s], (n, 1)), st.feet_yaw[s], tr.fpitch[:, s])
    reach = _arm_target(body, np.array([0.1, -0.55, 0.83]), 0.4)
    tr.arm = tr.arm + (reach - tr.arm) * u[:, None, None]
    params = {"pelvis_height": round(low, 3), "hold": round(hold, 2), "heel_raise_deg": round(math.degrees(heel), 1)}
    return _still(ctx, tr, "crouch", params)


def _b_stretch(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    style = "overhead" if rng.random() < 0.6 else "toe_touch"
    n_hint = 0.3 + 0.9 + 2 * 1.4 + 0.9 + 0.4
    if style == "toe_touch":
        n_hint = 0.3 + 1.2 + 1.0 + 1.2 + 0.4
    if n_hint > budget:
        return None
    n, t = ctx.frames(n_hint)
    tr = _Track(body, n, st)
    params: dict = {"style": style}
    if style == "overhead":
        first = int(rng.integers(2))
        lean = math.radians(rng.uniform(14, 24))
        up = _keys(t, [0.3, 1.2, n_hint - 1.3, n_hint - 0.4], [0, 1, 1, 0])
        side = _keys(t, [1.2, 1.9, 2.6, 3.3, 4.0], [0, 1, 0, -1, 0]) * (1 if first == LEFT else -1)
        tr.spine[:, 2] = -lean * side  # lean left = -z
        tr.neck[:, 2] = -0.3 * lean * side
        over = _arm_target(body, np.array([0.12, 1.0, 0.05]), 0.1)
        tr.arm = tr.arm + (over - tr.arm) * up[:, None, None]
        tr.pole = np.tile(np.array([0.8, 0.0, -0.6]), (n, 2, 1))
        params.update(first_side=_SIDE[first], lean_deg=round(math.degrees(lean), 1))
    else:
        depth = math.radians(rng.uniform(105, 125))
        u = _keys(t, [0.3, 1.5, 2.5, 3.7], [0, 1, 1, 0])
        tr.pel[:, 0] = 0.72 * depth * u
        tr.spine[:, 0] = 0.28 * depth * u
        tr.neck[:, 0] = 0.1 * u
        tr.pxz = st.xz - (0.1 * u)[:, None] * _fwd(st.yaw)
        down = _arm_target(body, np.array([0.02, -1.0, 0.15]), 0.05)
        tr.arm = tr.arm + (down - tr.arm) * u[:, None, None]
        params.update(depth_deg=round(math.degrees(depth), 1))
    return _still(ctx, tr, "stretch", params)


def _b_dance(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    bpm = rng.uniform(100, 130)
    T = 60.0 / bpm
    step = rng.uniform(0.22, 0.38)
    pairs = 2 * int(rng.integers(1, 4))
    g = _Gait(0.66, 0.02, 0.45, 0.0, 0.1, 0.12, 0.15, 0.5, (0.1, 0.0), 0.07)
    T_sw = (1 - g.duty) * 2 * T
    t_s, settle = 0.3, 0.4
    while pairs > 2 and t_s + (2 * pairs - 1) * T + T_sw + settle > budget:
        pairs -= 2
    dur = t_s + (2 * pairs - 1) * T + T_sw + settle
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    first = int(rng.integers(2))
    steps = []
    pos = st.feet.copy()
    for j in range(pairs):
        lead = first if j % 2 == 0 else 1 - first
        lat = _left(st.yaw) * _SIGN[lead]
        for k, side in enumerate((lead, 1 - lead)):
            tl = t_s + (2 * j + k) * T
            pos[side] = pos[side] + step * lat
            steps.append((side, tl, tl + T_sw, pos[side].copy(), float(st.feet_yaw[side])))
    feet, fyaw = _steps_first(ctx, t, tr, steps, g, T)
    t_end = t_s + (2 * pairs - 1) * T + T_sw
    env = _window(t, t_s, t_end + 0.2, 0.3)
    beat = 2 * np.pi * (t - t_s - T_sw) / T
    tr.y_plan = body.h_stand - env * (0.03 + 0.03 * (0.5 + 0.5 * np.cos(beat)))
    tr.pel[:, 2] = 0.07 * env * np.sin(beat / 2)
    tr.spine[:, 2] = 0.06 * env * np.sin(beat / 2)
    tr.spine[:, 0] = 0.04
    arms = ["sway", "pump", "clap"][int(rng.integers(3))]
    if arms == "sway":
        sw = np.sin(beat / 2)
        for s in (0, 1):
            ang = 0.9 + 0.2 * np.cos(beat)
            d = np.stack([0.35 * sw * _SIGN[s] + 0.15, -np.cos(ang), np.sin(ang)], -1)
            tr.arm[:, s] = tr.arm[:, s] + (_arm_target(body, d, 1.2, s) - tr.arm[:, s]) * env[:, None]
    elif arms == "pump":
        for s in (0, 1):
            ph = 0.5 + 0.5 * np.cos(beat + (0 if s == 0 else np.pi))
            ang = 2.3 + 0.5 * ph
            d = np.stack([np.full(n, 0.35), -np.cos(ang), np.sin(ang) * 0.3], -1)
            tr.arm[:, s] = tr.arm[:, s] + (_arm_target(body, d, 0.3 + 0.8 * (1 - ph), s) - tr.arm[:, s]) * env[:, None]
        tr.pole[:] = np.array([1.0, -0.3, -0.3])
    else:
        gap = 0.04 + 0.1 * (0.5 + 0.5 * np.cos(beat))
        for s in (0, 1):
            tgt = np.stack([-body.shoulder_x + gap, np.full(n, -0.08), np.full(n, 0.32)], -1)
            tr.arm[:, s] = tr.arm[:, s] + (tgt - tr.arm[:, s]) * env[:, None]
    params = {"bpm": round(bpm, 1), "steps": 2 * pairs, "step_width": round(step, 3), "arms": arms}
    return _Seg("dance", "dance", tr, params, _end_state(body, tr, feet, fyaw), {p: "dance" for p in PART_NAMES})


# ---------------------------------------------------------------- leg actions


def _leg_lift(
    ctx: _Ctx, tr: _Track, t: np.ndarray, side: int, key_t: list[float], key_rel: list[np.ndarray], pitch: float
) -> None:
    """Lift one foot through key positions relative to its hip (heading frame, right side mirrored)."""
    body, st = ctx.body, ctx.state
    hip = body.hip[side]
    rel = np.array(key_rel) * np.array([_SIGN[side], 1.0, 1.0])
    pos = _keys(t, key_t, rel)  # (n, 3) heading frame, relative to the hip at rest
    world = np.stack([hip[0] + pos[:, 0], pos[:, 1], hip[2] + pos[:, 2]], -1)
    xz = st.xz + _rot2(st.yaw, world[:, [0, 2]])
    y = body.h_stand + hip[1] + world[:, 1]
    up = np.stack([xz[:, 0], y, xz[:, 1]], -1)
    w = _ss((t - key_t[0]) / 0.25) * (1 - _ss((t - (key_t[-1] - 0.25)) / 0.25))
    tr.ankle[:, side] = tr.ankle[:, side] + (up - tr.ankle[:, side]) * w[:, None]
    tr.flocal[:, side] = pitch  # toes pointed relative to the shank while the foot is up
    tr.flocal_w[:, side] = _ss(w / 0.6)
    tr.contact[:, side] = (w < 0.01).astype(np.float64)


def _b_kick(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    side = int(rng.integers(2))
    reps = int(rng.integers(1, 3))
    height = rng.uniform(0.45, 0.95) * body.h0 / 0.95  # ankle height at full extension
    per = 1.25
    dur = 0.3 + 0.35 + reps * per + 0.35 + 0.3
    if dur > budget:
        reps = 1
        dur = 0.3 + 0.35 + per + 0.35 + 0.3
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    stance = 1 - side
    shift = _window(t, 0.3, dur - 0.3, 0.35)
    hip_h = body.h_stand + body.hip[side, 1]
    L = body.leg * 0.97
    dy = float(np.clip(height - hip_h, -0.45, 0.3))
    dz = math.sqrt(max(L * L - dy * dy, 0.1))
    rest = np.array(
        [
            body.foot_xz[side, 0] * _SIGN[side] - body.hip[side, 0] * _SIGN[side],
            -hip_h + body.ankle_h[side],
            body.foot_xz[side, 1] - body.hip[side, 2],
        ]
    )
    chamber = np.array([0.02, -0.47 * body.leg / 0.79, 0.32])
    ext = np.array([0.0, dy, dz])
    kt, kv = [], []
    for r in range(reps):
        a = 0.65 + r * per
        kt += [a, a + 0.3, a + 0.45, a + 0.55, a + 0.8, a + per]
        kv += [rest, chamber, ext, ext, chamber, rest]
    _leg_lift(ctx, tr, t, side, kt, kv, 0.5)
    lat = body.foot_xz[stance]
    tr.pxz = st.xz + (0.75 * shift)[:, None] * _rot2(st.yaw, np.array([lat[0], 0.0]))[None]
    kick = np.zeros(n)
    for r in range(reps):
        a = 0.65 + r * per
        kick = np.maximum(kick, _window(t, a, a + per, 0.3))
    tr.pel[:, 0] = -0.12 * kick
    tr.spine[:, 0] = -0.1 * kick + 0.02
    tr.neck[:, 0] = 0.15 * kick
    tr.pel[:, 2] = 0.04 * _SIGN[stance] * shift
    guard = _arm_target(body, np.array([-0.2, 0.05, 1.0]), 2.0)
    tr.arm = tr.arm + (guard - tr.arm) * shift[:, None, None]
    tr.pole[:] = np.array([0.5, -1.0, 0.0])
    params = {"leg": _SIDE[side], "reps": reps, "height": round(height, 3)}
    label = f"kick_{_SIDE[side]}"
    seg = _still(ctx, tr, label, params)
    seg.action = "kick"
    seg.part_labels.update({f"{_SIDE[stance]}_leg": "stand"})
    return seg


def _b_knee_raise(ctx: _Ctx, budget: float) -> _Seg | None:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    mode = ["left", "right", "both"][int(rng.integers(3))]
    reps = int(rng.integers(1, 4)) if mode != "both" else 2 * int(rng.integers(1, 3))
    hold = rng.uniform(0.3, 0.8)
    per = 0.9 + hold
    least, step = (2, 2) if mode == "both" else (1, 1)  # alternating legs raise each at least once
    while reps > least and 0.6 + reps * per > budget:
        reps -= step
    dur = 0.6 + reps * per
    if dur > budget:
        return None
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    lifted_any = np.zeros(n)
    for r in range(reps):
        side = (LEFT if mode == "left" else RIGHT) if mode != "both" else r % 2
        stance = 1 - side
        hip_h = body.h_stand + body.hip[side, 1]
        rest = np.array(
            [
                body.foot_xz[side, 0] * _SIGN[side] - body.hip[side, 0] * _SIGN[side],
                -hip_h + body.ankle_h[side],
                body.foot_xz[side, 1] - body.hip[side, 2],
            ]
        )
        up = np.array([0.0, -0.42 * body.leg / 0.79, 0.3 * body.leg / 0.79])
        a = 0.3 + r * per
        sub = _Track(body, n, st)
        sub.ankle = tr.ankle.copy()
        _leg_lift(ctx, sub, t, side, [a + 0.15, a + 0.5, a + 0.5 + hold, a + per - 0.05], [rest, up, up, rest], 0.3)
        m = (t >= a) & (t < a + per)
        tr.ankle[m, side] = sub.ankle[m, side]
        tr.flocal[m, side] = sub.flocal[m, side]
        tr.flocal_w[m, side] = sub.flocal_w[m, side]
        tr.contact[m, side] = sub.contact[m, side]
        w = _window(t, a, a + per, 0.3)
        lifted_any = np.maximum(lifted_any, w)
        tr.pxz = tr.pxz + (0.8 * w)[:, None] * _rot2(st.yaw, np.array([body.foot_xz[stance, 0], 0.0]))[None]
        tr.pel[:, 2] += 0.03 * _SIGN[stance] * w
    tr.spine[:, 0] = 0.02 - 0.04 * lifted_any
    params = {"leg": mode, "reps": reps, "hold": round(hold, 2)}
    label = f"knee_raise_{mode}"
    seg = _still(ctx, tr, label, params)
    seg.action = "knee_raise"
    if mode != "both":
        seg.part_labels[f"{_SIDE[1 - (LEFT if mode == 'left' else RIGHT)]}_leg"] = "stand"
    return seg


def _b_stand(ctx: _Ctx, dur: float) -> _Seg:
    rng, body, st = ctx.rng, ctx.body, ctx.state
    n, t = ctx.frames(dur)
    tr = _Track(body, n, st)
    ph = rng.uniform(0, 2 * np.pi, 3)
    tr.pxz = st.xz + (0.008 * np.sin(2 * np.pi * 0.25 * t + ph[0]) * _window(t, 0, dur, 0.5))[:, None] * _left(st.yaw)
    tr.spine[:, 0] = 0.02 + 0.01 * np.sin(2 * np.pi * 0.3 * t + ph[1])
    tr.neck[:, 1] = 0.05 * np.sin(2 * np.pi * 0.15 * t + ph[2]) * _window(t, 0, dur, 0.5)
    return _still(ctx, tr, "stand", {"duration": round(dur, 2)})


# ---------------------------------------------------------------- arm actions (overlays)


def _overlay_window(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return _window(t, t0, t1, _BLEND)


def _ov_wave(ctx: _Ctx, tr: _Track, t: np.ndarray, t0: float, t1: float, side: str) -> dict:
    rng = ctx.rng
    f = rng.uniform(1.4, 2.4)
    amp = rng.uniform(0.06, 0.12)
    up = rng.uniform(0.22, 0.34)
    w = _overlay_window(t, t0, t1)
    sides = (0, 1) if side == "both" else (_SIDE.index(side),)
    ph = rng.uniform(0, 2 * np.pi)
    for s in sides:
        osc = np.sin(2 * np.pi * f * (t - t0) + ph)
        tr.ov_arm[:, s] = np.stack([0.24 + amp * osc, np.full_like(t, up), np.full_like(t, 0.1)], -1)
        tr.ov_wrist[:, s, 2] = 0.25 * osc
        tr.ov_w[:, s] = w
    return {"side": side, "frequency": round(f, 2), "amplitude": round(amp, 3)}


def _ov_punch(ctx: _Ctx, tr: _Track, t: np.ndarray, t0: float, t1: float, side: str) -> dict:
    rng, body = ctx.rng, ctx.body
    n_p = int(rng.integers(1, 5))
    core = t1 - t0 - 2 * _BLEND
    # "both" alternates hands, so it throws at least two; a hand's punch takes 0.45 s, so the same hand's punches
    # start >= 0.55 s apart (closer ones merge into one and the caption's count is wrong)
    spacing = 0.275 if side == "both" else 0.55
    n_p = min(max(n_p, 2) if side == "both" else n_p, max(2 if side == "both" else 1, int(core / spacing)))
    gap = core / max(n_p, 1)
    w = _overlay_window(t, t0, t1)
    guard = np.array([-0.1, 0.04, 0.22])
    out = np.array([-0.12, 0.03, 0.0])
    out[2] = math.sqrt(max(body.arm_len(0, 0.1) ** 2 - 0.12**2 - 0.03**2, 0.01)) * 0.97
    strike = np.zeros((len(t), 2))
    for k in range(n_p):
        s = (k % 2) if side == "both" else _SIDE.index(side)
        a = t0 + _BLEND + k * gap + 0.1
        strike[:, s] = np.maximum(
            strike[:, s], _keys(t, [a, a + 0.13, a + 0.2, a + 0.45], [0, 1, 1, 0]) * ((t >= a) & (t < a + 0.45))
        )
    for s in (0, 1):
        tr.ov_arm[:, s] = guard + (out - guard) * strike[:, s : s + 1]
        tr.ov_pole[:, s] = np.array([0.6, -1.0, -0.2])
        tr.ov_w[:, s] = w
        tr.spine[:, 1] += _SIGN[s] * -0.15 * strike[:, s] * w  # right punch turns the chest left
    return {"side": side, "punches": n_p}


def _ov_raise(ctx: _Ctx, tr: _Track, t: np.ndarray, t0: float, t1: float, side: str) -> dict:
    rng, body = ctx.rng, ctx.body
    style = ["overhead", "forward", "sideways"][int(rng.integers(3))]
    d = {"overhead": [0.15, 1.0, 0.05], "forward": [0.05, 0.08, 1.0], "sideways": [1.0, 0.1, 0.05]}[style]
    tgt = _arm_target(body, np.array(d), 0.12)
    w = _overlay_window(t, t0, t1)
    sides = (0, 1) if side == "both" else (_SIDE.index(side),)
    for s in sides:
        tr.ov_arm[:, s] = tgt[s]
        tr.ov_pole[:, s] = np.array([0.8, -0.2, -0.6]) if style != "forward" else np.array([0.6, -1.0, 0.0])
        tr.ov_w[:, s] = w
    return {"side": side, "style": style}


def _ov_clap(ctx: _Ctx, tr: _Track, t: np.ndarray, t0: float, t1: float, side: str) -> dict:
    rng, body = ctx.rng, ctx.body
    f = rng.uniform(1.5, 2.6)
    w = _overlay_window(t, t0, t1)
    # whole open-close cycles inside the fully blended-in part of the window only, hands apart outside it: the
    # hands close exactly `claps` times (a closing during the blend-in or -out made captions count one too few)
    core = max(t1 - t0 - 2 * _BLEND, 1e-6)
    claps = int(max(1, math.floor(core * f)))
    u = np.clip((t - t0 - _BLEND) / core, 0.0, 1.0)
    gap = 0.035 + 0.1 * (0.5 + 0.5 * np.cos(2 * np.pi * claps * u))
    for s in (0, 1):
        tr.ov_arm[:, s] = np.stack([-body.shoulder_x + gap, np.full_like(t, -0.1), np.full_like(t, 0.33)], -1)
        tr.ov_pole[:, s] = np.array([0.7, -1.0, -0.1])
        tr.ov_w[:, s] = w
    return {"side": "both", "frequency": round(claps / core, 2), "claps": claps}


def _ov_reach(ctx: _Ctx, tr: _Track, t: np.ndarray, t0: float, t1: float, side: str) -> dict:
    rng, body = ctx.rng, ctx.body
    style = ["forward", "up", "out"][int(rng.integers(3))]
    d = {"forward": [-0.05, 0.1, 1.0], "up": [0.2, 1.0, 0.25], "out": [1.0, 0.05, 0.3]}[style]
    s = _SIDE.index(side)
    tr.ov_arm[:, s] = _arm_target(body, np.array(d), 0.05, s)
    tr.ov_pole[:, s] = np.array([0.7, -0.6, -0.4])
    tr.ov_w[:, s] = _overlay_window(t, t0, t1)
    tr.spine[:, 1] += -_SIGN[s] * 0.08 * tr.ov_w[:, s] * (style == "forward")
    return {"side": side, "style": style}


def _ov_throw(ctx: _Ctx, tr: _Track, t: np.ndarray, t0: float, t1: float, side: str) -> dict:
    s = _SIDE.index(side)
    a = t0 + _BLEND
    wind, rel, fol = a + 0.45, a + 0.6, a + 0.9
    kt = [t0, a, wind, rel, fol, t1 - _BLEND, t1]
    hang = tr.arm[0, s]
    kv = [
        hang,
        np.array([0.25, 0.05, -0.05]),
        np.array([0.15, 0.3, -0.1]),
        np.array([-0.02, 0.15, 0.5]),
        np.array([-0.28, -0.35, 0.3]),
        hang,
        hang,
    ]
    tr.ov_arm[:, s] = _keys(t, kt, kv)
    tr.ov_pole[:, s] = _keys(
        t,
        kt,
        [_DEFAULT_POLE, [1, -0.5, -0.3], [1, -0.4, 0.1], [0.6, -0.8, 0], [0.5, -1, 0], _DEFAULT_POLE, _DEFAULT_POLE],
    )
    tr.ov_w[:, s] = 1.0 * ((t >= t0) & (t <= t1))
    twist = _keys(t, kt, [0, -0.15, -0.35, 0.25, 0.3, 0, 0])
    tr.spine[:, 1] += _SIGN[s] * twist
    tr.spine[:, 0] += _keys(t, kt, [0, 0, -0.05, 0.1, 0.2, 0, 0])
    return {"side": side}


_OVERLAYS = {
    "wave": _ov_wave,
    "punch": _ov_punch,
    "raise": _ov_raise,
    "clap": _ov_clap,
    "reach": _ov_reach,
    "throw": _ov_throw,
}
_OVERLAY_SIDES = {
    "wave": ("left", "right", "both"),
    "punch": ("left", "right", "both"),
    "raise": ("left", "right", "both"),
    "clap": ("both",),
    "reach": ("left", "right"),
    "throw": ("left", "right"),
}
_OVERLAY_MIN = {"wave": 1.8, "punch": 1.8, "raise": 1.8, "clap": 1.8, "reach": 1.8, "throw": 2.0}
_ON_LOCOMOTION = ("wave", "raise", "clap")


def _add_overlay(ctx: _Ctx, seg: _Seg, kind: str, whole: bool) -> None:
    """Put arm action ``kind`` over a segment: the whole of a standing segment, the steady middle of a walk."""
    rng = ctx.rng
    tr = seg.tr
    t = np.arange(tr.n) / ctx.fps
    dur = tr.n / ctx.fps
    if whole:
        t0, t1 = 0.15, dur - 0.15
    else:
        t0, t1 = 0.2 * dur, 0.85 * dur
    side = _OVERLAY_SIDES[kind][int(rng.integers(len(_OVERLAY_SIDES[kind])))]
    params = _OVERLAYS[kind](ctx, tr, t, t0, t1, side)
    full = np.flatnonzero(tr.ov_w.max(1) > 0.999)
    label = f"{kind}_{side}" if kind != "clap" else "clap"
    seg.overlay = {
        "action": kind,
        "label": label,
        "side": side,
        "params": params,
        "frames_full": [int(full[0]), int(full[-1]) + 1] if len(full) else [0, 0],
    }
    arms = ("left_arm", "right_arm") if side in ("both",) or kind == "punch" else (f"{side}_arm",)
    for a in arms:
        seg.part_labels[a] = label


# ---------------------------------------------------------------- solve: targets -> rotations


def _two_bone(
    D: np.ndarray, hinge: np.ndarray, o_u: np.ndarray, o_l: np.ndarray, axis: np.ndarray, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form two-bone IK in the parent's frame.

    Args: D (n, 3) upper joint -> end effector; hinge (n, 3) wanted direction of the middle joint's
    hinge axis; o_u, o_l (3,) rest offsets of the two bones; axis (3,) local hinge axis (positive
    rotation bends); lo, hi bend limits (rad). Returns the upper joint's local rotation (n, 3, 3) and
    the bend angle (n,).
    """
    a = _unit(axis)
    c0 = (a @ o_u) * (a @ o_l)
    c1 = o_u @ o_l - c0
    c2 = o_u @ np.cross(a, o_l)
    rho, phi0 = math.hypot(c1, c2), math.atan2(c2, c1)
    m = ((D * D).sum(-1) - o_u @ o_u - o_l @ o_l) / 2 - c0
    phi = np.clip(phi0 + np.arccos(np.clip(m / rho, -1.0, 1.0)), lo, hi)
    v = o_u + _mv(_axis_rot(a, phi), np.broadcast_to(o_l, D.shape))
    F_loc = _frame(v, np.broadcast_to(a, D.shape))
    F_w = _frame(D, hinge)
    return F_w @ np.swapaxes(F_loc, -1, -2), phi


def _arm_rotations(
    body: _Body, side: int, C: np.ndarray, target: np.ndarray, pole: np.ndarray, wrist: np.ndarray
) -> np.ndarray:
    """Left-canonical collar, shoulder, elbow and wrist local rotations (n, 4, 3, 3) of one arm.

    C (n, 3, 3) is the (canonical) chest orientation in the heading frame; target/pole (n, 3) are
    heading-frame shoulder->wrist and elbow-pole vectors; wrist (n, 3) a rotation vector."""
    D_c = _mv(np.swapaxes(C, -1, -2), target)  # chest frame
    P_c = _mv(np.swapaxes(C, -1, -2), pole)
    du = _unit(D_c)
    collar_rv = np.stack([np.zeros(len(du)), -0.15 * np.maximum(du[:, 2], 0), 0.3 * np.maximum(du[:, 1], 0)], -1)
    R_col = _aa(collar_rv)
    D = _mv(np.swapaxes(R_col, -1, -2), D_c)
    P = _mv(np.swapaxes(R_col, -1, -2), P_c)
    u = _unit(D)

    def perp(v: np.ndarray) -> np.ndarray:
        return v - (v * u).sum(-1, keepdims=True) * u

    # the elbow points along the pole; where the arm itself points near the pole, fade to a backward pole
    Pp = perp(_unit(P))
    back = perp(np.broadcast_to(np.array([0.1, -0.3, -1.0]) / 1.05, P.shape))
    k = np.clip((0.45 - np.linalg.norm(Pp, axis=-1)) / 0.3, 0.0, 1.0)[:, None]
    hinge = _unit(np.cross(_unit(Pp) * (1 - k) + _unit(back) * k, D))
    R_sh, e = _two_bone(
        D, hinge, body.arm_u[side], body.arm_l[side], np.array([0.0, -1.0, 0.0]), math.radians(1.0), math.radians(148.0)
    )
    return np.stack([R_col, R_sh, _ry(-e), _aa(wrist)], axis=1)


def _solve_leg(
    body: _Body, s: int, tr: _Track, G_p: np.ndarray, root: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hip, knee, ankle local rotations (n, 3, 3) of leg s reaching ankle ``target`` (n, 3), and how far
    (n,) the swinging foot's toe or heel ends up below the floor."""
    n = tr.n
    H = root + _mv(G_p, np.broadcast_to(body.hip[s], (n, 3)))
    G_pT = np.swapaxes(G_p, -1, -2)
    D = target - H
    # a swinging foot never aims beyond what the leg reaches with a slightly bent knee
    reach = body.leg_len(s, 0.7 * tr.knee_min[:, s])
    dist = np.linalg.norm(D, axis=-1)
    shrink = np.where((tr.contact[:, s] < 0.5) & (dist > reach), reach / np.maximum(dist, 1e-9), 1.0)
    D = _mv(G_pT, D * shrink[:, None])
    hinge = _mv(G_pT, _mv(_ry(tr.fyaw[:, s]), np.broadcast_to(np.array([1.0, 0.0, 0.0]), (n, 3))))
    R_hip, phi = _two_bone(
        D, hinge, body.thigh[s], body.shank[s], np.array([1.0, 0.0, 0.0]), math.radians(1.0), math.radians(148.0)
    )
    R_knee = _rx(phi)
    G_hip = G_p @ R_hip
    G_knee = G_hip @ R_knee
    G_foot = _ry(tr.fyaw[:, s]) @ _rx(tr.fpitch[:, s])
    w = tr.flocal_w[:, s]
    if (w > 0).any():
        G_foot = _slerp(G_foot, G_knee @ _rx(tr.flocal[:, s]), np.clip(w, 0.0, 1.0))
    ankle = H + _mv(G_hip, body.thigh[s] + _mv(R_knee, np.broadcast_to(body.shank[s], (n, 3))))
    toe_y = ankle[:, 1] + _mv(G_foot, np.broadcast_to(body.toe[s], (n, 3)))[:, 1]
    heel_y = ankle[:, 1] + _mv(G_foot, np.broadcast_to(body.heel[s], (n, 3)))[:, 1]
    need = tr.fclear[:, s]
    deficit = np.maximum(0.0, np.maximum(body.toe_h[s] + need - toe_y, need - heel_y)) * (tr.contact[:, s] < 0.5)
    return R_hip, R_knee, np.swapaxes(G_knee, -1, -2) @ G_foot, deficit


def _slerp_dir(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Great-circle interpolation of unit vectors (n, 3) by w (n,)."""
    th = np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0))
    s = np.sin(th)
    ok = s > 1e-6
    ss = np.where(ok, s, 1.0)
    wa = np.where(ok, np.sin((1 - w) * th) / ss, 1 - w)
    wb = np.where(ok, np.sin(w * th) / ss, w)
    return _unit(wa[:, None] * a + wb[:, None] * b)


_VIA = np.array([0.85, 0.0, 0.5])  # left-canonical out-and-forward, the way an arm swings up


def _blend_reach(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Blend shoulder->wrist vectors (n, 3) from a to b by w (n,).

    The direction follows a spherical Bezier curve whose middle control point leans out and forward,
    so an arm going from hanging to overhead rises through the side/front and never through the
    body (plain slerp is ill-defined for opposite directions); the length is interpolated."""
    ra, rb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    ua, ub = _unit(a), _unit(b)
    via = _unit(ua + ub + 0.35 * _VIA)
    d = _slerp_dir(_slerp_dir(ua, via, w), _slerp_dir(via, ub, w), w)
    return d * (ra + (rb - ra) * w)[:, None]


def _solve(body: _Body, tr: _Track) -> tuple[np.ndarray, np.ndarray]:
    """Targets of a whole clip -> local rotations (T, 22, 3, 3) and root positions (T, 3), float64."""
    n = tr.n
    G_p = _ry(tr.yaw + tr.pel[:, 1]) @ _rx(tr.pel[:, 0]) @ _rz(tr.pel[:, 2])
    # pelvis height: as planned, but low enough for every planted foot (knee bent >= 5 degrees)
    # (a swinging foot about to land counts too, with a nearly straight knee)
    y_max = np.full(n, _BIG)
    for s in (0, 1):
        hip = _mv(G_p, np.broadcast_to(body.hip[s], (n, 3)))
        r2 = ((tr.pxz + hip[:, [0, 2]] - tr.ankle[:, s, [0, 2]]) ** 2).sum(-1)
        near = tr.ankle[:, s, 1] < body.ankle_h[s] + 0.05
        kmin = np.where(tr.contact[:, s] > 0.5, tr.knee_min[:, s], np.maximum(tr.knee_min[:, s] - 0.05, 0.035))
        reach = body.leg_len(s, kmin)
        y_f = tr.ankle[:, s, 1] - hip[:, 1] + np.sqrt(np.maximum(reach**2 - r2, 0.0))
        y_max = np.where((tr.contact[:, s] > 0.5) | near, np.minimum(y_max, y_f), y_max)
    y_max = _smooth_below(np.minimum(y_max, body.h_stand + 0.3), 1)
    y = np.minimum(tr.y_plan, y_max) - tr.soft
    root = np.stack([tr.pxz[:, 0], y, tr.pxz[:, 1]], -1)
    R = np.zeros((n, NUM_JOINTS, 3, 3))
    R[:] = np.eye(3)
    R[:, 0] = G_p
    for s, (hj, kj, aj) in enumerate(((1, 4, 7), (2, 5, 8))):
        target = tr.ankle[:, s].copy()
        for it in range(4):
            R_hip, R_knee, R_ank, deficit = _solve_leg(body, s, tr, G_p, root, target)
            if deficit.max() < 2e-3 or it == 3:
                break
            raise_ = -_smooth_below(-deficit, 2) + 2e-3 * (deficit > 0)
            target[:, 1] += raise_ * (tr.contact[:, s] < 0.5)
        R[:, hj], R[:, kj], R[:, aj] = R_hip, R_knee, R_ank
    for j, w in ((3, 0.35), (6, 0.35), (9, 0.3)):
        R[:, j] = _aa(tr.spine * w)
    R[:, 12] = _aa(tr.neck * 0.5)
    R[:, 15] = _aa(tr.neck * 0.5)
    C = _ry(tr.pel[:, 1]) @ _rx(tr.pel[:, 0]) @ _rz(tr.pel[:, 2]) @ R[:, 3] @ R[:, 6] @ R[:, 9]
    for s, joints in ((0, (13, 16, 18, 20)), (1, (14, 17, 19, 21))):
        Cc = C if s == 0 else _M @ C @ _M
        w = np.clip(tr.ov_w[:, s], 0.0, 1.0)
        target, pole, wrist = tr.arm[:, s], tr.pole[:, s], tr.wrist[:, s]
        if (w > 0).any():
            target = _blend_reach(target, tr.ov_arm[:, s], w)
            pole = _unit(pole + (tr.ov_pole[:, s] - pole) * w[:, None])
            wrist = wrist + (tr.ov_wrist[:, s] - wrist) * w[:, None]
        base = _arm_rotations(body, s, Cc, target, pole, wrist)
        if s == 1:
            base = _M @ base @ _M
        R[:, list(joints)] = base
    return R, root


# ---------------------------------------------------------------- text


_SUBJECTS = (
    "a person",
    "someone",
    "a man",
    "a woman",
    "the person",
    "a figure",
    "an individual",
    "the man",
    "the woman",
    "a human",
)
_TIMES = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}


def _speed_word(v: float, lo: float, hi: float, slow: list[str], mid: list[str], fast: list[str]) -> list[str]:
    return slow if v < lo else fast if v > hi else mid


def _seg_text(seg: _Seg) -> dict:
    """Whole-body verb phrases (>= 3) and per-part phrases (>= 2 each) of one base action."""
    p, a = seg.params, seg.action
    parts: dict[str, list[str]] = {}

    def both_legs(x: list[str]) -> None:
        for s in _SIDE:
            parts[f"{s}_leg"] = [y.format(side=s) for y in x]

    def both_arms(x: list[str]) -> None:
        for s in _SIDE:
            parts[f"{s}_arm"] = [y.format(side=s) for y in x]

    arms_hang = ["the {side} arm hangs relaxed at the side", "the {side} arm stays down by the body"]
    legs_planted = ["the {side} leg stays planted on the ground", "the {side} foot stays in place"]
    if a in ("walk", "walk_circle"):
        v = p["speed"]
        adv = _speed_word(
            v,
            1.15,
            1.42,
            [" slowly", " at a relaxed pace", " leisurely"],
            ["", " at a normal pace", " steadily"],
            [" briskly", " quickly", " at a brisk pace"],
        )
        if a == "walk":
            whole = [
                f"walks forward{adv[0]}",
                f"walks straight ahead{adv[1]}",
                f"takes several steps forward{adv[2]}",
                f"{'strolls' if v < 1.3 else 'strides'} forward{adv[1]}",
            ]
        else:
            d = "left" if p["turn_deg"] > 0 else "right"
            rot = "counterclockwise" if d == "left" else "clockwise"
            turn = abs(p["turn_deg"])
            shape = "a full circle" if turn >= 300 else "a half circle" if turn >= 160 else "a curve"
            whole = [
                f"walks in {shape} to the {d}",
                f"walks around in {shape}, turning {d}",
                f"walks {rot} along {shape}",
                f"follows {shape} to the {d} on foot",
            ]
        both_legs(
            [
                "the {side} leg steps forward in a steady walking rhythm",
                "the {side} leg swings through and plants the heel with each stride",
            ]
        )
        both_arms(
            ["the {side} arm swings back and forth naturally", "the {side} arm swings loosely in time with the steps"]
        )
        parts["torso"] = ["the torso stays upright and moves forward", "the upper body remains upright while walking"]
        if a == "walk_circle":
            parts["torso"] = [
                f"the torso stays upright and gradually turns to the {d}",
                f"the upper body keeps facing along the path as it curves {d}",
            ]
    elif a == "jog":
        whole = [
            "jogs forward",
            "jogs ahead at an easy pace",
            "runs forward at a comfortable jog",
            "jogs straight ahead",
        ]
        both_legs(
            [
                "the {side} leg strides with a light jogging bounce",
                "the {side} knee bends high as the leg swings through",
            ]
        )
        both_arms(["the {side} arm is bent at the elbow and pumps in rhythm", "the {side} arm swings bent at the side"])
        parts["torso"] = ["the torso leans slightly forward", "the upper body tilts a little forward while jogging"]
    elif a == "run":
        fast = p["speed"] > 3.7
        whole = [
            "runs forward quickly" if fast else "runs forward",
            "sprints ahead" if fast else "runs straight ahead",
            "dashes forward",
            "runs forward at speed" if fast else "breaks into a run forward",
        ]
        both_legs(
            [
                "the {side} leg drives forward with a high knee and the heel kicks up behind",
                "the {side} leg pushes off hard and folds tightly as it swings through",
            ]
        )
        both_arms(
            [
                "the {side} arm pumps forcefully, bent at the elbow",
                "the {side} arm drives back and forth bent at about a right angle",
            ]
        )
        parts["torso"] = ["the torso leans forward", "the upper body is tilted forward into the run"]
    elif a == "walk_backward":
        whole = [
            "walks backwards",
            "steps backward",
            "backs up slowly" if p["speed"] < 0.7 else "backs up",
            "moves backwards step by step",
        ]
        both_legs(
            ["the {side} leg reaches back and steps behind the body", "the {side} foot steps backward, toes first"]
        )
        both_arms(["the {side} arm swings slightly", "the {side} arm hangs and sways a little"])
        parts["torso"] = [
            "the torso stays upright while moving backwards",
            "the upper body faces forward as the body retreats",
        ]
    elif a == "side_step":
        d = p["direction"]
        whole = [
            f"side-steps to the {d}",
            f"shuffles sideways to the {d}",
            f"steps sideways to the {d}",
            f"moves to the {d} with side steps",
        ]
        o = "right" if d == "left" else "left"
        parts[f"{d}_leg"] = [f"the {d} leg steps out to the {d}", f"the {d} foot leads each side step"]
        parts[f"{o}_leg"] = [
            f"the {o} leg follows and closes the stance",
            f"the {o} foot steps in next to the {d} foot",
        ]
        both_arms(arms_hang)
        parts["torso"] = [
            "the torso keeps facing forward while moving sideways",
            "the upper body stays upright and faces ahead",
        ]
    elif a == "turn":
        d = "left" if p["turn_deg"] > 0 else "right"
        deg = int(round(abs(p["turn_deg"]) / 45.0) * 45)
        if abs(p["turn_deg"]) >= 150:
            whole = [
                f"turns around to the {d}",
                f"turns around in place toward the {d}",
                f"spins around to the {d} on the spot",
                f"turns about {deg} degrees to the {d}",
            ]
        else:
            whole = [
                f"turns to the {d} in place",
                f"turns {d} on the spot",
                f"rotates to the {d} by about {deg} degrees",
                f"pivots to the {d}",
            ]
        both_legs(
            [f"the {{side}} foot steps around as the body turns {d}", "the {side} leg makes small stepping turns"]
        )
        both_arms(arms_hang)
        parts["torso"] = [f"the torso rotates to the {d}", f"the upper body turns {d} with the steps"]
    elif a == "jump":
        r = p["reps"]
        times = "" if r == 1 else " " + _TIMES[r]
        if p["forward"] > 0:
            whole = [
                f"jumps forward{times}",
                f"leaps forward with both feet{times}",
                f"does {r} forward jump{'s' if r > 1 else ''}",
                f"jumps ahead{times}",
            ]
        else:
            whole = [
                f"jumps in place{times}",
                f"jumps up{times}",
                f"jumps straight up{times}",
                f"does {r} vertical jump{'s' if r > 1 else ''}",
            ]
        both_legs(
            [
                "the {side} leg bends, pushes off the ground and lands softly",
                "the {side} knee crouches, then extends for the jump",
            ]
        )
        both_arms(["the {side} arm swings back and then up with the jump", "the {side} arm swings to help the jump"])
        parts["torso"] = [
            "the torso leans forward in the crouch and straightens in the air",
            "the upper body bends slightly before each take-off",
        ]
    elif a == "squat":
        r = p["reps"]
        whole = [
            f"squats down{'' if r == 1 else ' ' + _TIMES[r]}",
            f"does {r} squat{'s' if r > 1 else ''}",
            f"bends the knees into a squat{'' if r == 1 else ' ' + _TIMES[r]}",
            "squats down and stands back up" if r == 1 else f"squats {_TIMES[r]} in a row",
        ]
        both_legs(
            [
                "the {side} knee bends deeply and straightens again",
                "the {side} leg folds into the squat and extends back up",
            ]
        )
        if p["arms"] == "forward":
            both_arms(
                ["the {side} arm reaches forward for balance", "the {side} arm lifts to the front while squatting"]
            )
        else:
            both_arms(
                ["the {side} hand is held in front of the chest", "the {side} arm is bent with the hand near the chest"]
            )
        parts["torso"] = [
            "the torso leans forward as the hips go down",
            "the upper body tilts forward during each squat",
        ]
    elif a == "lunge":
        f = p["leg"]
        o = "right" if f == "left" else "left"
        whole = [
            f"lunges forward with the {f} leg",
            f"steps forward into a lunge on the {f} leg",
            f"does a forward lunge with the {f} foot",
            f"lunges forward on the {f} leg and steps back",
        ]
        parts[f"{f}_leg"] = [
            f"the {f} leg steps forward and bends deeply at the knee, then steps back",
            f"the {f} foot strides out in front and the {f} knee bends",
        ]
        parts[f"{o}_leg"] = [
            f"the {o} leg stays behind with the knee dropping toward the floor and the heel raised",
            f"the {o} knee lowers toward the ground behind the body",
        ]
        both_arms(arms_hang)
        parts["torso"] = [
            "the torso stays upright and lowers with the lunge",
            "the upper body remains upright and sinks down",
        ]
    elif a == "bow":
        deep = p["depth_deg"] > 45
        whole = [
            "bows deeply" if deep else "bows",
            "bends forward at the waist in a bow",
            "takes a bow",
            "bows forward and straightens up again",
        ]
        both_legs(["the {side} leg stays straight and planted", "the {side} foot stays in place during the bow"])
        both_arms(["the {side} arm hangs down as the body bends", "the {side} arm dangles toward the floor"])
        parts["torso"] = [
            "the torso bends forward at the hips and comes back up",
            "the upper body folds forward" + (" deeply" if deep else "") + " and rises again",
        ]
    elif a == "sit_stand":
        whole = [
            "sits down and then stands back up",
            "lowers into a sitting position and gets up again",
            "sits down as if on a chair, then rises",
            "takes a seat and stands up again",
        ]
        both_legs(
            [
                "the {side} knee bends to about a right angle while sitting, then straightens",
                "the {side} leg bends to sit down and extends to stand up",
            ]
        )
        both_arms(["the {side} hand rests on the thigh while seated", "the {side} arm moves to the lap while sitting"])
        parts["torso"] = [
            "the torso leans forward to sit down and to stand up",
            "the upper body tips forward, sits upright, then tips forward again to rise",
        ]
    elif a == "crouch":
        whole = [
            "crouches down and stands back up",
            "crouches low for a moment",
            "gets down into a crouch and rises again",
            "squats down low on the toes, then stands up",
        ]
        both_legs(["the {side} leg folds deeply with the heel lifted", "the {side} knee bends fully while crouching"])
        both_arms(["the {side} arm reaches forward and down", "the {side} arm hangs forward toward the floor"])
        parts["torso"] = ["the torso bends forward while crouching", "the upper body leans over the knees"]
    elif a == "stretch":
        if p["style"] == "overhead":
            f = p["first_side"]
            o = "right" if f == "left" else "left"
            whole = [
                f"stretches both arms overhead and leans to the {f} and then to the {o}",
                "reaches up high and bends from side to side",
                "stretches the arms up and sways the body sideways",
                f"raises both arms and stretches to the {f}, then to the {o}",
            ]
            both_arms(
                ["the {side} arm is stretched straight up overhead", "the {side} arm reaches high above the head"]
            )
            parts["torso"] = [f"the torso bends to the {f} and then to the {o}", f"the upper body leans {f}, then {o}"]
            both_legs(legs_planted)
        else:
            whole = [
                "bends down reaching toward the toes",
                "stretches by reaching down toward the feet",
                "folds forward and reaches for the toes",
                "does a forward bend toward the floor",
            ]
            both_arms(["the {side} arm reaches down toward the feet", "the {side} hand stretches toward the toes"])
            parts["torso"] = [
                "the torso folds forward and down, then rolls back up",
                "the upper body bends all the way forward",
            ]
            both_legs(["the {side} leg stays straight", "the {side} leg stays extended and planted"])
    elif a == "dance":
        extra = {
            "sway": ("swaying the arms", "the {side} arm sways from side to side"),
            "pump": ("pumping the arms overhead", "the {side} arm pumps up above the head"),
            "clap": ("clapping to the beat", "the {side} hand claps against the other in front of the chest"),
        }[p["arms"]]
        whole = [
            f"dances, stepping from side to side and {extra[0]}",
            f"dances with side steps while {extra[0]}",
            "dances to a beat with step-touches",
            f"grooves from side to side, {extra[0]}",
        ]
        both_legs(
            ["the {side} leg steps out sideways and back in rhythm", "the {side} foot taps side to side to the beat"]
        )
        both_arms([extra[1], extra[1] + " in rhythm"])
        parts["torso"] = ["the hips and torso sway to the rhythm", "the upper body bounces and sways with the steps"]
    elif a == "kick":
        f = p["leg"]
        o = "right" if f == "left" else "left"
        r = p["reps"]
        high = p["height"] > 0.8
        whole = [
            f"kicks forward with the {f} leg{'' if r == 1 else ' ' + _TIMES[r]}",
            f"does a {'high ' if high else ''}front kick with the {f} leg",
            f"kicks the {f} foot out in front{'' if r == 1 else ' ' + _TIMES[r]}",
            f"throws a {f}-legged kick",
        ]
        parts[f"{f}_leg"] = [
            f"the {f} leg lifts, snaps forward in a kick and comes back down",
            f"the {f} knee comes up and the {f} foot kicks out forward",
        ]
        parts[f"{o}_leg"] = [f"the {o} leg supports the body", f"the {o} foot stays planted for balance"]
        both_arms(["the {side} arm is raised in front in a guard", "the {side} fist is held up for balance"])
        parts["torso"] = ["the torso leans back slightly during the kick", "the upper body tilts back as the leg kicks"]
    elif a == "knee_raise":
        m = p["leg"]
        r = p["reps"]
        if m == "both":
            whole = [
                "alternately raises each knee up high",
                "marches in place with high knees",
                "lifts the left and right knees in turn",
                "does alternating knee raises",
            ]
            both_legs(
                ["the {side} knee lifts up to hip height in turn", "the {side} leg raises the knee high and lowers it"]
            )
        else:
            o = "right" if m == "left" else "left"
            tt = "" if r == 1 else " " + _TIMES[r]
            whole = [
                f"raises the {m} knee up high{tt}",
                f"lifts the {m} knee to hip height{tt}",
                f"steps up with the {m} knee{tt}",
                f"brings the {m} knee up{tt}",
            ]
            parts[f"{m}_leg"] = [
                f"the {m} knee lifts up to hip height and lowers again",
                f"the {m} leg raises the knee high",
            ]
            parts[f"{o}_leg"] = [f"the {o} leg supports the body", f"the {o} foot stays planted"]
        both_arms(arms_hang)
        parts["torso"] = ["the torso stays upright", "the upper body remains upright and balanced"]
    else:  # stand
        whole = ["stands still", "stands in place", "remains standing", "stands quietly"]
        both_legs(["the {side} leg stands still", "the {side} foot rests on the ground"])
        both_arms(arms_hang)
        parts["torso"] = ["the torso stays upright", "the upper body is still"]
    return {"whole": whole, "parts": parts}


def _overlay_text(ov: dict) -> dict:
    """Main-verb phrases, gerund phrases and arm part phrases of an arm action."""
    k, s, p = ov["action"], ov["side"], ov["params"]
    hand = "both hands" if s == "both" else f"the {s} hand"
    arm = "both arms" if s == "both" else f"the {s} arm"
    sides = ("left", "right") if s == "both" else (s,)
    parts: dict[str, list[str]] = {}
    if k == "wave":
        main = [
            f"waves {hand}",
            f"waves {hand} above the shoulder",
            f"raises {hand} and waves",
            f"waves hello with {hand}",
        ]
        ger = [f"waving {hand}", f"waving {hand} in the air", f"holding up {hand} and waving"]
        for x in sides:
            parts[f"{x}_arm"] = [
                f"the {x} arm is raised above the shoulder and the hand waves side to side",
                f"the {x} hand waves high in the air",
            ]
    elif k == "punch":
        n = p["punches"]
        if s == "both":
            main = [
                "throws alternating punches with both fists",
                f"punches forward {n} time{'s' if n > 1 else ''}, alternating hands",
                "boxes with left and right punches",
                "throws quick punches with both hands",
            ]
            ger = ["throwing punches with both fists", "punching with alternating hands", "boxing"]
            for x in sides:
                parts[f"{x}_arm"] = [
                    f"the {x} arm alternates between a guard and a straight punch forward",
                    f"the {x} fist punches straight out and returns to the chin",
                ]
        else:
            o = "right" if s == "left" else "left"
            main = [
                f"punches forward with the {s} fist" + ("" if n == 1 else f" {_TIMES[n]}"),
                f"throws {n} punch{'es' if n > 1 else ''} with the {s} hand",
                f"jabs forward with the {s} arm",
                f"strikes forward with the {s} fist",
            ]
            ger = [f"punching with the {s} fist", f"throwing {s}-handed punches", f"jabbing with the {s} arm"]
            parts[f"{s}_arm"] = [
                f"the {s} arm extends straight forward in a punch and pulls back",
                f"the {s} fist punches out in front",
            ]
            parts[f"{o}_arm"] = [
                f"the {o} arm stays bent with the fist up near the chin",
                f"the {o} hand guards the face",
            ]
    elif k == "raise":
        where = {"overhead": "above the head", "forward": "forward to shoulder height", "sideways": "out to the side"}[
            p["style"]
        ]
        main = [
            f"raises {arm} {where}",
            f"lifts {arm} {where}",
            f"puts {arm} up {where}" if p["style"] == "overhead" else f"holds {arm} out {where.replace('out ', '')}",
            f"raises {arm} {where} and lowers {'them' if s == 'both' else 'it'} again",
        ]
        ger = [f"raising {arm} {where}", f"holding {arm} {where}", f"lifting {arm} {where}"]
        for x in sides:
            parts[f"{x}_arm"] = [f"the {x} arm lifts {where} and then lowers", f"the {x} arm is raised {where}"]
    elif k == "clap":
        n = p["claps"]
        main = [
            "claps the hands",
            f"claps {n} times" if n > 1 else "claps once",
            "claps in front of the chest",
            "applauds with both hands",
        ]
        ger = ["clapping the hands", "clapping in front of the chest", "applauding"]
        for x in ("left", "right"):
            parts[f"{x}_arm"] = [
                f"the {x} hand meets the other hand in front of the chest, clapping",
                f"the {x} arm moves in and out to clap",
            ]
    elif k == "reach":
        where = {"forward": "forward", "up": "up high", "out": f"out to the {s}"}[p["style"]]
        main = [
            f"reaches {where} with the {s} hand",
            f"stretches the {s} arm {where}",
            f"reaches the {s} hand {where}",
            f"extends the {s} arm {where}",
        ]
        ger = [f"reaching {where} with the {s} hand", f"stretching the {s} arm {where}"]
        parts[f"{s}_arm"] = [f"the {s} arm extends {where} and comes back", f"the {s} hand reaches {where}"]
    else:  # throw
        main = [
            f"throws something overhand with the {s} arm",
            f"makes an overhand throw with the {s} hand",
            f"winds up and throws with the {s} arm",
            f"throws a ball with the {s} hand",
        ]
        ger = [f"throwing with the {s} arm", f"making an overhand throw with the {s} hand"]
        parts[f"{s}_arm"] = [
            f"the {s} arm winds back behind the head and whips forward",
            f"the {s} hand draws back and throws forward",
        ]
    return {"main": main, "gerund": ger, "parts": parts}


def _pick(rng: np.random.Generator, xs: list[str], k: int) -> list[str]:
    """k items of xs in a random order (repeating only when xs is shorter)."""
    order = list(rng.permutation(len(xs)))
    while len(order) < k:
        order += list(rng.permutation(len(xs)))
    return [xs[i] for i in order[:k]]


def _captions(rng: np.random.Generator, segs: list[_Seg]) -> tuple[list[str], dict[str, list[str]]]:
    """Whole-body paraphrases (4) and part paraphrases (3 each) for a clip."""
    n_cap = 4
    per_seg: list[list[str]] = []
    part_alts: list[dict[str, list[str]]] = []
    if len(segs) > 1:
        segs = [s for s in segs if not s.params.get("quiet")]
    for seg in segs:
        base = _seg_text(seg)
        parts = dict(base["parts"])
        if seg.overlay is not None:
            ov = _overlay_text(seg.overlay)
            if seg.action == "stand":
                phr = ov["main"]
            else:
                phr = [
                    f"{b} while {g}"
                    for b, g in zip(_pick(rng, base["whole"], n_cap), _pick(rng, ov["gerund"], n_cap), strict=True)
                ]
            parts.update(ov["parts"])
        else:
            phr = base["whole"]
        per_seg.append(_pick(rng, phr, n_cap))
        part_alts.append(parts)
    subj = _pick(rng, list(_SUBJECTS), n_cap)
    captions = []
    for c in range(n_cap):
        ph = [s[c] for s in per_seg]
        S = subj[c][0].upper() + subj[c][1:]
        if len(ph) == 1:
            text = [f"{S} {ph[0]}.", f"{S} {ph[0]}.", f"{S} {ph[0]}.", f"{S} {ph[0]}."][c]
        elif c % 4 == 0:
            text = (
                f"{S} {', then '.join(ph[:-1])}, and finally {ph[-1]}."
                if len(ph) > 2
                else f"{S} {ph[0]}, then {ph[1]}."
            )
        elif c % 4 == 1:
            text = f"{S} first {ph[0]} and then {' and then '.join(ph[1:])}."
        elif c % 4 == 2:
            rest = " ".join(f"After that, the {('person', 'figure', 'body')[i % 3]} {x}." for i, x in enumerate(ph[1:]))
            text = f"{S} {ph[0]}. {rest}"
        else:
            text = f"{S} {ph[0]}, " + ", ".join(f"then {x}" for x in ph[1:]) + "."
        captions.append(text)
    if len(segs) == 1:  # add MotionLib-style structure to one paraphrase for variety
        pa = part_alts[0]
        captions[3] = (
            f"{captions[3][:-1]}. Upper body: {pa['left_arm'][0]}; {pa['right_arm'][0]}. "
            f"Lower body: {pa['left_leg'][0]}; {pa['right_leg'][0]}."
        )
    part_caps: dict[str, list[str]] = {}
    for part in PART_NAMES:
        alts = []
        runs: list[list[str]] = []  # consecutive segments saying the same about this part are merged
        for pa in part_alts:
            if not runs or set(pa[part]) != set(runs[-1]):
                runs.append(pa[part])
        for c in range(3):
            pieces = []
            for opts in runs:
                pieces.append(opts[(c + int(rng.integers(len(opts)))) % len(opts)])
            line = ", then ".join(pieces) if c != 1 else "; afterwards ".join(pieces)
            alts.append(line[0].upper() + line[1:] + ".")
        # make sure the paraphrases are distinct
        seen: list[str] = []
        for x in alts:
            if x not in seen:
                seen.append(x)
        if len(seen) < 2:
            alt = " and later ".join(r[-1] for r in runs) if len(runs) > 1 else runs[0][-1] + " throughout"
            seen.append(alt[0].upper() + alt[1:] + ".")
        if len(seen) < 2:
            seen.append(seen[0][:-1] + " the whole time.")
        part_caps[part] = seen
    return captions, part_caps


# ---------------------------------------------------------------- plan and generate

_BUILDERS = {
    "walk": lambda c, b: _b_locomotion(c, "walk", b),
    "jog": lambda c, b: _b_locomotion(c, "jog", b),
    "run": lambda c, b: _b_locomotion(c, "run", b),
    "walk_backward": lambda c, b: _b_locomotion(c, "walk_backward", b),
    "walk_circle": lambda c, b: _b_locomotion(c, "walk_circle", b),
    "side_step": _b_side_step,
    "turn": _b_turn,
    "jump": _b_jump,
    "squat": _b_squat,
    "lunge": _b_lunge,
    "bow": _b_bow,
    "sit_stand": _b_sit_stand,
    "crouch": _b_crouch,
    "stretch": _b_stretch,
    "dance": _b_dance,
    "kick": _b_kick,
    "knee_raise": _b_knee_raise,
}


def _choose(rng: np.random.Generator, names: list[str], weights: list[float]) -> str:
    w = np.asarray(weights, dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _plan_segments(ctx: _Ctx, cfg: SyntheticConfig) -> list[_Seg]:
    rng = ctx.rng
    n_seg = int(rng.choice(3, p=np.asarray(cfg.segment_weights) / sum(cfg.segment_weights))) + 1
    fams = [f for f in ACTION_FAMILIES if cfg.family_weights.get(f, 0) > 0]
    segs: list[_Seg] = []
    used = 0.0
    for _k in range(n_seg):
        budget = cfg.max_seconds - used
        if budget < 1.5:
            break
        fam = _choose(rng, fams, [cfg.family_weights[f] for f in fams])
        acts = [a for a in ACTION_FAMILIES[fam] if cfg.action_weights.get(a, 1.0) > 0]
        if not acts:
            continue
        act = _choose(rng, acts, [cfg.action_weights.get(a, 1.0) for a in acts])
        seg: _Seg | None
        if fam == "arms":
            if budget < _OVERLAY_MIN[act]:
                continue
            seg = _b_stand(ctx, rng.uniform(_OVERLAY_MIN[act], min(budget, 5.0)))
            _add_overlay(ctx, seg, act, whole=True)
        else:
            seg = _BUILDERS[act](ctx, budget)
            if seg is None:
                continue
            if act in ("walk", "walk_backward", "walk_circle", "side_step", "turn") and rng.random() < cfg.overlay_prob:
                _add_overlay(ctx, seg, _ON_LOCOMOTION[int(rng.integers(len(_ON_LOCOMOTION)))], whole=False)
        segs.append(seg)
        used += seg.tr.n / ctx.fps
        ctx.state = seg.end
    if not segs or used < cfg.min_seconds:
        seg = _b_stand(ctx, max(cfg.min_seconds - used, 0.0) + 0.25)
        if segs and seg.tr.n / ctx.fps < 1.0:
            seg.params["quiet"] = True
        segs.append(seg)
    return segs


def _concat(body: _Body, segs: list[_Seg]) -> _Track:
    n = sum(s.tr.n for s in segs)
    out = _Track.__new__(_Track)
    out.n = n
    for name in (
        "pxz",
        "y_plan",
        "soft",
        "yaw",
        "pel",
        "spine",
        "neck",
        "ankle",
        "fyaw",
        "fpitch",
        "contact",
        "flocal",
        "flocal_w",
        "fclear",
        "knee_min",
        "arm",
        "pole",
        "wrist",
        "ov_arm",
        "ov_pole",
        "ov_wrist",
        "ov_w",
    ):
        setattr(out, name, np.concatenate([getattr(s.tr, name) for s in segs], axis=0))
    return out


def _plain(x: object) -> object:
    """numpy scalars -> Python numbers, recursively (meta stays JSON-friendly)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def generate_motion(index: int, config: SyntheticConfig | None = None) -> Motion:
    """Motion number ``index`` of the synthetic corpus (deterministic in (config.seed, index), 2-10 s).

    ``meta`` holds ``caption`` (4 whole-body paraphrases), ``part_captions`` (torso, left_arm,
    right_arm, left_leg, right_leg -> >= 2 paraphrases), ``labels`` (action labels in order),
    ``part_labels`` (part -> label of its longest-lasting action), ``params`` (one dict per segment:
    action, label, frames [start, end), its parameters, and ``overlay`` for an arm action), ``source``,
    ``index`` and ``seed``.
    """
    cfg = SyntheticConfig() if config is None else config
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    rng = np.random.default_rng([cfg.seed, index])
    betas = _sample_betas(rng, cfg)
    body = _Body(betas)
    yaw0 = rng.uniform(-np.pi, np.pi)
    ctx = _Ctx(body, rng, cfg.fps, _standing_state(body, np.zeros(2), yaw0))
    segs = _plan_segments(ctx, cfg)
    tr = _concat(body, segs)
    R, root = _solve(body, tr)
    captions, part_caps = _captions(rng, segs)
    labels: list[str] = []
    params: list[dict] = []
    start = 0
    dur_by_part: dict[str, dict[str, int]] = {p: {} for p in PART_NAMES}
    for seg in segs:
        for lab in [seg.label] + ([seg.overlay["label"]] if seg.overlay else []):
            if lab not in labels and not seg.params.get("quiet"):
                labels.append(lab)
        d = {"action": seg.action, "label": seg.label, "frames": [start, start + seg.tr.n], **_plain(seg.params)}
        if seg.overlay:
            ov = dict(seg.overlay)
            ov["frames_full"] = [ov["frames_full"][0] + start, ov["frames_full"][1] + start]
            d["overlay"] = _plain(ov)
        params.append(d)
        for p in PART_NAMES:
            lab = seg.part_labels[p]
            dur_by_part[p][lab] = dur_by_part[p].get(lab, 0) + seg.tr.n
        start += seg.tr.n
    part_labels = {p: max(v.items(), key=lambda kv: kv[1])[0] for p, v in dur_by_part.items()}
    meta = {
        "caption": captions,
        "part_captions": part_caps,
        "labels": labels,
        "part_labels": part_labels,
        "params": params,
        "source": "synthetic",
        "index": int(index),
        "seed": int(cfg.seed),
    }
    return Motion(
        torch.from_numpy(R.astype(np.float32)), torch.from_numpy(root.astype(np.float32)), betas, cfg.fps, meta
    )


def generate_corpus(n: int, config: SyntheticConfig | None = None, start: int = 0) -> Iterator[Motion]:
    """Motions ``start .. start + n - 1`` of the corpus, one at a time."""
    cfg = SyntheticConfig() if config is None else config
    for i in range(start, start + n):
        yield generate_motion(i, cfg)


def generator_fingerprint(seed: int = 0, n: int = 16) -> str:
    """``sha256:<16 hex>`` of the first ``n`` motions this generator makes for ``seed`` (D135 features and
    captions): it changes exactly when the generator's output does. Stores built from the generator record it,
    so a stale built-in corpus is rebuilt, and the reference models' card records the corpus they were trained on."""
    import hashlib
    import json

    h = hashlib.sha256()
    for i in range(n):
        m = generate_motion(i, SyntheticConfig(seed=seed))
        h.update(np.ascontiguousarray(m.to_d135().numpy(), dtype=np.float32).tobytes())
        h.update(json.dumps(m.meta.get("caption"), sort_keys=True).encode())
    return "sha256:" + h.hexdigest()[:16]
