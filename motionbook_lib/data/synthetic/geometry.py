"""Small float64 numpy helpers of the generator: rotations, easing curves, keyframes, headings."""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motionbook_lib.data.quality import matrix_to_quaternion_np

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


