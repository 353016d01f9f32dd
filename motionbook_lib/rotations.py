"""Vectorized rotation conversions in torch.

Conventions used everywhere in motionbook:

- rotation matrices act on column vectors: ``v_world = R @ v_local``; shape (..., 3, 3);
- quaternions are scalar-first ``(w, x, y, z)``; shape (..., 4) (scipy uses scalar-last);
- axis-angle is the rotation vector ``angle * axis``; shape (..., 3);
- the continuous 6D representation (Zhou et al. 2019) is the first two *columns*
  of the matrix, concatenated: ``[R[:, 0], R[:, 1]]``; shape (..., 6).

Every function accepts any number of leading batch dimensions, is differentiable,
and accepts numpy arrays too (the result is then a numpy array).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

F_ = TypeVar("F_", bound=Callable[..., Any])


def _numpy_in_numpy_out(fn: F_) -> F_:
    """Let a torch function take numpy arrays and give numpy back."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        is_numpy = any(isinstance(a, np.ndarray) for a in args)
        if not is_numpy:
            return fn(*args, **kwargs)
        targs = [torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args]
        return fn(*targs, **kwargs).numpy()

    return wrapper  # type: ignore[return-value]


def _check_last(x: torch.Tensor, shape: tuple[int, ...], name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if tuple(x.shape[-len(shape) :]) != shape or x.dim() < len(shape):
        want = ", ".join(["..."] + [str(s) for s in shape])
        raise ValueError(f"{name} must have shape ({want}), got {tuple(x.shape)}")


def check_finite(x: torch.Tensor | np.ndarray, name: str) -> None:
    """Raise ValueError naming ``name`` if ``x`` holds NaN or inf."""
    bad = ~torch.isfinite(x) if isinstance(x, torch.Tensor) else ~np.isfinite(x)
    if bool(bad.any()):
        n = int(bad.sum())
        raise ValueError(f"{name} contains {n} NaN/inf value(s) (shape {tuple(x.shape)})")


def check_rotation_matrix(R: torch.Tensor, name: str, atol: float = 1e-3) -> None:
    """Raise ValueError unless every (3, 3) block of ``R`` is a proper rotation."""
    _check_last(R, (3, 3), name)
    check_finite(R, name)
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    ortho_err = (R.transpose(-1, -2) @ R - eye).abs().amax(dim=(-1, -2))
    det = torch.linalg.det(R.double() if R.dtype == torch.float16 else R)
    bad = (ortho_err > atol) | (det < 0)
    if bool(bad.any()):
        worst = float(ortho_err.max())
        raise ValueError(
            f"{name} must hold orthonormal rotation matrices with det +1 (shape (..., 3, 3)); "
            f"{int(bad.sum())} are not (max |R^T R - I| = {worst:.2e}, min det = {float(det.min()):.3f})"
        )


# ---------------------------------------------------------------- axis-angle


@_numpy_in_numpy_out
def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 3, 3) matrices (Rodrigues, stable near 0)."""
    _check_last(aa, (3,), "axis_angle")
    theta2 = (aa * aa).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < 1e-8
    safe2 = torch.where(small, torch.ones_like(theta2), theta2)
    theta = safe2.sqrt()
    # sin(t)/t and (1-cos t)/t^2 with Taylor series near zero
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / safe2)
    K = skew(aa)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(K.shape)
    return eye + a * K + b * (K @ K)


def skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrices."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape, 3)


@_numpy_in_numpy_out
def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) rotation vectors with angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


# ---------------------------------------------------------------- quaternions


@_numpy_in_numpy_out
def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z), normalised here -> (..., 3, 3)."""
    _check_last(q, (4,), "quaternion")
    q = F.normalize(q, dim=-1)
    w, x, y, z = q.unbind(-1)
    m = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(m, dim=-1).reshape(*q.shape[:-1], 3, 3)


