"""Rotation conversions against scipy.spatial.transform."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from motionbook_lib import rotations as rot

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


def _canon(q: np.ndarray) -> np.ndarray:
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (8, 3), elements=finite))
def test_axis_angle_to_matrix_matches_scipy(aa):
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), Rotation.from_rotvec(aa).as_matrix(), atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_matrix_quaternion_axis_angle_match_scipy(seed):
    R = Rotation.random(64, random_state=seed)
    m = R.as_matrix()
    q = rot.matrix_to_quaternion(m)
    np.testing.assert_allclose(q, _canon(R.as_quat(scalar_first=True)), atol=1e-10)
    np.testing.assert_allclose(rot.quaternion_to_matrix(q), m, atol=1e-10)
    aa = rot.matrix_to_axis_angle(m)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), m, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(aa, axis=-1), R.magnitude(), atol=1e-9)
    np.testing.assert_allclose(rot.axis_angle_to_quaternion(aa), _canon(R.as_quat(scalar_first=True)), atol=1e-9)
    np.testing.assert_allclose(rot.quaternion_to_axis_angle(q), aa, atol=1e-9)


def test_special_angles():
    # identity, tiny angles, exactly pi about each axis, near pi
    aa = np.array([[0, 0, 0], [1e-9, 0, 0], [np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi],
                   [np.pi - 1e-7, 0, 0], [1, 1, 1]]) * 1.0  # fmt: skip
    m = Rotation.from_rotvec(aa).as_matrix()
    np.testing.assert_allclose(rot.axis_angle_to_matrix(aa), m, atol=1e-12)
    np.testing.assert_allclose(rot.axis_angle_to_matrix(rot.matrix_to_axis_angle(m)), m, atol=1e-7)
    np.testing.assert_allclose(rot.quaternion_to_matrix(rot.matrix_to_quaternion(m)), m, atol=1e-12)


def test_quaternion_product_and_apply_match_scipy():
    a, b = Rotation.random(32, random_state=1), Rotation.random(32, random_state=2)
    qa, qb = a.as_quat(scalar_first=True), b.as_quat(scalar_first=True)
    qab = rot.quaternion_multiply(qa, qb)
    np.testing.assert_allclose(_canon(qab), _canon((a * b).as_quat(scalar_first=True)), atol=1e-12)
    v = np.random.default_rng(0).normal(size=(32, 3))
    np.testing.assert_allclose(rot.quaternion_apply(qa, v), a.apply(v), atol=1e-12)
    inv = rot.quaternion_conjugate(torch.from_numpy(qa)).numpy()
    np.testing.assert_allclose(rot.quaternion_apply(inv, a.apply(v)), v, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_6d_round_trip_and_gram_schmidt(seed):
    m = Rotation.random(16, random_state=seed).as_matrix()
    d6 = rot.matrix_to_rotation_6d(m)
    np.testing.assert_allclose(d6[:, :3], m[:, :, 0])
    np.testing.assert_allclose(d6[:, 3:], m[:, :, 1])
    np.testing.assert_allclose(rot.rotation_6d_to_matrix(d6), m, atol=1e-12)
    # any perturbed 6D vector still decodes to a proper rotation
    noisy = d6 + np.random.default_rng(seed).normal(scale=0.3, size=d6.shape)
    R = rot.rotation_6d_to_matrix(noisy)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)


def test_batch_dims_and_gradients():
    aa = torch.randn(2, 5, 7, 3, dtype=torch.float64, requires_grad=True)
    R = rot.axis_angle_to_matrix(aa)
    assert R.shape == (2, 5, 7, 3, 3)
    assert torch.autograd.gradcheck(rot.axis_angle_to_matrix, (aa[0, 0, :2].detach().requires_grad_(),))
    d6 = rot.matrix_to_rotation_6d(R)
    rot.rotation_6d_to_matrix(d6).sum().backward()
    assert torch.isfinite(aa.grad).all()
    # gradient at exactly zero rotation is finite
    z = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    rot.axis_angle_to_matrix(z).sum().backward()
    assert torch.isfinite(z.grad).all()


def test_yaw_and_heading():
    yaw = torch.tensor([0.0, 0.5, -2.0, 3.0], dtype=torch.float64)
    R = rot.yaw_to_matrix(yaw)
    np.testing.assert_allclose(R.numpy(), Rotation.from_rotvec(np.outer(yaw.numpy(), [0, 1, 0])).as_matrix())
    np.testing.assert_allclose(rot.heading_angle(R), yaw, atol=1e-12)
    # pitch does not change the heading
    pitch = torch.from_numpy(Rotation.from_rotvec([0.4, 0, 0]).as_matrix())
    np.testing.assert_allclose(rot.heading_angle(R @ pitch), yaw, atol=1e-12)


@pytest.mark.parametrize(
    "fn,arg,name",
    [
        (rot.axis_angle_to_matrix, torch.zeros(4, 4), "axis_angle"),
        (rot.quaternion_to_matrix, torch.zeros(4, 3), "quaternion"),
        (rot.matrix_to_quaternion, torch.zeros(4, 3, 4), "matrix"),
        (rot.rotation_6d_to_matrix, torch.zeros(4, 5), "rotation_6d"),
    ],
)
def test_bad_shapes_name_the_argument(fn, arg, name):
    with pytest.raises(ValueError, match=name):
        fn(arg)


def test_check_rotation_matrix_rejects_bad_input():
    good = torch.eye(3).expand(4, 3, 3).clone()
    rot.check_rotation_matrix(good, "R")
    with pytest.raises(ValueError, match="orthonormal"):
        rot.check_rotation_matrix(good * 1.1, "R")
    with pytest.raises(ValueError, match="orthonormal"):
        rot.check_rotation_matrix(-good, "R")  # reflection, det -1
    bad = good.clone()
    bad[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        rot.check_rotation_matrix(bad, "R")
