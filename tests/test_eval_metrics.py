"""Evaluation metrics against values worked out by hand on tiny inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from motionbook_lib.eval.metrics import (
    MetricCI,
    diversity,
    fid,
    jitter,
    mean_ci,
    mm_dist,
    mpjpe,
    multimodality,
    pa_mpjpe,
    plausibility,
    r_precision,
    t2m_metrics,
)

# ---------------------------------------------------------------------------------------------- R-precision


def test_r_precision_hand_case() -> None:
    # texts (0,0), (10,0), (0,10); motions (9,0), (10,.5), (0,1)
    # text 0: d = 9 (own), 10.01, 1        -> one motion nearer: rank 2
    # text 1: d = 1, 0.5 (own), 10.05      -> rank 1
    # text 2: d = 13.45, 13.79, 9 (own)    -> rank 1
    t = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    m = np.array([[9.0, 0.0], [10.0, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(r_precision(t, m, top_k=3), [2 / 3, 1.0, 1.0])
    np.testing.assert_allclose(r_precision(t, m, top_k=1), [2 / 3])


def test_r_precision_ties_count_in_expectation() -> None:
    # everything at one point: a random order puts the true motion in the top k with probability k / B
    same = np.ones((4, 3))
    np.testing.assert_allclose(r_precision(same, same, top_k=3), [0.25, 0.5, 0.75])


def test_mm_dist_hand_case() -> None:
    assert mm_dist(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0], [1.0, 1.0]])) == pytest.approx(2.5)


# ---------------------------------------------------------------------------------------------- FID


def _gaussian_1d(n: int, mean: float, std: float, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=n)
    x = (x - x.mean()) / x.std(ddof=1)  # exactly mean 0, sample std 1
    return (mean + std * x)[:, None]


def test_fid_of_1d_gaussians() -> None:
    a = _gaussian_1d(200, 1.0, 2.0, 0)
    b = _gaussian_1d(300, -0.5, 0.5, 1)
    expected = (1.0 - -0.5) ** 2 + (2.0 - 0.5) ** 2  # (m1 - m2)^2 + (s1 - s2)^2
    assert fid(a, b) == pytest.approx(expected, rel=1e-9)
    assert fid(b, a) == pytest.approx(expected, rel=1e-9)


def test_fid_of_identical_sets_is_zero_even_when_singular() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6)
    few = rng.normal(size=(6, 16))  # covariance of rank 5 in 16 dimensions
    value = fid(few, few)
    assert math.isfinite(value) and value == pytest.approx(0.0, abs=1e-3)
    assert fid(few, few + 3.0) == pytest.approx(16 * 9.0, rel=1e-3)  # shifted by 3 in 16 dims


def test_fid_few_samples_path_matches_the_matrix_square_root() -> None:
    """With fewer samples than dimensions fid takes an SVD shortcut; it must equal the sqrtm formula."""
    import scipy.linalg

    rng = np.random.default_rng(3)
    a = rng.normal(size=(20, 48))
    b = 0.7 * rng.normal(size=(25, 48)) @ rng.normal(size=(48, 48)) / 7 + 0.3
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    d = a.mean(0) - b.mean(0)
    reference = d @ d + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(scipy.linalg.sqrtm(s1 @ s2)))
    assert fid(a, b) == pytest.approx(reference, rel=1e-6)


# ---------------------------------------------------------------------------------------------- diversity


def test_diversity_draws_two_independent_index_sets_each_without_replacement() -> None:
    """The reference scheme: ``first`` and ``second`` are drawn independently, each without replacement."""
    emb = np.random.default_rng(0).normal(size=(40, 5))
    value = diversity(emb, n_pairs=25, rng=np.random.default_rng(4))
    rng = np.random.default_rng(4)
    first, second = rng.choice(40, 25, replace=False), rng.choice(40, 25, replace=False)
    assert value == pytest.approx(np.linalg.norm(emb[first] - emb[second], axis=1).mean(), rel=1e-12)


def test_diversity_pairs_a_row_with_itself_as_the_reference_does() -> None:
    # three points, all 1 apart; 3 pairs = two random permutations of the rows. The composed permutation has one
    # fixed point on average (a row met by itself, distance 0), so the expected Diversity is (3 - 1) / 3 = 2/3.
    # A scheme that draws distinct pairs only would give exactly 1 every time.
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    values = np.array([diversity(tri, n_pairs=3, rng=np.random.default_rng(s)) for s in range(3000)])
    np.testing.assert_allclose(np.unique(np.round(values, 9)), [0.0, 2 / 3, 1.0])  # 3, 1 or 0 fixed points
    assert values.mean() == pytest.approx(2 / 3, abs=0.02)
    with pytest.raises(ValueError, match="n_pairs=4 exceeds the 3 rows"):
        diversity(tri, n_pairs=4)


def test_multimodality_uses_the_same_pairs_for_every_caption() -> None:
    # caption 0: generations 1 apart; caption 1: 3 apart. Two generations, 2 pairs: both captions use the same
    # (first, second) draw, so either every pair is a self-pair (0) or every pair is swapped (mean of 1, 1, 3, 3 = 2).
    # Pairs drawn per caption would also give 0.5 or 1.5 (one caption swapped, the other not).
    mm = np.array([[[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [0.0, 3.0]]])
    values = {round(multimodality(mm, n_pairs=2, rng=np.random.default_rng(s)), 9) for s in range(200)}
    assert values == {0.0, 2.0}
    # by hand against the reference draw on a larger case
    emb = np.random.default_rng(1).normal(size=(4, 30, 6))
    rng = np.random.default_rng(8)
    first, second = rng.choice(30, 10, replace=False), rng.choice(30, 10, replace=False)
    expected = np.linalg.norm(emb[:, first] - emb[:, second], axis=2).mean()
    assert multimodality(emb, n_pairs=10, rng=np.random.default_rng(8)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="n_pairs=10 exceeds the 2 generations per caption"):
        multimodality(mm, n_pairs=10)


def test_protocol_by_hand_on_four_one_dimensional_pairs() -> None:
    """N = 4 pairs, batches of 3: each repeat keeps 3 rows and drops 1; every metric uses the same 3 rows."""
    real = np.array([[0.0], [1.0], [2.0], [4.0]])
    text = real + 0.1  # each caption 0.1 from its motion
    # the ground truth scored against itself: FID 0 in every repeat, although a row is dropped each time
    # (FID of all 4 real rows against the 3 kept ones would be > 0 for any dropped row)
    gt = t2m_metrics(text, real, real, batch_size=3, repeats=6, diversity_pairs=3, seed=2)
    assert max(gt["FID"].values) == pytest.approx(0.0, abs=1e-12)
    assert fid(real, real[:3]) > 0.1 and fid(real, real[1:]) > 0.1
    # R@1: nearest motion to each caption is its own (rows 0.1 apart, motions >= 1 apart): 1 in every repeat
    assert gt["R@1"].values == (1.0,) * 6 and gt["MM-Dist"].mean == pytest.approx(0.1)
    # a motion set shifted by 1: same covariance, mean 1 away -> FID exactly 1 on any 3 kept rows (1-d)
    shifted = t2m_metrics(text, real + 1.0, real, batch_size=3, repeats=6, diversity_pairs=3, seed=2)
    np.testing.assert_allclose(shifted["FID"].values, 1.0, rtol=1e-9)
    # with the motions shifted by 1, caption i (at x_i + 0.1) is nearest to motion i - 1 (at x_{i-1} + 1):
    # every kept batch's R@1 is the share of its captions whose shifted motion is nearest; by hand for all four
    # captions: x = 0 -> own (1.0 is 0.9 away, the next 2.0 is 1.9); 1 -> motion of 0 (at 1.0, 0.1 away) ...
    expected_r1 = []
    for r in range(6):
        keep = np.random.default_rng([2, r]).permutation(4)[:3]
        motions = real[keep, 0] + 1.0
        hits = [np.argmin(np.abs(motions - (real[i, 0] + 0.1))) == k for k, i in enumerate(keep)]
        expected_r1.append(np.mean(hits))
    np.testing.assert_allclose(shifted["R@1"].values, expected_r1)
    # Diversity over the 3 kept rows with 3 pairs: two independent permutations of the kept rows
    for r, value in enumerate(gt["Diversity"].values):
        rng = np.random.default_rng([2, r])
        kept = real[rng.permutation(4)[:3], 0]
        first, second = rng.choice(3, 3, replace=False), rng.choice(3, 3, replace=False)
        assert value == pytest.approx(np.abs(kept[first] - kept[second]).mean(), abs=1e-12)


def test_t2m_metrics_rejects_a_reference_that_is_not_row_for_row() -> None:
    real = np.arange(8.0)[:, None]
    with pytest.raises(ValueError, match="row for row"):
        t2m_metrics(real, real, real[:6], batch_size=3, diversity_pairs=3)
    with pytest.raises(ValueError, match="diversity_pairs must be an integer in 1..6"):
        t2m_metrics(real, real, real, batch_size=3, diversity_pairs=7)
    with pytest.raises(ValueError, match="mm_pairs must be in 1..3"):
        t2m_metrics(real, real, real, batch_size=3, diversity_pairs=3, mm_emb=np.zeros((2, 3, 1)), mm_pairs=10)


def test_mean_ci_by_hand() -> None:
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    # std (ddof 0) = sqrt(1.25); half width = 1.96 * sqrt(1.25) / sqrt(4)
    assert ci.mean == pytest.approx(2.5)
    assert ci.ci95 == pytest.approx(1.96 * math.sqrt(1.25) / 2)
    assert ci.values == (1.0, 2.0, 3.0, 4.0)
    assert str(ci) == "2.500 ± 1.096"
    assert f"{ci:.1f}" == "2.5 ± 1.1"
    assert isinstance(ci, MetricCI) and mean_ci([7.0]).ci95 == 0.0


# ---------------------------------------------------------------------------------------------- protocol


def _embeddings(n: int = 160, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    motion = rng.normal(size=(n, dim))
    text = motion + 0.3 * rng.normal(size=(n, dim))  # each caption near its motion
    return text, motion


def test_t2m_metrics_ground_truth_beats_noise() -> None:
    text, real = _embeddings()
    gt = t2m_metrics(text, real, real, repeats=5, diversity_pairs=150, seed=0)
    noise = np.random.default_rng(9).normal(size=real.shape)
    bad = t2m_metrics(text, noise, real, repeats=5, diversity_pairs=150, seed=0)
    assert set(gt) == {"R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity"}
    assert all(len(v.values) == 5 for v in gt.values())
    for k in ("R@1", "R@2", "R@3"):
        assert gt[k].mean > bad[k].mean + 0.3, k
    assert gt["R@1"].mean <= gt["R@2"].mean <= gt["R@3"].mean
    assert gt["MM-Dist"].mean < bad["MM-Dist"].mean
    # the same rows on both sides: FID 0 in every repeat
    assert max(gt["FID"].values) == pytest.approx(0.0, abs=1e-6) and bad["FID"].mean > 0.5


def test_t2m_metrics_multimodality_seed_and_errors() -> None:
    text, real = _embeddings(n=64)
    mm = np.random.default_rng(3).normal(size=(4, 5, 16))
    a = t2m_metrics(text, real, real, repeats=3, diversity_pairs=64, mm_emb=mm, mm_pairs=5, seed=7)
    b = t2m_metrics(text, real, real, repeats=3, diversity_pairs=64, mm_emb=mm, mm_pairs=5, seed=7)
    assert a == b  # seeded
    # repeat r draws MultiModality after the batches and Diversity from default_rng([seed, r])
    for r, value in enumerate(a["MultiModality"].values):
        rng = np.random.default_rng([7, r])
        rng.permutation(64)
        rng.choice(64, 64, replace=False), rng.choice(64, 64, replace=False)
        assert value == pytest.approx(multimodality(mm, 5, rng), rel=1e-12)
    with pytest.raises(ValueError, match="at least batch_size=32"):
        t2m_metrics(text[:20], real[:20], real[:20])
    with pytest.raises(ValueError, match="motion_emb"):
        t2m_metrics(text, real[:, :8], real)
    bad = text.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="text_emb contains 1 NaN"):
        t2m_metrics(bad, real, real, diversity_pairs=64)
    with pytest.raises(ValueError, match="real_motion_emb"):
        t2m_metrics(text, real, real[:, :4], diversity_pairs=64)


def test_embedding_metric_errors() -> None:
    x = np.zeros((3, 2))
    with pytest.raises(ValueError, match="top_k"):
        r_precision(x, x, top_k=4)
    with pytest.raises(ValueError, match="same shape"):
        mm_dist(x, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="gen_emb needs at least 2"):
        fid(x, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="emb needs at least 2 rows"):
        diversity(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="generations >= 2"):
        multimodality(np.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match="values is empty"):
        mean_ci([])


# ---------------------------------------------------------------------------------------------- joints


def _joints(t: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(t, 22, 3))


def test_mpjpe_of_known_offsets() -> None:
    gt = _joints()
    pred = gt.copy()
    pred[:, 5, 0] += 0.01  # one joint 10 mm off
    assert mpjpe(pred, gt) == pytest.approx(10.0 / 22)
    assert mpjpe(gt + np.array([1.0, -2.0, 0.5]), gt) == pytest.approx(0.0, abs=1e-9)  # pelvis-relative
    moved_pelvis = gt.copy()
    moved_pelvis[:, 0, 1] += 0.022  # every other joint is now 22 mm off relative to the pelvis
    assert mpjpe(moved_pelvis, gt) == pytest.approx(22.0 * 21 / 22)


def test_pa_mpjpe_ignores_a_similarity_transform_per_frame() -> None:
    gt = _joints(t=6)
    rots = Rotation.random(6, random_state=1).as_matrix()  # (6, 3, 3), one per frame
    scale = np.linspace(0.5, 2.0, 6)[:, None, None]
    pred = scale * np.einsum("fij,fkj->fki", rots, gt) + np.array([0.3, -1.0, 2.0])
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-6)
    assert mpjpe(pred, gt) > 100.0
    noisy = gt + 0.01 * np.random.default_rng(2).normal(size=gt.shape)
    assert 0.0 < pa_mpjpe(noisy, gt) <= mpjpe(noisy, gt) + 1e-9
    reflected = gt * np.array([-1.0, 1.0, 1.0])  # a mirror image is not a rotation
    assert pa_mpjpe(reflected, gt) > 1.0


def test_jitter_of_a_cubic() -> None:
    fps, a = 20.0, 0.7
    t = np.arange(12) / fps
    joints = np.zeros((12, 22, 3))
    joints[..., 1] = (a * t**3 - 2 * t**2 + t)[:, None]  # third derivative 6a everywhere
    assert jitter(joints, fps) == pytest.approx(6 * a)
    assert jitter(np.stack([joints, joints]), fps) == pytest.approx(6 * a)  # batch of clips
    with pytest.raises(ValueError, match="at least 4 frames"):
        jitter(joints[:3], fps)
    with pytest.raises(ValueError, match="fps"):
        jitter(joints, 0)


def test_plausibility_reacts_to_sliding_and_sinking() -> None:
    from motionbook_lib.data.synthetic import SyntheticConfig, generate_motion

    motion = generate_motion(3, SyntheticConfig(seed=0))
    joints = motion.joints().detach().cpu().numpy().astype(np.float64)  # (T, 22, 3)
    base = plausibility(joints, motion.fps)
    assert set(base) == {"foot_skating", "ground_penetration", "jitter"}
    assert base["jitter"] == pytest.approx(jitter(joints, motion.fps))
    slide = joints.copy()
    slide[..., 0] += (np.arange(len(joints)) / motion.fps * 1.5)[:, None]  # whole body glides at 1.5 m/s
    assert plausibility(slide, motion.fps)["foot_skating"] > base["foot_skating"] + 0.5
    sunk = joints - np.array([0.0, 0.3, 0.0])
    assert plausibility(sunk, motion.fps)["ground_penetration"] > base["ground_penetration"] + 0.1
    batch = plausibility(np.stack([joints, joints]), motion.fps)
    assert batch == pytest.approx(base)


def test_joint_metric_errors() -> None:
    gt = _joints()
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(gt[:5], gt)
    bad = gt.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="pred contains 1 NaN"):
        pa_mpjpe(bad, gt)
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        mpjpe(gt.reshape(10, 66), gt.reshape(10, 66))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, 22, 3\)"):
        plausibility(gt[:, :20], 20.0)
