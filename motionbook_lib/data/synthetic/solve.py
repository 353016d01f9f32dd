"""From joint targets to joint rotations: two-bone IK of the arms and legs and the whole-body solve."""

from __future__ import annotations

import math

import numpy as np

from motionbook_lib.data.synthetic.body import _Body, _Track
from motionbook_lib.data.synthetic.config import _BIG, _M
from motionbook_lib.data.synthetic.geometry import (
    _aa,
    _axis_rot,
    _frame,
    _mv,
    _rx,
    _ry,
    _rz,
    _slerp,
    _smooth_below,
    _unit,
)
from motionbook_lib.skeleton import NUM_JOINTS

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


