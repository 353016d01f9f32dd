"""The generated body: its proportions, per-segment joint-target tracks, feet and the shared stepping dynamics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from motionbook_lib.data.synthetic.config import _BIG, _M, LEFT, RIGHT, SyntheticConfig
from motionbook_lib.data.synthetic.geometry import _bump, _fwd, _gauss, _left, _mv, _rot2, _rx, _ry, _ss, _unit, _wrap
from motionbook_lib.skeleton import NUM_BETAS, PARENTS, load_calibration

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


