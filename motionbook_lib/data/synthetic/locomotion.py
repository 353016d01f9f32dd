"""Locomotion behaviours: walking, jogging, running (forward, backward, circles), turning, side steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from motionbook_lib.data.synthetic.body import (
    _Body,
    _Ctx,
    _end_state,
    _foot_track,
    _Seg,
    _Stance,
    _stepping_upper_body,
    _support_pelvis,
    _Track,
)
from motionbook_lib.data.synthetic.config import _BIG, _SIDE, _SIGN, LEFT, PART_NAMES, RIGHT
from motionbook_lib.data.synthetic.geometry import _fwd, _gauss, _left, _ramp, _rot2, _window

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


