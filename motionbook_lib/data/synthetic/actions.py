"""Whole-body and leg behaviours: jumps, squats, lunges, bows, sitting, crouching, stretching, dancing, kicks,
knee raises, standing."""

from __future__ import annotations

import math

import numpy as np

from motionbook_lib.data.synthetic.body import (
    _arm_target,
    _Ctx,
    _end_state,
    _foot_track,
    _planted,
    _Seg,
    _Stance,
    _State,
    _Track,
)
from motionbook_lib.data.synthetic.config import _BIG, _GRAV, _SIDE, _SIGN, LEFT, PART_NAMES, RIGHT
from motionbook_lib.data.synthetic.geometry import _fwd, _keys, _left, _ramp, _rot2, _ss, _window
from motionbook_lib.data.synthetic.locomotion import _GAITS, _Gait, _steps_first

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


