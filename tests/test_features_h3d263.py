"""The HumanML3D 263 feature: layout, round trip, the official yaw quirk, and what it loses next to D135."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motionbook_lib.features import (
    H3D263_BLOCKS,
    H3D263_DIM,
    compare_d135_h3d263,
    d135_to_joints,
    decode_d135,
    encode_d135,
    extract_h3d263,
    h3d263_rotations,
    h3d263_to_joints,
    preprocess_h3d263,
)
from motionbook_lib.features.humanml3d import H3D_RAW_OFFSETS
from motionbook_lib.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    quaternion_apply,
    quaternion_to_matrix,
)
from motionbook_lib.skeleton import KINEMATIC_CHAINS, PARENTS, Skeleton, forward_kinematics, twist_limbs

# Measured on 60 of these motions (20..200 frames, float32 features): joints -> 263 -> joints
# is within 1.7e-6 m of the preprocessed joints up to the first frame that turns past
# 180 degrees from the start, and on every frame with fix_yaw=True. The bound leaves ~9x
# headroom. Past the half turn the official decoding drifted 0.05 .. 1.8 m on these walks.
H3D_BOUND_M = 1.5e-5
D135_BOUND_M = 1e-4  # the promised D135 joint round-trip bound
FPS = 20.0


def smooth_motion(
    seed: int, T: int = 100, B: int | None = None, turn: float = 1.0, speed: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Low-frequency sinusoidal axis-angle per joint and a root walking along a turning heading.

    ``turn`` is the total yaw change (radians) over the clip. Returns local rotations
    (T, 22, 3, 3) / (B, T, 22, 3, 3) and pelvis positions (T, 3) / (B, T, 3), float64.
    """
    if B is not None:
        motions = [smooth_motion(seed * 1000 + b, T, None, turn, speed) for b in range(B)]
        return torch.stack([m[0] for m in motions]), torch.stack([m[1] for m in motions])
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float64) / FPS
    freq = torch.rand(22, 3, generator=g, dtype=torch.float64) * 1.2 + 0.2  # 0.2 .. 1.4 Hz
    phase = torch.rand(22, 3, generator=g, dtype=torch.float64) * 2 * math.pi
    amp = torch.rand(22, 3, generator=g, dtype=torch.float64) * 0.5
    aa = amp * torch.sin(2 * math.pi * freq * t[:, None, None] + phase)  # (T, 22, 3)
    aa[:, 0] *= 0.3  # small root tilt; the heading comes from the yaw below
    yaw0 = float(torch.rand(1, generator=g)) * 2 * math.pi
    yaw = yaw0 + turn * t / t[-1]  # (T,)
    zeros = torch.zeros_like(yaw)
    R = axis_angle_to_matrix(aa)
    R[:, 0] = axis_angle_to_matrix(torch.stack([zeros, yaw, zeros], -1)) @ R[:, 0]
    step = speed / FPS
    root = torch.stack(
        [
            torch.cumsum(step * torch.sin(yaw), 0) + 0.4,
            0.95 + 0.03 * torch.sin(2 * math.pi * 1.5 * t),
            torch.cumsum(step * torch.cos(yaw), 0) - 1.2,
        ],
        dim=-1,
    )
    return R, root


def fk_joints(R: torch.Tensor, root: torch.Tensor, skeleton: Skeleton | None = None) -> torch.Tensor:
    """(..., T, 22, 3, 3), (..., T, 3) float64 -> float32 joints (..., T, 22, 3), computed in float64."""
    off = (skeleton or Skeleton()).offsets(torch.float64)
    return forward_kinematics(R, root, off).float()


def first_crossing(feat: torch.Tensor) -> int:
    """First feature row whose heading is more than 180 degrees from the start (T if none)."""
    yaw = 2 * torch.cumsum(feat[..., 0].double(), dim=-1)  # full angle after each row's step
    over = (yaw.abs() > math.pi).nonzero()
    return int(over[0, 0]) + 1 if len(over) else feat.shape[-2]


# ---------------------------------------------------------------- layout, shapes, dtypes


def test_blocks_partition_the_263_channels():
    assert H3D263_DIM == 263
    assert [(b.start, b.stop) for b in H3D263_BLOCKS] == [
        (0, 1), (1, 3), (3, 4), (4, 67), (67, 193), (193, 259), (259, 263),
    ]  # fmt: skip
    covered = torch.cat([torch.arange(263)[b] for b in H3D263_BLOCKS])
    assert torch.equal(covered, torch.arange(263))


