"""Scaling-law fits on data drawn from known power laws: recovery, bootstrap intervals, compute optimum,
robustness of the Huber loss, and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from motionbook_lib.scaling.fits import (
    JointLawFit,
    compute_optimal,
    fit_joint_law,
    fit_power_law,
    loss_grid,
)

TRUE = {"E": 1.5, "A": 60.0, "B": 25.0, "alpha": 0.35, "beta": 0.45}


def _law(N, D, p=TRUE):
    return p["E"] + p["A"] / np.power(N, p["alpha"]) + p["B"] / np.power(D, p["beta"])


def _grid():
    # model sizes ~ 1e5..1e7 non-embedding parameters, data sizes 250..8000 motions (a CPU-to-GPU sweep)
    N, D = np.meshgrid(np.geomspace(1e5, 1e7, 4), np.geomspace(250, 8000, 5))
    return N.ravel(), D.ravel()


@pytest.fixture(scope="module")
def noiseless_fit() -> JointLawFit:
    N, D = _grid()
    return fit_joint_law(N, D, _law(N, D), n_boot=0)


@pytest.fixture(scope="module")
def noisy_fit() -> JointLawFit:
    N, D = _grid()
    rng = np.random.default_rng(0)
    L = _law(N, D) * np.exp(rng.normal(0.0, 0.01, N.shape))  # 1 % multiplicative noise
    return fit_joint_law(N, D, L, n_boot=120, seed=1)


def test_noiseless_joint_law_is_recovered(noiseless_fit):
    for name, value in TRUE.items():
        assert noiseless_fit.params[name] == pytest.approx(value, rel=1e-4), name
    assert np.max(np.abs(noiseless_fit.residuals)) < 1e-6


def test_noisy_joint_law_within_bootstrap_intervals(noisy_fit):
    ci = noisy_fit.intervals()
    assert len(noisy_fit.boot) + noisy_fit.boot_skipped == 120 and len(noisy_fit.boot) > 80
    for name, value in TRUE.items():
        lo, hi = ci[name]
        assert lo <= value <= hi, (name, value, ci[name])
        assert lo <= noisy_fit.params[name] <= hi, name
    # the exponents (what a scaling claim is about) are close to the truth
    assert noisy_fit.alpha == pytest.approx(TRUE["alpha"], abs=0.07)
    assert noisy_fit.beta == pytest.approx(TRUE["beta"], abs=0.07)
    assert noisy_fit.E == pytest.approx(TRUE["E"], rel=0.1)
    # fitted curve within the noise of the true one on the observed grid
    N, D = _grid()
    assert np.max(np.abs(np.log(noisy_fit.predict(N, D) / _law(N, D)))) < 0.02


def test_prediction_band_contains_fit_and_widens_when_extrapolating(noisy_fit):
    N, D = _grid()
    lo, hi = noisy_fit.prediction_band(N, D)
    pred = noisy_fit.predict(N, D)
    assert lo.shape == N.shape and np.all(lo <= pred + 1e-9) and np.all(pred <= hi + 1e-9)
    inside = noisy_fit.prediction_band(1e6, 1000.0)
    far = noisy_fit.prediction_band(1e9, 1e6)
    assert far[1] - far[0] > 2 * (inside[1] - inside[0])
    assert far[0] <= _law(1e9, 1e6) <= far[1]  # the truth lies inside the extrapolated band


def test_compute_optimum_matches_the_closed_form_and_a_brute_force_search(noiseless_fit, noisy_fit):
    C, k = 1e18, 40.0  # FLOPs, tokens per motion
    opt = compute_optimal(noiseless_fit, C, tokens_per_sample=k)
    # by hand, from the true parameters: N D = C / (6 k), N* = G (C / 6k)^(beta / (alpha + beta))
    a, b = TRUE["alpha"], TRUE["beta"]
    G = (a * TRUE["A"] / (b * TRUE["B"])) ** (1 / (a + b))
    budget = C / (6 * k)
    N_star = G * budget ** (b / (a + b))
    D_star = budget / N_star
    assert opt.N == pytest.approx(N_star, rel=1e-3)
    assert opt.D == pytest.approx(D_star, rel=1e-3)
    assert opt.D_tokens == pytest.approx(k * D_star, rel=1e-3)
    assert 6 * opt.N * opt.D_tokens == pytest.approx(C, rel=1e-9)
    assert opt.loss == pytest.approx(_law(N_star, D_star), rel=1e-6)
    # brute force along the iso-FLOP line: no N does better
    Ns = np.geomspace(N_star / 100, N_star * 100, 20001)
    losses = _law(Ns, budget / Ns)
    assert Ns[np.argmin(losses)] == pytest.approx(N_star, rel=2e-3)
    assert losses.min() >= opt.loss - 1e-9
    assert opt.N_interval is None  # no bootstrap, no interval
    # with a bootstrap, intervals around the estimate
    noisy = compute_optimal(noisy_fit, C, tokens_per_sample=k)
    for name in ("N", "D", "D_tokens", "loss"):
        lo, hi = getattr(noisy, f"{name}_interval")
        assert lo <= getattr(noisy, name) <= hi, name


def test_huber_fit_shrugs_off_an_outlier_that_moves_least_squares():
    N, D = _grid()
    rng = np.random.default_rng(3)
    L = _law(N, D) * np.exp(rng.normal(0.0, 0.002, N.shape))
    L[7] *= 1.6  # one gross outlier (a diverged run)
    clean = np.delete(np.arange(len(N)), 7)
    truth = _law(N[clean], D[clean])
    huber = fit_joint_law(N, D, L, n_boot=0)
    plain = fit_joint_law(N, D, L, huber_delta=np.inf, n_boot=0)
    err_huber = np.max(np.abs(np.log(huber.predict(N[clean], D[clean]) / truth)))
    err_plain = np.max(np.abs(np.log(plain.predict(N[clean], D[clean]) / truth)))
    assert err_huber < 0.01, err_huber
    assert err_plain > 3 * err_huber, (err_plain, err_huber)
    assert abs(huber.residuals[7]) > 0.4  # the outlier stays an outlier
    # same for the single-variable law
    x = np.geomspace(250, 8000, 8)
    y = 3.0 * x**-0.3
    y[2] *= 2.0
    robust, ls = fit_power_law(x, y, n_boot=0), fit_power_law(x, y, huber_delta=np.inf, n_boot=0)
    assert robust.b == pytest.approx(-0.3, abs=1e-3)
    assert abs(ls.b + 0.3) > 10 * abs(robust.b + 0.3)


def test_power_law_recovery_and_intervals():
    x = np.geomspace(250, 16000, 7)
    exact = fit_power_law(x, 0.2 * x**0.25, n_boot=0)
    assert (exact.a, exact.b, exact.c) == (pytest.approx(0.2, rel=1e-6), pytest.approx(0.25, rel=1e-6), 0.0)
    rng = np.random.default_rng(5)
    y = 0.2 * x**0.25 * np.exp(rng.normal(0, 0.03, x.shape))
    noisy = fit_power_law(x, y, n_boot=200, seed=0)
    ci = noisy.intervals()
    assert ci["a"][0] <= 0.2 <= ci["a"][1] and ci["b"][0] <= 0.25 <= ci["b"][1], ci
    assert noisy.b == pytest.approx(0.25, abs=0.05)
    lo, hi = noisy.prediction_band([1e5])
    assert lo[0] <= 0.2 * 1e5**0.25 <= hi[0]
    # with an offset: FID-like metric decaying to a floor
    off = fit_power_law(x, 1.2 + 40.0 * x**-0.5, offset=True, n_boot=50)
    assert (off.a, off.b, off.c) == (pytest.approx(40.0, rel=1e-4), pytest.approx(-0.5, rel=1e-4),
                                     pytest.approx(1.2, rel=1e-4))  # fmt: skip
    assert np.max(np.abs(off.residuals)) < 1e-6
    assert "c =" in off.summary() and "bootstrap" in off.summary()


def test_loss_grid_matches_predict(noiseless_fit):
    grid = loss_grid(noiseless_fit, (1e5, 1e8), (100, 1e5), points=7)
    assert grid.N.shape == (7,) and grid.D.shape == (7,) and grid.L.shape == (7, 7)
    assert grid.L[2, 5] == pytest.approx(float(noiseless_fit.predict(grid.N[5], grid.D[2])))
    assert np.all(np.diff(grid.L, axis=0) < 0) and np.all(np.diff(grid.L, axis=1) < 0)  # more N or D: lower loss
    with pytest.raises(ValueError, match="N_range"):
        loss_grid(noiseless_fit, (1e5, 1e4), (100, 1e5))


@pytest.mark.parametrize(
    "N,D,L,match",
    [
        ([1e5, 1e6, -1, 1e7, 1e5, 1e6], [1, 2, 3, 4, 5, 6], [3, 2, 2, 1, 2, 2], "N must be > 0"),
        ([1e5, 1e6, 1e6, 1e7, 1e5, 1e6], [1, 2, 3, 4, 5, 6], [3, 2, np.nan, 1, 2, 2], "L has non-finite"),
        ([1e5, 1e6, 1e6, 1e7, 1e5], [1, 2, 3, 4, 5, 6], [3, 2, 2, 1, 2, 2], "equal lengths"),
        ([1e5, 1e6, 1e7], [1, 2, 3], [3, 2, 1], "at least 5 distinct"),
        ([1e6] * 6, [1, 2, 3, 4, 5, 6], [3, 2, 2, 1, 2, 2], "1 distinct N"),
        ([[1e5, 1e6]] * 3, [1, 2, 3], [3, 2, 1], "1-D"),
        (["a", 1e6, 1e6, 1e7, 1e5, 1e6], [1, 2, 3, 4, 5, 6], [3, 2, 2, 1, 2, 2], "N must be numbers"),
    ],
)
def test_joint_law_rejects_bad_input(N, D, L, match):
    with pytest.raises(ValueError, match=match):
        fit_joint_law(N, D, L, n_boot=0)


def test_other_bad_input_is_named(noiseless_fit):
    with pytest.raises(ValueError, match="huber_delta"):
        fit_power_law([1, 2, 3], [1, 2, 3], huber_delta=0)
    with pytest.raises(ValueError, match="3 distinct x"):
        fit_power_law([1, 1, 2], [1, 2, 3], offset=True)
    with pytest.raises(ValueError, match="y must be > 0"):
        fit_power_law([1, 2, 3], [1, 0, 3])
    with pytest.raises(ValueError, match="no bootstrap"):
        noiseless_fit.intervals()
    with pytest.raises(ValueError, match="compute budget"):
        compute_optimal(noiseless_fit, -1.0)
    with pytest.raises(ValueError, match="init_grid"):
        N, D = _grid()
        fit_joint_law(N, D, _law(N, D), init_grid=[[0.0, 1.0, 2.0]], n_boot=0)


def test_degeneracies_are_empty_for_a_well_posed_sweep(noiseless_fit):
    assert noiseless_fit.degeneracies() == []


def test_a_loss_that_ignores_model_size_is_flagged():
    # two model sizes whose losses follow one law in D alone: alpha and A cannot be identified
    N, D = np.meshgrid([1e5, 8e5], np.geomspace(250, 4000, 5))
    N, D = N.ravel(), D.ravel()
    rng = np.random.default_rng(3)
    L = (20.0 / D**0.3) * np.exp(rng.normal(0.0, 0.01, N.shape))
    notes = fit_joint_law(N, D, L, n_boot=0).degeneracies()
    assert any("2 distinct model sizes" in n for n in notes), notes
    assert any("E =" in n or "A / N^alpha" in n or "alpha =" in n for n in notes), notes


def test_fit_sweep_carries_the_degeneracy_notes():
    import pandas as pd

    from motionbook_lib.scaling.fits import fit_sweep

    N, D = np.meshgrid([1e5, 8e5], np.geomspace(250, 4000, 5))
    table = pd.DataFrame({"n_params": N.ravel(), "data_size": D.ravel(), "status": "ok",
                          "model_size": np.where(N.ravel() < 2e5, "tiny", "mini"),
                          "val_loss": 20.0 / D.ravel() ** 0.3})  # fmt: skip
    fits = fit_sweep(table, "val_loss", n_boot=0)
    assert any(n.startswith("joint law: only 2 distinct model sizes") for n in fits.notes), fits.notes
    assert "only 2 distinct model sizes" in fits.summary()


def test_power_law_intervals_cover_the_truth_at_about_their_level():
    """Over 30 noisy draws of one known law, the 95% bootstrap intervals hold the true exponent nearly always,
    without being uselessly wide (so neither too narrow nor vacuous intervals pass)."""
    x = np.geomspace(250, 16000, 7)
    hits, widths = 0, []
    for s in range(30):
        y = 0.2 * x**0.25 * np.exp(np.random.default_rng(100 + s).normal(0, 0.03, x.shape))
        lo, hi = fit_power_law(x, y, n_boot=100, seed=s).intervals()["b"]
        hits += lo <= 0.25 <= hi
        widths.append(hi - lo)
    assert hits >= 24, f"{hits}/30 intervals hold the true exponent"
    assert 0.005 < np.mean(widths) < 0.1, np.mean(widths)
