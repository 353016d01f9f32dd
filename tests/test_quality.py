"""Motion-quality metrics on hand-made joint arrays with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from motionbook_lib.data import quality as Q
from motionbook_lib.skeleton import JOINT_NAMES, NUM_JOINTS

FPS = 20.0


def _standing_joints(T: int) -> np.ndarray:
    """(T, 22, 3): every joint 1 m up, except the feet resting on the floor at their usual heights."""
    J = np.zeros((T, NUM_JOINTS, 3))
    J[..., 1] = 1.0
    J[:, 7] = [0.1, 0.08, 0.0]  # left ankle
    J[:, 10] = [0.12, 0.02, 0.12]  # left toe
    J[:, 8] = [-0.1, 0.08, 0.0]
    J[:, 11] = [-0.12, 0.02, 0.12]
    return J


def _rx(deg: float) -> np.ndarray:
    return Rotation.from_euler("x", deg, degrees=True).as_matrix()


def _ry(deg: float) -> np.ndarray:
    return Rotation.from_euler("y", deg, degrees=True).as_matrix()


CLEAR = np.array([0.08, 0.02, 0.08, 0.02])


# ---------------------------------------------------------------- skating


@pytest.mark.parametrize("mode", ["foot", "all"])
def test_sliding_foot_speed_is_measured(mode: str) -> None:
    T, v = 40, 0.3
    J = _standing_joints(T)
    J[:, [7, 10], 0] += v * np.arange(T)[:, None] / FPS  # the left foot slides along +x at 0.3 m/s
    out = Q.foot_skating(J, FPS, clearance=CLEAR, slide_speed=0.25, mode=mode)
    # half of the contact samples slide at 0.3 m/s, the other half (right foot) stand still
    assert out["mean_speed"] == pytest.approx(v / 2, rel=1e-9)
    assert out["slide_fraction"] == pytest.approx(0.5)
    assert out["n_contact"] == (2 if mode == "foot" else 4) * (T - 1)


def test_feet_in_the_air_do_not_count_and_planted_feet_do_not_slide() -> None:
    T = 30
    J = _standing_joints(T)
    J[:, [8, 11], 1] += 0.3  # right foot lifted 30 cm ...
    J[:, [8, 11], 2] += 4.0 * np.arange(T)[:, None] / FPS  # ... swinging fast
    out = Q.foot_skating(J, FPS, clearance=CLEAR)
    assert out["mean_speed"] == pytest.approx(0.0, abs=1e-12)
    assert out["n_contact"] == T - 1  # only the planted left foot
    # with the clearance estimated from the clip (2nd percentile), the planted foot still counts
    assert Q.foot_skating(J, FPS)["mean_speed"] == pytest.approx(0.0, abs=1e-12)


def test_skating_uses_the_lower_joint_of_a_rolling_foot() -> None:
    """Heel rising about a planted toe: the toe is the contact and does not slide."""
    T = 20
    J = _standing_joints(T)
    lift = np.linspace(0.0, 0.04, T)
    J[:, 7, 1] += lift  # left ankle rises ...
    J[:, 7, 2] += lift  # ... and moves forward as the heel lifts; the toe stays put
    low = Q.foot_skating(J, FPS, clearance=CLEAR, mode="foot")
    every = Q.foot_skating(J, FPS, clearance=CLEAR, mode="all")
    assert low["mean_speed"] == pytest.approx(0.0, abs=1e-12)
    assert every["mean_speed"] > 0.0


def test_skating_accepts_torch_and_rejects_bad_shapes() -> None:
    J = _standing_joints(10)
    assert Q.foot_skating(torch.from_numpy(J), FPS)["mean_speed"] == 0.0
    with pytest.raises(ValueError, match="22, 3"):
        Q.foot_skating(J[:, :21], FPS)
    with pytest.raises(ValueError, match="mode"):
        Q.foot_skating(J, FPS, mode="median")


# ---------------------------------------------------------------- penetration


def test_ground_penetration_depth() -> None:
    T = 25
    J = _standing_joints(T)
    J[5, 20, 1] = -0.03  # a wrist 3 cm below the floor for one frame
    out = Q.ground_penetration(J)
    assert out["max_depth"] == pytest.approx(0.03)
    assert out["mean_depth"] == pytest.approx(0.03 / T)
    assert Q.ground_penetration(J, floor=-0.05)["max_depth"] == 0.0


def test_ground_penetration_with_rest_clearance() -> None:
    J = _standing_joints(10)
    J[3, 10, 1] = 0.005  # toe joint 1.5 cm lower than its 2 cm rest height: the sole is in the floor
    clearance = np.zeros(NUM_JOINTS)
    clearance[[7, 8]] = 0.08
    clearance[[10, 11]] = 0.02
    assert Q.ground_penetration(J, clearance=clearance)["max_depth"] == pytest.approx(0.015)
    assert Q.ground_penetration(J)["max_depth"] == 0.0


# ---------------------------------------------------------------- joint limits and angles


def _identity(T: int) -> np.ndarray:
    return np.tile(np.eye(3), (T, NUM_JOINTS, 1, 1))


def test_rest_pose_respects_every_limit() -> None:
    out = Q.joint_limit_violations(_identity(5))
    assert out["fraction"] == 0.0 and out["worst_deg"] == 0.0 and out["worst_joint"] is None


def test_knee_bent_past_its_limit() -> None:
    T = 20
    R = _identity(T)
    R[:5, 4] = _rx(160.0)  # left knee 10 degrees past 150
    out = Q.joint_limit_violations(R)
    assert out["worst_deg"] == pytest.approx(10.0, abs=1e-6)
    assert out["worst_joint"] == "left_knee"
    assert out["fraction"] == pytest.approx(5 / (T * len(Q.JOINT_LIMITS)))
    assert out["per_joint"]["left_knee"] == pytest.approx(5 / T)
    np.testing.assert_allclose(Q.knee_flexion(R)[:5, 0], 160.0, atol=1e-6)


def test_knee_hyperextension_is_a_violation() -> None:
    R = _identity(4)
    R[:, 5] = _rx(-8.0)  # right knee bent backwards
    out = Q.joint_limit_violations(R)
    assert out["worst_joint"] == "right_knee"
    assert out["worst_deg"] == pytest.approx(8.0, abs=1e-6)
    np.testing.assert_allclose(Q.knee_flexion(R)[:, 1], -8.0, atol=1e-6)


def test_elbow_limits_are_mirrored() -> None:
    R = _identity(3)
    R[:, 18] = _ry(-160.0)  # left elbow flexes about -Y
    R[:, 19] = _ry(100.0)  # right elbow flexes about +Y, within range
    out = Q.joint_limit_violations(R)
    assert out["worst_joint"] == "left_elbow" and out["worst_deg"] == pytest.approx(10.0, abs=1e-6)
    np.testing.assert_allclose(Q.elbow_flexion(R), [[160.0, 100.0]] * 3, atol=1e-6)
    left, right = Q.JOINT_LIMITS[JOINT_NAMES.index("left_elbow")], Q.JOINT_LIMITS[JOINT_NAMES.index("right_elbow")]
    assert right.lo[1] == -left.hi[1] and right.hi[1] == -left.lo[1]
    assert 0 not in Q.JOINT_LIMITS  # the pelvis is a global orientation


def test_swing_twist_angles_rebuild_the_rotation() -> None:
    rng = np.random.default_rng(0)
    rv = rng.normal(0.0, 0.8, (50, NUM_JOINTS, 3))
    R = Rotation.from_rotvec(rv.reshape(-1, 3)).as_matrix().reshape(50, NUM_JOINTS, 3, 3)
    ang = np.radians(Q.swing_twist_angles(R))  # (50, 22, 3)
    for j, k in enumerate(Q.TWIST_AXIS):
        swing = ang[:, j].copy()
        swing[:, k] = 0.0
        twist = np.zeros_like(swing)
        twist[:, k] = ang[:, j, k]
        rebuilt = Rotation.from_rotvec(swing).as_matrix() @ Rotation.from_rotvec(twist).as_matrix()
        np.testing.assert_allclose(rebuilt, R[:, j], atol=1e-9)


def test_pure_twist_and_pure_swing() -> None:
    R = _identity(1)
    R[0, 16] = Rotation.from_euler("x", 30, degrees=True).as_matrix()  # shoulder twist about its bone (X)
    R[0, 1] = Rotation.from_euler("z", 20, degrees=True).as_matrix()  # hip abduction (swing about Z)
    ang = Q.swing_twist_angles(R)[0]
    np.testing.assert_allclose(ang[16], [30.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(ang[1], [0.0, 0.0, 20.0], atol=1e-9)


# ---------------------------------------------------------------- gait


def _gait_joints(steps_per_min: float, seconds: float = 6.0) -> np.ndarray:
    """Feet alternately planted (at their rest heights) and lifted 15 cm, one step every 60/cadence s."""
    T = int(seconds * FPS)
    t = np.arange(T) / FPS
    J = _standing_joints(T)
    period = 2 * 60.0 / steps_per_min  # a stride: two steps
    for foot, (a, b) in enumerate(((7, 10), (8, 11))):
        phase = ((t / period) + 0.5 * foot) % 1.0
        swing = phase > 0.6
        J[:, [a, b], 1] += 0.15 * swing[:, None]
        J[:, [a, b], 2] += (1.2 * np.floor(t / period + 0.5 * foot))[:, None]  # each stride lands further on
    return J


@pytest.mark.parametrize("cad", [100.0, 120.0, 170.0])
def test_cadence_from_contact_onsets(cad: float) -> None:
    J = _gait_joints(cad)
    assert Q.cadence(J, FPS, clearance=CLEAR) == pytest.approx(cad, rel=0.04)


def test_cadence_needs_two_steps_of_one_foot() -> None:
    assert math.isnan(Q.cadence(_standing_joints(30), FPS))


def test_foot_contacts_shape_and_values() -> None:
    J = _gait_joints(120.0)
    con = Q.foot_contacts(J, FPS, clearance=CLEAR)
    assert con.shape == (J.shape[0], 2) and con.dtype == bool
    assert 0.5 < con.mean() < 0.7  # each foot is down 60% of the time


def test_root_speed() -> None:
    T = 30
    t = np.arange(T) / FPS
    root = np.stack([1.2 * t * 0.6, 0.9 + 0.05 * np.sin(t), 1.2 * t * 0.8], -1)  # 1.2 m/s on the floor
    np.testing.assert_allclose(Q.root_speed(root, FPS), 1.2, rtol=1e-9)
    assert Q.root_speed(torch.from_numpy(root), FPS).shape == (T - 1,)