def test_shapes_and_dtypes():
    R, root = smooth_motion(0, T=30, B=3)
    joints = fk_joints(R, root)  # (3, 30, 22, 3)
    one = extract_h3d263(joints[0])
    assert one.shape == (29, H3D263_DIM) and one.dtype == torch.float32
    many = extract_h3d263(joints)
    assert many.shape == (3, 29, H3D263_DIM) and many.dtype == torch.float32
    # float64 and numpy input give the same float32 feature
    assert extract_h3d263(joints[0].double()).dtype == torch.float32
    assert torch.equal(extract_h3d263(joints[0].numpy()), one)
    contacts = many[..., 259:263]
    assert set(contacts.unique().tolist()) <= {0.0, 1.0}
    back = h3d263_to_joints(many)
    assert back.shape == (3, 29, 22, 3) and back.dtype == torch.float32
    nested = h3d263_to_joints(many.reshape(1, 3, 29, H3D263_DIM).double())
    assert nested.shape == (1, 3, 29, 22, 3) and nested.dtype == torch.float64
    assert h3d263_rotations(many).shape == (3, 29, 21, 3, 3)
    assert preprocess_h3d263(joints).shape == joints.shape
    assert extract_h3d263(joints[0, :2]).shape == (1, H3D263_DIM)


def test_batched_equals_per_sequence():
    R, root = smooth_motion(1, T=60, B=4, turn=4.0)
    joints = fk_joints(R, root)
    for fix in (False, True):
        batched = extract_h3d263(joints, fix_yaw=fix)
        loop = torch.stack([extract_h3d263(j, fix_yaw=fix) for j in joints])
        assert torch.equal(batched, loop)
    dec = h3d263_to_joints(batched)
    assert torch.equal(dec, torch.stack([h3d263_to_joints(f) for f in batched]))


@pytest.mark.parametrize(
    "shape",
    [(30, 21, 3), (22, 3), (30, 22, 4), (2, 3, 30, 22, 3), (1, 22, 3), (2, 1, 22, 3)],
)
def test_bad_joint_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"joints must have.*\(.*22, 3\)"):
        extract_h3d263(torch.zeros(shape))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_raises(bad):
    joints = fk_joints(*smooth_motion(2, T=20))
    joints[5, 3, 1] = bad
    with pytest.raises(ValueError, match="joints contains 1 NaN/inf"):
        extract_h3d263(joints)
    feat = extract_h3d263(fk_joints(*smooth_motion(2, T=20)))
    feat[3, 100] = bad
    with pytest.raises(ValueError, match="feat contains 1 NaN/inf"):
        h3d263_to_joints(feat)


def test_other_bad_input_raises():
    joints = fk_joints(*smooth_motion(3, T=20))
    with pytest.raises(ValueError, match=r"feat must have shape \(\.\.\., T, 263\)"):
        h3d263_to_joints(torch.zeros(10, 251))
    with pytest.raises(ValueError, match=r"feat must have shape"):
        h3d263_to_joints(torch.zeros(263))
    with pytest.raises(ValueError, match=r"reference_offsets must have shape \(22, 3\)"):
        extract_h3d263(joints, reference_offsets=torch.zeros(21, 3))
    with pytest.raises(ValueError, match="reference_offsets contains"):
        extract_h3d263(joints, reference_offsets=torch.full((22, 3), float("nan")))
    with pytest.raises(ValueError, match="positive length"):
        extract_h3d263(joints, reference_offsets=torch.zeros(22, 3))
    collapsed = joints.clone()
    collapsed[:, 18] = collapsed[:, 16]  # elbow on the shoulder
    with pytest.raises(ValueError, match="zero-length bone.*left_elbow"):
        extract_h3d263(collapsed)
    with pytest.raises(TypeError, match="joints must be a torch.Tensor"):
        extract_h3d263(joints.tolist())  # type: ignore[arg-type]


# ---------------------------------------------------------------- round trip and the yaw quirk


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 120), st.floats(-2.0, 2.0))
def test_round_trip(seed, T, turn):
    """Joints -> 263 -> joints gives back the preprocessed joints up to the first half turn (always with fix_yaw)."""
    R, root = smooth_motion(seed, T=T, turn=turn)
    # joints made by the D135 decoder (FK inside)
    joints = d135_to_joints(encode_d135(R, root), Skeleton().offsets(torch.float64), root_xz0=root[0, [0, 2]])
    joints = joints.float()
    target = preprocess_h3d263(joints)[:-1]
    feat = extract_h3d263(joints)
    fixed = extract_h3d263(joints, fix_yaw=True)
    k = first_crossing(fixed)  # T - 1 unless the facing strays more than 180 degrees from its start
    err = (h3d263_to_joints(feat)[:k] - target[:k]).norm(dim=-1).max().item()
    assert err <= H3D_BOUND_M, f"263 round-trip error {err:.2e} m > {H3D_BOUND_M} m"
    err_fix = (h3d263_to_joints(fixed) - target).norm(dim=-1).max().item()
    assert err_fix <= H3D_BOUND_M, f"263 fix_yaw round-trip error {err_fix:.2e} m > {H3D_BOUND_M} m"
    if k == T - 1:  # without a crossing the corrected variant is the same feature
        assert torch.equal(fixed, feat)


