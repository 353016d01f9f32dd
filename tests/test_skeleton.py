"""Skeleton constants, mannequin-x proportions, FK, and agreement with smplx."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from motionbook_lib import skeleton as sk
from motionbook_lib.rotations import axis_angle_to_matrix


def test_tree_constants_are_consistent():
    assert len(sk.JOINT_NAMES) == len(sk.PARENTS) == sk.NUM_JOINTS == 22
    for j, p in enumerate(sk.PARENTS[1:], start=1):
        assert 0 <= p < j
    for chain in sk.KINEMATIC_CHAINS:
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            assert sk.PARENTS[b] == a
    covered = sorted(j for joints in sk.BODY_PARTS.values() for j in joints)
    assert covered == list(range(22))
    perm = sk.mirror_permutation()
    assert sorted(perm) == list(range(22)) and all(perm[perm[j]] == j for j in range(22))
    for a, b in sk.MIRROR_PAIRS:
        assert sk.JOINT_NAMES[a].replace("left", "right") == sk.JOINT_NAMES[b]


def test_rest_pose_has_human_proportions():
    J = sk.Skeleton().rest_pose_joints().numpy()
    assert 1.5 < J[15, 1] < 1.8, "head joint height"
    assert 0.85 < J[0, 1] < 1.05, "pelvis height"
    assert J[1, 0] > 0 > J[2, 0], "left is +X"
    assert 0.0 <= J[[10, 11], 1].min() < 0.05, "toes just above the floor"
    arm_span = np.linalg.norm(J[20] - J[21])
    assert 1.1 < arm_span < 1.6


def test_shape_coefficients_change_proportions_linearly():
    b = np.zeros(10)
    b[0] = 2.0
    tall, neutral = sk.rest_joints(b), sk.rest_joints(None)
    half = sk.rest_joints(b / 2)
    np.testing.assert_allclose(half.numpy(), ((tall + neutral) / 2).numpy(), atol=1e-12)
    assert not torch.allclose(tall, neutral)
    batched = sk.rest_joints(np.stack([b, np.zeros(10)]))
    np.testing.assert_allclose(batched[0].numpy(), tall.numpy())
    with pytest.raises(ValueError, match="betas"):
        sk.rest_joints(np.zeros(3))


def test_fk_identity_pose_reproduces_rest_joints():
    s = sk.Skeleton.from_betas(np.linspace(-1, 1, 10))
    R = torch.eye(3, dtype=torch.float64).expand(3, 22, 3, 3)
    root = s.rest_joints()[0].expand(3, 3)
    J = sk.forward_kinematics(R, root, s.offsets(torch.float64))
    np.testing.assert_allclose(J[1].numpy(), s.rest_joints().numpy(), atol=1e-12)


def test_fk_matches_naive_per_joint_loop_and_batches():
    rng = np.random.default_rng(0)
    R = axis_angle_to_matrix(torch.from_numpy(rng.normal(scale=0.6, size=(2, 4, 22, 3))))
    root = torch.from_numpy(rng.normal(size=(2, 4, 3)))
    betas = rng.normal(size=(2, 10))
    off = sk.bone_offsets(betas)  # (2, 22, 3), one body per sequence
    J = sk.forward_kinematics(R, root, off)
    assert J.shape == (2, 4, 22, 3)
    for b in range(2):
        for t in range(4):
            G = [None] * 22
            P = [None] * 22
            for j in range(22):
                p = sk.PARENTS[j]
                if p < 0:
                    G[j], P[j] = R[b, t, 0], root[b, t]
                else:
                    G[j] = G[p] @ R[b, t, j]
                    P[j] = P[p] + G[p] @ off[b, j]
            np.testing.assert_allclose(J[b, t].numpy(), torch.stack(P).numpy(), atol=1e-12)


def test_fk_is_differentiable():
    aa = torch.zeros(5, 22, 3, dtype=torch.float64, requires_grad=True)
    J = sk.forward_kinematics(axis_angle_to_matrix(aa), torch.zeros(5, 3, dtype=torch.float64), sk.bone_offsets())
    J[:, 20].sum().backward()  # left wrist depends on the left arm chain only (and the root)
    g = aa.grad.abs().sum(dim=(0, 2))
    assert g[16] > 0 and g[18] > 0
    assert g[[1, 2, 4, 5, 7, 8, 17, 19, 21]].sum() == 0


def test_fk_bad_shapes():
    R = torch.eye(3).expand(4, 22, 3, 3)
    with pytest.raises(ValueError, match="local_rot"):
        sk.forward_kinematics(R[:, :21], torch.zeros(4, 3), sk.Skeleton().offsets())
    with pytest.raises(ValueError, match="root_pos"):
        sk.forward_kinematics(R, torch.zeros(3, 3), sk.Skeleton().offsets())
    with pytest.raises(ValueError, match="offsets"):
        sk.forward_kinematics(R, torch.zeros(4, 3), torch.zeros(21, 3))


def _synthetic_smpl_struct(betas_dirs: np.ndarray, rest: np.ndarray):
    """A stand-in SMPL model whose first 24 vertices are its joints (no licensed file needed)."""
    from smplx.utils import Struct

    n_vert = 6890  # smplx's extra keypoints index vertices up to 6889
    v_template = np.zeros((n_vert, 3))
    joints24 = np.concatenate([rest, rest[[20, 21]] + np.array([[0.08, 0, 0], [-0.08, 0, 0]])])
    v_template[:24] = joints24
    shapedirs = np.zeros((n_vert, 3, 10))
    shapedirs[:22] = betas_dirs
    shapedirs[22:24] = betas_dirs[[20, 21]]
    J_regressor = np.zeros((24, n_vert))
    J_regressor[np.arange(24), np.arange(24)] = 1.0
    weights = np.zeros((n_vert, 24))
    weights[np.arange(24), np.arange(24)] = 1.0
    weights[24:, 0] = 1.0
    parents = np.array([-1, *sk.PARENTS[1:], 20, 21])
    kintree = np.stack([np.where(parents < 0, 2**32 - 1, parents), np.arange(24)]).astype(np.int64)
    return Struct(
        v_template=v_template, shapedirs=shapedirs, posedirs=np.zeros((n_vert, 3, 207)),
        J_regressor=J_regressor, weights=weights, kintree_table=kintree,
        f=np.array([[0, 1, 2]], dtype=np.int64),
    )  # fmt: skip


def test_fk_agrees_with_smplx_for_same_pose_and_shape():
    import smplx  # a declared dependency; imported here because it is slow to import
    cal = sk.load_calibration()
    model = smplx.SMPL(model_path="", data_struct=_synthetic_smpl_struct(cal.joint_dirs, cal.joint_rest), num_betas=10)
    rng = np.random.default_rng(3)
    B = 6
    betas = torch.from_numpy(rng.normal(size=(B, 10))).float()
    go = torch.from_numpy(Rotation.random(B, random_state=4).as_rotvec()).float()
    body = torch.from_numpy(rng.normal(scale=0.5, size=(B, 23, 3))).float()
    transl = torch.from_numpy(rng.normal(size=(B, 3))).float()
    out = model(betas=betas, global_orient=go, body_pose=body.reshape(B, 69), transl=transl)
    ref = out.joints[:, :22].double()
    aa = torch.cat([go[:, None], body[:, :21]], dim=1).double()
    root = sk.smplx_transl_to_root(transl.double(), betas.double())
    ours = sk.forward_kinematics(axis_angle_to_matrix(aa), root, sk.bone_offsets(betas.double()))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=2e-5)
    back = sk.root_to_smplx_transl(root, betas.double())
    np.testing.assert_allclose(back.numpy(), transl.double().numpy(), atol=1e-6)