@_numpy_in_numpy_out
def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z) with w >= 0.

    Computes all four candidate solutions and keeps, per rotation, the one built
    from the largest diagonal term, which is well conditioned.
    """
    _check_last(R, (3, 3), "matrix")
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4|q_i|^2 for i = w, x, y, z
    diag = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    four_q = 2 * diag.clamp_min(1e-12).sqrt()  # 4 * |q_i|
    cands = torch.stack(
        [
            torch.stack([four_q[..., 0] ** 2 / 4, m21 - m12, m02 - m20, m10 - m01], -1),
            torch.stack([m21 - m12, four_q[..., 1] ** 2 / 4, m10 + m01, m02 + m20], -1),
            torch.stack([m02 - m20, m10 + m01, four_q[..., 2] ** 2 / 4, m12 + m21], -1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, four_q[..., 3] ** 2 / 4], -1),
        ],
        dim=-2,
    ) / four_q[..., :, None]  # (..., 4 candidates, 4)
    best = diag.argmax(dim=-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


@_numpy_in_numpy_out
def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions -> (..., 3) rotation vectors with angle in [0, pi]."""
    _check_last(q, (4,), "quaternion")
    q = F.normalize(q, dim=-1)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, v = q[..., :1], q[..., 1:]
    n = v.norm(dim=-1, keepdim=True)
    small = n < 1e-6
    safe_n = torch.where(small, torch.ones_like(n), n)
    # angle / sin(angle / 2), with its limit 2 / w near the identity
    factor = torch.where(small, 2 / w.clamp_min(1e-12) - (n * n) / 3, 2 * torch.atan2(n, w) / safe_n)
    return v * factor


@_numpy_in_numpy_out
def axis_angle_to_quaternion(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) rotation vectors -> (..., 4) unit quaternions (w, x, y, z)."""
    _check_last(aa, (3,), "axis_angle")
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < 1e-8
    theta = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    half_sinc = torch.where(small, 0.5 - theta2 / 48, torch.sin(theta / 2) / theta)
    w = torch.where(small, 1 - theta2 / 8, torch.cos(theta / 2))
    return torch.cat([w, aa * half_sinc], dim=-1)


@_numpy_in_numpy_out
def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a * b`` of (..., 4) quaternions (rotation b, then a)."""
    _check_last(a, (4,), "a")
    _check_last(b, (4,), "b")
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


@_numpy_in_numpy_out
def quaternion_apply(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate (..., 3) vectors by (..., 4) unit quaternions."""
    _check_last(q, (4,), "quaternion")
    _check_last(v, (3,), "vector")
    w, u = q[..., :1], q[..., 1:]
    t = 2 * torch.linalg.cross(u, v, dim=-1)
    return v + w * t + torch.linalg.cross(u, t, dim=-1)


def quaternion_conjugate(q: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion."""
    return q * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=q.dtype, device=q.device)


# ---------------------------------------------------------------- 6D


@_numpy_in_numpy_out
def matrix_to_rotation_6d(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): first two columns, ``[R[:, 0], R[:, 1]]``."""
    _check_last(R, (3, 3), "matrix")
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


@_numpy_in_numpy_out
def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; any non-degenerate 6D vector maps to a rotation."""
    _check_last(d6, (6,), "rotation_6d")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


# ---------------------------------------------------------------- yaw helpers (Y up)


@_numpy_in_numpy_out
def yaw_to_matrix(yaw: torch.Tensor) -> torch.Tensor:
    """(...) angles about +Y (radians) -> (..., 3, 3); yaw 0 faces +Z, pi/2 faces +X."""
    c, s = torch.cos(yaw), torch.sin(yaw)
    o, one = torch.zeros_like(yaw), torch.ones_like(yaw)
    return torch.stack([c, o, s, o, one, o, -s, o, c], dim=-1).reshape(*yaw.shape, 3, 3)


@_numpy_in_numpy_out
def heading_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (...) yaw of the frame's local +Z axis projected on the floor.

    For the SMPL pelvis, local +Z points forward, so this is the facing direction.
    Ill-defined only when the forward axis is vertical (lying flat); then it
    falls back to the local +Y axis (the direction of the head seen from above).
    """
    _check_last(R, (3, 3), "matrix")
    fwd = R[..., :, 2]
    up = R[..., :, 1]
    flat = (fwd[..., 0] ** 2 + fwd[..., 2] ** 2) < 1e-10
    d = torch.where(flat[..., None], up, fwd)
    return torch.atan2(d[..., 0], d[..., 2])