def test_official_yaw_drifts_past_180_degrees_and_fix_yaw_removes_it():
    R, root = smooth_motion(4, T=160, turn=2 * math.pi, speed=1.2)  # one full turn while walking
    joints = fk_joints(R, root)
    target = preprocess_h3d263(joints)[:-1]
    official = extract_h3d263(joints)
    fixed = extract_h3d263(joints, fix_yaw=True)
    k = first_crossing(fixed)
    assert 0 < k < len(fixed)
    err_off = (h3d263_to_joints(official) - target).norm(dim=-1).amax(-1)  # (T-1,) worst joint per frame
    err_fix = (h3d263_to_joints(fixed) - target).norm(dim=-1).amax(-1)
    # Only the yaw channel differs, and only on the steps whose relative quaternion has w < 0.
    diff = (official != fixed).any(0).nonzero().flatten().tolist()
    assert diff == [0], f"channels that differ: {diff}"
    rows = (official[:, 0] != fixed[:, 0]).nonzero().flatten().tolist()
    assert rows and rows[0] == k - 1, f"first differing row {rows[:3]}, crossing at {k}"
    assert torch.equal(official[:, 0].abs(), fixed[:, 0].abs())  # the sign flips, nothing else
    before = err_off[:k].max().item()
    drift = err_off.max().item()
    fixed_err = err_fix.max().item()
    assert before <= H3D_BOUND_M, f"error before the half turn {before:.2e} m"
    assert drift > 0.05, f"official yaw drift after the half turn only {drift:.3f} m"
    assert fixed_err <= H3D_BOUND_M, f"fix_yaw round trip {fixed_err:.2e} m (official drift {drift:.3f} m)"


def test_layout_matches_its_definition():
    """Each block, checked against a direct reading of the layout with motionbook's own rotation code."""
    R, root = smooth_motion(5, T=70, turn=2.0)
    joints = fk_joints(R, root)
    glob = preprocess_h3d263(joints).double()  # (T, 22, 3)
    feat = extract_h3d263(joints).double()  # (T-1, 263)
    n = len(feat)
    # heading quaternion (world -> facing +Z) of every frame, rebuilt from the yaw channel
    half = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(feat[:, 0], 0)])  # (T,)
    q = torch.stack([half.cos(), 0 * half, half.sin(), 0 * half], -1)  # (T, 4)
    assert torch.allclose(glob[0, 0, [0, 2]], torch.zeros(2, dtype=torch.float64), atol=1e-7)
    assert abs(glob[..., 1].min().item()) < 1e-7  # on the floor
    root_vel = quaternion_apply(q[1:], glob[1:, 0] - glob[:-1, 0])  # heading of frame t+1
    assert torch.allclose(feat[:, 1:3], root_vel[:, [0, 2]], atol=1e-6)
    assert torch.allclose(feat[:, 3], glob[:-1, 0, 1], atol=1e-6)
    local = glob[:-1] - glob[:-1, :1] * torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    ric = quaternion_apply(q[:-1, None].expand(n, 22, 4), local)
    assert torch.allclose(feat[:, 4:67], ric[:, 1:].flatten(-2), atol=1e-5)
    vel = quaternion_apply(q[:-1, None].expand(n, 22, 4), glob[1:] - glob[:-1])  # heading of frame t
    assert torch.allclose(feat[:, 193:259], vel.flatten(-2), atol=1e-6)
    disp = ((glob[1:] - glob[:-1]) ** 2).sum(-1)
    want = (disp[:, [7, 10, 8, 11]] < 0.002).double()
    assert (feat[:, 259:263] != want).sum() <= 1  # a value on the threshold may round either way
    # 6D block: chained from the heading, each bone's global rotation is the pure swing
    # taking HumanML3D's raw offset direction to the observed bone direction.
    rot = h3d263_rotations(feat)  # (T-1, 21, 3, 3)
    heading = quaternion_to_matrix(q[:-1])
    raw = torch.tensor(H3D_RAW_OFFSETS, dtype=torch.float64)
    for chain in KINEMATIC_CHAINS:
        G = heading
        for c in chain[1:]:
            G = G @ rot[:, c - 1]
            bone = glob[:-1, c] - glob[:-1, PARENTS[c]]
            bone = bone / bone.norm(dim=-1, keepdim=True)
            assert torch.allclose((G @ raw[c])[..., :], bone, atol=2e-5), f"joint {c}: swing misses the bone"
            axis = matrix_to_axis_angle(G)
            twist = (axis * raw[c]).sum(-1).abs().max().item()
            assert twist < 2e-4, f"joint {c}: rotation has a twist component {twist:.1e} rad"


