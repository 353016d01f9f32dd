"""Foot locking at decode: a decoded motion's planted feet stop sliding.

A tokenizer (or M0 through it) decodes the root's velocity and the pose separately, so a foot that should stand
on the ground drifts a little each frame (foot skating). :func:`lock_feet` works on the decoded motion alone:

1. the root's XZ path is moved by the opposite of the planted feet's slide from each frame to the next (smoothed
   over a frame or so), which removes what the feet share;
2. each stance (a run of frames with the foot near the ground, planted at least once) is held by two-bone IK of
   the leg: the joint bearing the weight (the heel after touch-down, the ball at push-off) keeps its place, the
   foot keeps its decoded orientation and pivots about it, the hip and knee turn to reach; the hold ramps in and
   out over a few frames while the foot is in the air.

Only the root's XZ path and the hip, knee and ankle rotations change; the root height and heading, the spine,
arms and head stay bit for bit as decoded.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from motionbook_lib.data.quality import FOOT_JOINTS, _clearance, foot_contacts
from motionbook_lib.features.d135 import decode_d135, encode_d135
from motionbook_lib.skeleton import DEFAULT_FPS, Skeleton, forward_kinematics, forward_kinematics_transforms

__all__ = ["lock_feet"]

def _step_fix(joints: np.ndarray, fps: float, contact_height: float, contact_speed: float) -> np.ndarray:
    """(T-1, 2) root XZ correction per step: minus the mean slide of the feet planted over that step. A foot is
    planted over a step when one of its joints (heel, ball) stays within ``contact_height`` of its planted height
    and moves slower than ``contact_speed``; its slide is that joint's (the slowest such joint's) displacement."""
    c = _clearance(joints, FOOT_JOINTS, None)
    f = joints[:, list(FOOT_JOINTS)]  # (T, 4, 3): left ankle, left toe, right ankle, right toe
    h = f[..., 1] - c
    d = np.diff(f[..., [0, 2]], axis=0)  # (T-1, 4, 2)
    speed = np.linalg.norm(d, axis=-1) * fps  # (T-1, 4)
    ok = (h[:-1] < contact_height) & (h[1:] < contact_height) & (speed < contact_speed)  # (T-1, 4)
    fix = np.zeros((len(d), 2))
    n = np.zeros((len(d), 1))
    for a, b in ((0, 1), (2, 3)):
        sp = np.where(ok[:, [a, b]], speed[:, [a, b]], np.inf)
        pick = np.where(sp[:, 0] <= sp[:, 1], a, b)  # the slower planted joint of this foot
        planted = ok[:, a] | ok[:, b]
        fix -= np.where(planted[:, None], d[np.arange(len(d)), pick], 0.0)
        n += planted[:, None]
    return np.where(n > 0, fix / np.maximum(n, 1), 0.0)


_LEGS = ((1, 4, 7), (2, 5, 8))  # (hip, knee, ankle) of the left and the right leg


def _rodrigues(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(N, 3) unit axes, (N,) angles -> (N, 3, 3) rotation matrices."""
    k = axis
    K = np.zeros((len(k), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 0] = -k[:, 2], k[:, 1], k[:, 2]
    K[:, 1, 2], K[:, 2, 0], K[:, 2, 1] = -k[:, 0], -k[:, 1], k[:, 0]
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * K + (1 - c) * (K @ K)


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12), n[..., 0]


def _stance(joints: np.ndarray, fps: float, contact_height: float, contact_speed: float) -> np.ndarray:
    """(T, 2) bool per foot: the whole run of frames in which the foot is near the ground (heel or ball within
    ``contact_height`` of its planted height), for runs where it is also planted (slower than ``contact_speed``)
    at least once. Holding the foot over the whole run moves the hand-over to the decoded swing into frames where
    the foot is in the air, where no sliding can be seen."""
    c = _clearance(joints, FOOT_JOINTS, None)
    low4 = joints[:, list(FOOT_JOINTS), 1] - c < contact_height  # (T, 4)
    planted = foot_contacts(joints, fps, contact_height, contact_speed)  # (T, 2)
    out = np.zeros_like(planted)
    for f, (a, b) in enumerate(((0, 1), (2, 3))):
        low = low4[:, a] | low4[:, b]
        t = 0
        while t < len(low):
            if not low[t]:
                t += 1
                continue
            e = t
            while e < len(low) and low[e]:
                e += 1
            if planted[t:e, f].any():
                out[t:e, f] = True
            t = e
    return out


