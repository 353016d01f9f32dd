"""Arm actions laid over another behaviour: waves, punches, raised arms, claps, reaches, throws."""

from __future__ import annotations

import math

import numpy as np

from motionbook_lib.data.synthetic.body import _DEFAULT_POLE, _arm_target, _Ctx, _Seg, _Track
from motionbook_lib.data.synthetic.config import _BLEND, _SIDE, _SIGN
from motionbook_lib.data.synthetic.geometry import _keys, _window

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