def test_heading_is_smoothed_over_later_frames():
    """Sigma 20 makes a row depend on later frames; smooth_sigma=0 gives a causal (per-frame) heading."""
    R, root = smooth_motion(6, T=120, turn=1.0)
    joints = fk_joints(R, root)
    R2 = R.clone()  # the same clip, but the body turns 35 degrees more from frame 100 on
    R2[100:, 0] = axis_angle_to_matrix(torch.tensor([0.0, 0.6, 0.0], dtype=torch.float64)) @ R2[100:, 0]
    later = fk_joints(R2, root)
    smooth_a, smooth_b = extract_h3d263(joints), extract_h3d263(later)
    raw_a, raw_b = extract_h3d263(joints, smooth_sigma=0), extract_h3d263(later, smooth_sigma=0)
    assert (smooth_a[40:99] - smooth_b[40:99]).abs().max() > 1e-4  # 60 frames earlier still moves
    assert torch.equal(smooth_a[:15], smooth_b[:15])  # beyond the 80-frame kernel radius: untouched
    assert torch.equal(raw_a[:99], raw_b[:99])
    # the unsmoothed heading is the facing of each frame itself
    for f, j in ((raw_a, joints), (raw_b, later)):
        back = h3d263_to_joints(f)
        err = (back - preprocess_h3d263(j)[:-1]).norm(dim=-1).max().item()
        assert err <= H3D_BOUND_M


def test_retarget_to_reference_bone_lengths():
    R, root = smooth_motion(7, T=50, turn=0.5)
    src = Skeleton.from_betas([1.5, -1.0, 0.5, 0, 0, 0, 0, 0, 0, 0])
    joints = fk_joints(R, root, src)
    ref = Skeleton().offsets()  # (22, 3)
    out = preprocess_h3d263(joints, reference_offsets=ref).double()
    par = list(PARENTS[1:])
    lengths = (out[:, 1:] - out[:, par]).norm(dim=-1)  # (T, 21)
    assert torch.allclose(lengths, ref[1:].double().norm(dim=-1).expand_as(lengths), atol=2e-6)
    # directions are kept up to one turn of the whole clip (the first-frame facing moves a
    # little with the new proportions): the angles between bones are unchanged
    plain = preprocess_h3d263(joints).double()
    d_out = (out[:, 1:] - out[:, par]) / lengths[..., None]
    d_src = plain[:, 1:] - plain[:, par]
    d_src = d_src / d_src.norm(dim=-1, keepdim=True)
    gram_out, gram_src = d_out @ d_out.transpose(-1, -2), d_src @ d_src.transpose(-1, -2)  # (T, 21, 21)
    assert (gram_out - gram_src).abs().max() < 5e-5  # float32 IK in the official retarget
    assert (d_out[..., 1] - d_src[..., 1]).abs().max() < 5e-5  # the turn is about Y
    feat = extract_h3d263(joints, reference_offsets=ref)
    err = (h3d263_to_joints(feat) - out[:-1].float()).norm(dim=-1).max().item()
    assert err <= H3D_BOUND_M
    # retargeting to its own skeleton changes (almost) nothing
    same = preprocess_h3d263(joints, reference_offsets=src.offsets())
    assert (same - plain.float()).abs().max() < 1e-5


# ---------------------------------------------------------------- D135 vs 263