def _contact_targets(
    stance: np.ndarray, ankle: np.ndarray, toe: np.ndarray, h_ankle: np.ndarray, h_toe: np.ndarray, ramp: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: where the ankle should be (T, 3) and how much (T,) in [0, 1].

    Over each stance run the foot turns about whichever of its joints is lower (the heel after touch-down, the
    ball at push-off): that joint's XZ is held from the frame it takes the weight, and the ankle is placed so the
    foot, in its decoded orientation, pivots about it (its height stays as decoded). The weight ramps in and out
    over ``ramp`` frames outside the run, where the foot is in the air."""
    T = len(stance)
    target, weight = ankle.copy(), np.zeros(T)
    lever = (toe - ankle)[:, [0, 2]]  # (T, 2) ankle -> ball of the foot, as decoded
    t = 0
    while t < T:
        if not stance[t]:
            t += 1
            continue
        e = t
        while e < T and stance[e]:
            e += 1
        pivot_toe = h_toe[t:e] < h_ankle[t:e]
        pin = toe[t, [0, 2]] if pivot_toe[0] else ankle[t, [0, 2]]  # XZ of the joint bearing the weight
        xz = np.empty((e - t, 2))
        for i in range(e - t):
            if i and pivot_toe[i] != pivot_toe[i - 1]:  # hand the weight over: the foot does not move
                pin = pin + (lever[t + i] if pivot_toe[i] else -lever[t + i])
            xz[i] = pin - lever[t + i] if pivot_toe[i] else pin
        for i in range(max(t - ramp, 0), min(e + ramp, T)):
            w = 1.0 if t <= i < e else 1.0 - (t - i if i < t else i - e + 1) / (ramp + 1)
            if w > weight[i]:
                weight[i] = w
                target[i, [0, 2]] = xz[min(max(i - t, 0), e - t - 1)]
        t = e
    return target, weight


def _leg_ik(G: np.ndarray, P: np.ndarray, leg: tuple[int, int, int], goal: np.ndarray) -> None:
    """Two-bone IK in place: global rotations G (T, 22, 3, 3) and positions P (T, 22, 3) of the leg
    (hip, knee, ankle) changed so that the ankle reaches ``goal`` (T, 3) where it can; the foot keeps its global
    orientation (the caller re-derives local rotations)."""
    h, k, a = leg
    l1 = np.linalg.norm(P[:, k] - P[:, h], axis=-1)
    l2 = np.linalg.norm(P[:, a] - P[:, k], axis=-1)
    u, v = P[:, h] - P[:, k], P[:, a] - P[:, k]
    cos_now = np.clip((u * v).sum(-1) / np.maximum(l1 * l2, 1e-12), -1, 1)
    d_goal = np.clip(np.linalg.norm(goal - P[:, h], axis=-1), np.abs(l1 - l2) + 1e-4, l1 + l2 - 1e-4)
    cos_goal = np.clip((l1**2 + l2**2 - d_goal**2) / (2 * l1 * l2), -1, 1)
    n, nn = _unit(np.cross(u, v))
    straight = nn < 1e-6 * np.maximum(l1 * l2, 1e-12)
    n[straight] = -G[straight, k, :, 0]  # a straight leg bends about the knee's flexion axis (local +X)
    bend = _rodrigues(n, np.arccos(cos_goal) - np.arccos(cos_now))  # about the knee, world frame
    foot = G[:, a].copy()
    G[:, k] = bend @ G[:, k]
    P[:, a] = P[:, k] + (bend @ v[..., None])[..., 0]
    cur, _ = _unit(P[:, a] - P[:, h])
    want, _ = _unit(goal - P[:, h])
    m, mn = _unit(np.cross(cur, want))
    swing = _rodrigues(m, np.arctan2(mn, (cur * want).sum(-1)))
    swing[mn < 1e-9] = np.eye(3)
    G[:, h] = swing @ G[:, h]
    G[:, k] = swing @ G[:, k]
    P[:, k] = P[:, h] + (swing @ (P[:, k] - P[:, h])[..., None])[..., 0]
    P[:, a] = P[:, h] + (swing @ (P[:, a] - P[:, h])[..., None])[..., 0]
    G[:, a] = foot


def lock_feet(
    features: torch.Tensor | np.ndarray,
    skeleton: Skeleton | None = None,
    fps: float = DEFAULT_FPS,
    contact_height: float = 0.05,
    contact_speed: float = 0.6,
    strength: float = 1.0,
    smooth: float = 1.0,
    ik: bool = True,
    ramp: int = 3,
) -> torch.Tensor:
    """Features (T, 135) raw D135 -> the same motion with its planted feet held in place (see the module).

    ``strength`` in [0, 1] scales the correction (0 returns the motion unchanged); ``contact_height`` (m above
    the planted height) and ``contact_speed`` (m/s) decide what counts as planted.
    """
    feat = torch.as_tensor(features)
    if feat.ndim != 2 or feat.shape[-1] != 135:
        raise ValueError(f"features must have shape (T, 135), got {tuple(feat.shape)}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    if feat.shape[0] < 3 or strength == 0.0:
        return feat.clone()
    dtype = feat.dtype
    x = feat.double()
    local_rot, root_pos = decode_d135(x)  # (T, 22, 3, 3), (T, 3)
    skeleton = skeleton or Skeleton()
    joints = forward_kinematics(local_rot, root_pos, skeleton.offsets(torch.float64, x.device)).cpu().numpy()
    step_fix = _step_fix(joints, fps, contact_height, contact_speed)  # (T-1, 2)
    if smooth > 0:
        step_fix = gaussian_filter1d(step_fix, smooth, axis=0, mode="nearest")
    shift = np.concatenate([np.zeros((1, 2)), np.cumsum(strength * step_fix, axis=0)])  # (T, 2)
    root = root_pos.clone()
    root[:, [0, 2]] += torch.from_numpy(shift).to(root)
    rot = local_rot
    if ik:
        offsets = skeleton.offsets(torch.float64, x.device)
        G, P = (t.cpu().numpy().copy() for t in forward_kinematics_transforms(local_rot, root, offsets))
        planted = _stance(P, fps, contact_height, contact_speed)  # (T, 2) on the root-corrected motion
        heights = P[:, list(FOOT_JOINTS), 1] - _clearance(P, FOOT_JOINTS, None)  # (T, 4) above planted height
        for f, leg in enumerate(_LEGS):
            goal, w = _contact_targets(planted[:, f], P[:, leg[2]], P[:, FOOT_JOINTS[2 * f + 1]],
                                       heights[:, 2 * f], heights[:, 2 * f + 1], ramp)  # fmt: skip
            on = w > 0  # frames away from any contact keep their decoded leg exactly
            if on.any():
                g, p = G[on], P[on]
                _leg_ik(g, p, leg, p[:, leg[2]] + strength * w[on, None] * (goal[on] - p[:, leg[2]]))
                G[on], P[on] = g, p
        L = local_rot.cpu().numpy().copy()
        for h, k, a in _LEGS:  # local = parent global^T @ global, for the three joints of each leg
            L[:, h] = np.swapaxes(G[:, 0], -1, -2) @ G[:, h]
            L[:, k] = np.swapaxes(G[:, h], -1, -2) @ G[:, k]
            L[:, a] = np.swapaxes(G[:, k], -1, -2) @ G[:, a]
        rot = torch.from_numpy(L).to(local_rot)
    out = encode_d135(rot, root)  # (T, 135)
    keep = [c for c in range(135) if not (6 <= c < 8) and (not ik or c not in _leg_channels())]
    out[:, keep] = x[:, keep]  # everything the lock did not change stays bit for bit as decoded
    return out.to(dtype)


def _leg_channels() -> set[int]:
    """D135 channels of the hips, knees and ankles (6D local rotations)."""
    return {9 + 6 * (j - 1) + i for leg in _LEGS for j in leg for i in range(6)}
