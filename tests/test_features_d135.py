"""The Motionbook SMPL-D135 feature: layout, lossless round trip, bad input."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motionbook_lib.features import (
    D135_DIM,
    canonicalize,
    d135_channel_names,
    d135_part_channels,
    d135_to_joints,
    decode_d135,
    encode_d135,
)
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_matrix, heading_angle
from motionbook_lib.skeleton import Skeleton, bone_offsets, forward_kinematics

BOUND_M = 1e-4  # the promised joint round-trip bound


def random_motion(seed: int, B: int = 3, T: int = 90, smooth: bool = False):
    """Random rotations (any pose, any heading) or smooth procedural ones, and a wandering root."""
    g = torch.Generator().manual_seed(seed)
    if smooth:
        t = torch.arange(T, dtype=torch.float32)[:, None, None] / 20.0
        freq = torch.rand(B, 1, 22, 3, generator=g) * 2 + 0.3
        phase = torch.rand(B, 1, 22, 3, generator=g) * 6.28
        amp = torch.rand(B, 1, 22, 3, generator=g) * 0.8
        aa = amp * torch.sin(2 * math.pi * freq * t + phase)
        aa[..., 0, 1] += torch.linspace(0, 7.0, T)  # root keeps turning, past 360 degrees
    else:
        aa = torch.randn(B, T, 22, 3, generator=g) * 1.5
    R = axis_angle_to_matrix(aa)
    root = torch.cumsum(torch.randn(B, T, 3, generator=g) * 0.04, dim=1) + torch.tensor([0.5, 0.9, -2.0])
    return R, root


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.integers(1, 70))
def test_joint_round_trip_within_bound(seed, smooth, T):
    R, root = random_motion(seed, T=T, smooth=smooth)
    betas = torch.randn(3, 10, generator=torch.Generator().manual_seed(seed)).double()
    off = bone_offsets(betas).float()
    feat = encode_d135(R, root)
    assert feat.shape == (3, T, D135_DIM)
    joints = forward_kinematics(R, root, off)
    back = d135_to_joints(feat, off, root_xz0=root[:, 0, [0, 2]])
    err = (back - joints).norm(dim=-1).max().item()
    assert err <= BOUND_M, f"D135 joint round trip error {err:.2e} m exceeds {BOUND_M} m"
    R2, root2 = decode_d135(feat, root_xz0=root[:, 0, [0, 2]])
    assert (R2 - R).abs().max() < 1e-5
    assert (root2 - root).abs().max() < BOUND_M


def test_long_clip_does_not_drift():
    R, root = random_motion(7, B=1, T=2000, smooth=True)
    feat = encode_d135(R, root)
    _, root2 = decode_d135(feat, root_xz0=root[:, 0, [0, 2]])
    assert (root2 - root).abs().max() < BOUND_M


def test_velocity_is_heading_invariant():
    R, root = random_motion(1, smooth=True)
    Rc, rootc = canonicalize(R, root)
    f, fc = encode_d135(R, root), encode_d135(Rc, rootc)
    torch.testing.assert_close(f[..., 6:], fc[..., 6:], atol=1e-5, rtol=0)
    # canonical: starts above the origin, facing +Z
    assert rootc[:, 0, [0, 2]].abs().max() < 1e-6
    assert heading_angle(Rc[:, 0, 0]).abs().max() < 1e-5
    # the body moves rigidly: pairwise joint distances are kept
    off = Skeleton().offsets()
    J, Jc = forward_kinematics(R, root, off), forward_kinematics(Rc, rootc, off)
    torch.testing.assert_close(torch.cdist(J[0], J[0]), torch.cdist(Jc[0], Jc[0]), atol=1e-4, rtol=0)


def test_walking_forward_has_positive_forward_velocity():
    T = 40
    yaw = torch.full((T,), 0.7)
    aa = torch.zeros(T, 22, 3)
    aa[:, 0, 1] = yaw
    R = axis_angle_to_matrix(aa)
    fwd = torch.stack([torch.sin(yaw), torch.zeros(T), torch.cos(yaw)], -1)
    root = torch.arange(T)[:, None] * 0.06 * fwd + torch.tensor([0, 0.95, 0])
    feat = encode_d135(R, root)
    torch.testing.assert_close(feat[:, 6], torch.zeros(T), atol=1e-6, rtol=0)  # no sideways motion
    torch.testing.assert_close(feat[:, 7], torch.full((T,), 0.06), atol=1e-6, rtol=0)  # 0.06 m/frame forward
    torch.testing.assert_close(feat[:, 8], torch.full((T,), 0.95))


def test_layout_names_and_parts():
    names = d135_channel_names()
    assert len(names) == 135 and len(set(names)) == 135
    assert names[:9] == [f"root_rot6d_{i}" for i in range(6)] + ["root_vel_x", "root_vel_z", "root_height"]
    assert names[9] == "left_hip_rot6d_0" and names[-1] == "right_wrist_rot6d_5"
    parts = d135_part_channels()
    flat = sorted(c for ch in parts.values() for c in ch)
    assert flat == list(range(135))
    assert all(names[c].startswith(("left_shoulder", "left_elbow", "left_wrist", "left_collar"))
               for c in parts["left_arm"])  # fmt: skip


def test_motion_class_round_trip():
    R, root = random_motion(2, B=1, T=30, smooth=True)
    m = Motion(R[0], root[0], betas=np.linspace(-1, 1, 10))
    err = (m.d135_joints() - m.joints()).norm(dim=-1).max()
    assert err <= BOUND_M
    m2 = Motion.from_d135(m.to_d135(), betas=m.betas)
    assert m2.n_frames == 30 and m2.root_pos[0, [0, 2]].abs().max() == 0


@pytest.mark.parametrize(
    "R_shape,root_shape,match",
    [((2, 10, 21, 3, 3), (2, 10, 3), "local_rot"), ((2, 10, 22, 3, 3), (2, 9, 3), "root_pos"),
     ((10, 22, 3), (10, 3), "local_rot")],  # fmt: skip
)
def test_encode_rejects_wrong_shapes(R_shape, root_shape, match):
    with pytest.raises(ValueError, match=match):
        encode_d135(torch.zeros(R_shape), torch.zeros(root_shape))


def test_encode_rejects_nan_and_non_rotations():
    R, root = random_motion(0, B=1, T=5)
    bad_root = root.clone()
    bad_root[0, 2, 1] = float("inf")
    with pytest.raises(ValueError, match="root_pos.*NaN/inf"):
        encode_d135(R, bad_root)
    with pytest.raises(ValueError, match="local_rot.*orthonormal"):
        encode_d135(R * 2.0, root)


def test_decode_rejects_unknown_layout_and_nan():
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 135\)"):
        decode_d135(torch.zeros(2, 10, 263))
    f = torch.zeros(1, 4, 135)
    f[0, 1, 50] = float("nan")
    with pytest.raises(ValueError, match="features.*NaN"):
        decode_d135(f)