def test_d135_vs_263_joint_error_and_twist():
    """D135 gives back joints and rotations; 263 gives back joints (with the official yaw drift) but no twist."""
    sk = Skeleton()
    R, root = smooth_motion(8, T=120, B=3, turn=1.5)
    R_turn, root_turn = smooth_motion(9, T=120, turn=2 * math.pi, speed=1.2)
    R = torch.cat([R, R_turn[None]])
    root = torch.cat([root, root_turn[None]])
    joints = fk_joints(R, root, sk)  # (4, T, 22, 3)

    # joint error of each feature's decoder
    d135 = encode_d135(R.float(), root.float())
    d135_err = (d135_to_joints(d135, sk, root_xz0=root[:, 0, [0, 2]].float()) - joints).norm(dim=-1)
    target = preprocess_h3d263(joints)[:, :-1]
    h_err = (h3d263_to_joints(extract_h3d263(joints)) - target).norm(dim=-1)
    h_fix = (h3d263_to_joints(extract_h3d263(joints, fix_yaw=True)) - target).norm(dim=-1)
    numbers = (
        f"D135 max {d135_err.max():.2e} m / mean {d135_err.mean():.2e} m; "
        f"263 (official) no half turn max {h_err[:3].max():.2e} m, full turn max {h_err[3].max():.3f} m; "
        f"263 fix_yaw max {h_fix.max():.2e} m"
    )
    assert d135_err.max() <= D135_BOUND_M, numbers
    assert h_err[:3].max() <= H3D_BOUND_M, numbers
    assert h_err[3].max() > 0.05, numbers  # official yaw drift on the clip that turns around
    assert h_fix.max() <= H3D_BOUND_M, numbers

    # twist: same joint positions, different rotations
    angle = 0.9 * torch.sin(torch.linspace(0, 2 * math.pi, R.shape[1], dtype=torch.float64))
    m, m_root = R[0], root[0]
    twisted = twist_limbs(m, angle, sk)
    j_a, j_b = fk_joints(m, m_root, sk), fk_joints(twisted, m_root, sk)
    assert torch.equal(j_a, j_b), f"positions moved by {(j_a - j_b).abs().max():.1e} m"
    # the 263 feature is a function of positions only: it cannot tell them apart
    assert torch.equal(extract_h3d263(j_a), extract_h3d263(j_b))
    # D135 stores the rotations: the features differ and each decodes to its own rotations
    f_a, f_b = encode_d135(m.float(), m_root.float()), encode_d135(twisted.float(), m_root.float())
    gap = (f_a - f_b).abs().max().item()
    assert gap > 0.5, f"D135 features differ by only {gap:.3f}"
    for feat, rot in ((f_a, m), (f_b, twisted)):
        back, _ = decode_d135(feat)
        assert (back.double() - rot).abs().max() < 1e-5
    back_a, _ = decode_d135(f_a)
    roll_err = (back_a[:, 18].double() - twisted[:, 18]).abs().max().item()
    assert roll_err > 0.5, "decoding the untwisted D135 must not give the twisted elbow"


def test_compare_d135_h3d263():
    R, root = smooth_motion(10, T=80, turn=1.0)
    res = compare_d135_h3d263(R.float(), root.float())
    assert set(res) >= {"d135_mpjpe_m", "h3d263_mpjpe_m", "h3d263_rot_geodesic_deg"}
    assert all(isinstance(v, float) for v in res.values())
    assert res["d135_mpjpe_m"] <= D135_BOUND_M and res["d135_max_m"] <= D135_BOUND_M
    assert res["h3d263_max_m"] <= H3D_BOUND_M
    # the swing-only IK rotations in the 6D block are far from SMPL's local rotations
    assert res["h3d263_rot_geodesic_deg"] > 10.0, res
    # other skeletons: a Skeleton, a (22, 3) offset tensor; batched input
    sk = Skeleton.from_betas([1.0] + [0.0] * 9)
    a = compare_d135_h3d263(R.float(), root.float(), sk)
    b = compare_d135_h3d263(R.float(), root.float(), sk.offsets())
    assert a == b
    Rb, rootb = smooth_motion(11, T=80, B=2, turn=2 * math.pi)
    off = compare_d135_h3d263(Rb.float(), rootb.float())
    fix = compare_d135_h3d263(Rb.float(), rootb.float(), fix_yaw=True)
    assert off["h3d263_mpjpe_m"] > 10 * fix["h3d263_mpjpe_m"], (off, fix)
    assert fix["h3d263_max_m"] <= H3D_BOUND_M


def test_numpy_joints_and_reference_offsets_accepted():
    joints = fk_joints(*smooth_motion(12, T=25)).numpy()
    feat = extract_h3d263(joints, reference_offsets=Skeleton().offsets().numpy())
    assert feat.shape == (24, H3D263_DIM)
    assert isinstance(h3d263_to_joints(feat.numpy()), torch.Tensor)
    assert np.isfinite(feat.numpy()).all()
