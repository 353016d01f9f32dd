"""Scaling-law fits with bootstrap intervals (numpy + scipy only).

Two models, both fitted by minimising a Huber loss of residuals in **log space** with L-BFGS-B from a
grid of starting points (the procedure of Hoffmann et al. 2022, "Chinchilla", approach 3):

- the joint law ``L(N, D) = E + A / N**alpha + B / D**beta`` (:func:`fit_joint_law`), parametrised as
  ``E = exp(e)``, ``A = exp(a)``, ``B = exp(b)`` so that ``log L = logsumexp(a - alpha log N, b - beta log D, e)``;
- a single-variable power law ``y = a * x**b`` or, with ``offset=True``, ``y = c + a * x**b`` with
  ``a, c > 0`` (:func:`fit_power_law`), for a metric (FID, loss) against data size. For a metric that
  rises towards a ceiling (R@1 -> 1), fit its complement ``1 - R@1`` with an offset, or ``R@1`` itself
  without one.

Every fit can carry a bootstrap: the observations are resampled with replacement, the model refitted
(starting from the full-data optimum and the best few grid starts), and percentile intervals taken over
the resamples (:meth:`intervals`, :meth:`prediction_band`). Resamples that cannot identify the model
(too few distinct N, D or x values) are skipped and counted.

Units: ``N`` and ``D`` are whatever the fit was given (in motionbook sweeps: non-embedding parameters
and training motions). :func:`compute_optimal` converts a FLOP budget with ``C = 6 * N * D_tokens``
(``D_tokens = tokens_per_sample * D``).

A ``huber_delta`` of ``inf`` makes the loss plain least squares (useful to compare robustness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import minimize

__all__ = [
    "ComputeOptimum",
    "JointLawFit",
    "LossGrid",
    "PowerLawFit",
    "SweepFits",
    "bootstrap",
    "compute_optimal",
    "fit_joint_law",
    "fit_power_law",
    "fit_sweep",
    "loss_grid",
]

ArrayLike = float | Sequence[float] | np.ndarray
JOINT_PARAMS: tuple[str, ...] = ("E", "A", "B", "alpha", "beta")
POWER_PARAMS: tuple[str, ...] = ("a", "b", "c")
_EXP_BOUNDS: tuple[float, float] = (1e-3, 5.0)  # bounds of alpha and beta


# ----------------------------------------------------------------------------------------------------------------
# validation and the Huber objective


def _positive(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D float array, all finite and > 0, or a ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numbers, got {values!r}") from err
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} has non-finite values at positions {np.flatnonzero(bad).tolist()[:10]}")
    if (arr <= 0).any():
        raise ValueError(
            f"{name} must be > 0 (fits are in log space); non-positive at {np.flatnonzero(arr <= 0).tolist()[:10]}"
        )
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"inputs must have equal lengths, got {lengths}")
    return next(iter(lengths.values()))


def _check_delta(delta: float) -> float:
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"huber_delta must be > 0 (inf = least squares), got {delta}")
    return delta


def _huber(r: np.ndarray, delta: float) -> tuple[float, np.ndarray]:
    """Mean Huber loss of residuals ``r`` (scaled by 1/delta, which keeps the optimiser well-conditioned) and
    its derivative with respect to each residual."""
    n = len(r)
    if np.isinf(delta):
        return float(0.5 * (r @ r) / n), r / n
    c = np.clip(r, -delta, delta)  # Huber: 0.5 r^2 inside [-delta, delta], linear outside
    h = c * (r - 0.5 * c)
    return float(h.sum() / (delta * n)), c / (delta * n)


def _minimise(fun, x0: np.ndarray, bounds: list[tuple[float | None, float | None]]) -> tuple[np.ndarray, float, bool]:
    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})  # fmt: skip
    ok = bool(np.all(np.isfinite(res.x))) and np.isfinite(res.fun)
    return np.asarray(res.x, dtype=np.float64), float(res.fun), ok


def _multistart(fun, starts: np.ndarray, bounds: list, what: str) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimise ``fun`` from every start: the best theta, its objective, and every start's optimum (best first)."""
    results = []
    for x0 in starts:
        theta, value, ok = _minimise(fun, x0, bounds)
        if ok:
            results.append((value, theta))
    if not results:
        raise RuntimeError(f"the {what} fit failed from every starting point")
    results.sort(key=lambda r: r[0])
    return results[0][1], results[0][0], np.stack([t for _, t in results])


def _percentiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    q = 100 * (1 - level) / 2
    return np.percentile(samples, q, axis=0), np.percentile(samples, 100 - q, axis=0)


class _Bootstrapped:
    """Intervals over the bootstrap parameter sets of a fit (``boot``: (n_ok, n_params) in natural units)."""

    boot: np.ndarray | None
    level: float
    names: tuple[str, ...]

    def _values(self) -> np.ndarray:
        raise NotImplementedError

    def _predict_many(self, params: np.ndarray, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _need_boot(self) -> np.ndarray:
        if self.boot is None or len(self.boot) == 0:
            raise ValueError("this fit has no bootstrap: fit again with n_boot > 0")
        return self.boot

    def intervals(self, level: float | None = None) -> dict[str, tuple[float, float]]:
        """Percentile interval of every parameter over the bootstrap refits: ``{name: (low, high)}``."""
        lo, hi = _percentiles(self._need_boot(), self.level if level is None else level)
        return {n: (float(a), float(b)) for n, a, b in zip(self.names, lo, hi, strict=True)}

    def _band(self, level: float | None, *xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preds = self._predict_many(self._need_boot(), *xs)  # (n_boot, M)
        return _percentiles(preds, self.level if level is None else level)

    @property
    def params(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, self._values(), strict=True)}

    def summary(self, digits: int = 4) -> str:
        """One line per parameter: value and, with a bootstrap, its interval."""
        ci = self.intervals() if self.boot is not None and len(self.boot) else None
        lines = []
        for name, value in self.params.items():
            line = f"{name:>6} = {value:.{digits}g}"
            if ci is not None:
                lo, hi = ci[name]
                line += f"   [{lo:.{digits}g}, {hi:.{digits}g}] ({self.level:.0%} bootstrap, n={len(self.boot)})"
            lines.append(line)
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# joint law L(N, D) = E + A / N^alpha + B / D^beta


def _lse(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """logsumexp over the last axis and its softmax weights (plain numpy: this runs ~10^5 times per fit)."""
    m = terms.max(axis=-1, keepdims=True)
    ex = np.exp(terms - m)
    s = ex.sum(axis=-1, keepdims=True)
    return (m + np.log(s))[..., 0], ex / s


def _joint_objective(theta: np.ndarray, logN: np.ndarray, logD: np.ndarray, logL: np.ndarray, delta: float):
    e, a, b, alpha, beta = theta
    terms = np.empty((len(logN), 3))
    terms[:, 0] = a - alpha * logN
    terms[:, 1] = b - beta * logD
    terms[:, 2] = e
    pred, w = _lse(terms)  # w: d pred / d term, (M, 3)
    value, dr = _huber(pred - logL, delta)
    g0, g1, g2 = dr @ w
    grad = np.array([g2, g0, g1, -(dr * logN) @ w[:, 0], -(dr * logD) @ w[:, 1]])
    return value, grad


def _joint_theta_to_params(theta: np.ndarray) -> np.ndarray:
    e, a, b, alpha, beta = theta
    return np.array([np.exp(e), np.exp(a), np.exp(b), alpha, beta])


def _joint_params_to_theta(params: np.ndarray) -> np.ndarray:
    E, A, B, alpha, beta = params
    return np.array([np.log(E), np.log(A), np.log(B), alpha, beta])


def _joint_predict(params: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``params`` (5,) or (K, 5) -> predictions broadcast over N, D: (...,) or (K, ...)."""
    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 2:
        p = p.reshape(p.shape[0], 5, *([1] * max(np.ndim(N), np.ndim(D))))
        E, A, B, alpha, beta = (p[:, k] for k in range(5))
    else:
        E, A, B, alpha, beta = p
    return E + A / np.power(N, alpha) + B / np.power(D, beta)


def default_joint_grid(N: np.ndarray, D: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Starting points ``(e, a, b, alpha, beta)`` scaled to the data: for each exponent pair, the irreducible
    term and each reducible term start at a few fractions of the observed loss. (K, 5)."""
    mN, mD, Lmin, Lmean = np.mean(np.log(N)), np.mean(np.log(D)), float(np.min(L)), float(np.mean(L))
    rows = []
    for alpha in (0.15, 0.4, 0.8):
        for beta in (0.15, 0.4, 0.8):
            for fe in (0.3, 0.8):
                for fa in (0.15, 0.6):
                    for fb in (0.15, 0.6):
                        rows.append([np.log(fe * Lmin), np.log(fa * Lmean) + alpha * mN, np.log(fb * Lmean) + beta * mD,
                                     alpha, beta])  # fmt: skip
    return np.asarray(rows)


@dataclass
class JointLawFit(_Bootstrapped):
    """``L(N, D) = E + A / N**alpha + B / D**beta`` fitted to observations ``(N, D, L)``."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    N: np.ndarray  # (M,) observations the fit used
    D: np.ndarray  # (M,)
    L: np.ndarray  # (M,)
    huber_delta: float
    objective: float  # final Huber objective (mean, scaled by 1/delta)
    starts: np.ndarray = field(repr=False)  # (K, 5) optimised thetas of every start, best first
    boot: np.ndarray | None = field(default=None, repr=False)  # (n_ok, 5) bootstrap [E, A, B, alpha, beta]
    boot_skipped: int = 0
    level: float = 0.95
    names: tuple[str, ...] = JOINT_PARAMS

    def _values(self) -> np.ndarray:
        return np.array([self.E, self.A, self.B, self.alpha, self.beta])

    def _predict_many(self, params: np.ndarray, *xs: np.ndarray) -> np.ndarray:
        return _joint_predict(params, *xs)

    def predict(self, N: ArrayLike, D: ArrayLike) -> np.ndarray:
        """Predicted loss at (N, D) (broadcast)."""
        return _joint_predict(self._values(), np.asarray(N, dtype=np.float64), np.asarray(D, dtype=np.float64))

    @property
    def residuals(self) -> np.ndarray:
        """``log L_obs - log L_pred`` per observation, (M,)."""
        return np.log(self.L) - np.log(self.predict(self.N, self.D))

    def degeneracies(self) -> list[str]:
        """Why the fitted law may not be identified by these observations (empty when nothing looks off).

        An exponent on its bound, an irreducible loss ``E`` or a reducible term that is negligible against the
        observed losses, or fewer than 3 distinct model (data) sizes: each makes ``alpha`` or ``beta`` (and
        with it the compute-optimal split) a property of the fitting procedure rather than of the data.
        """
        out = []
        lmin = float(np.min(self.L))
        for name, value in (("alpha", self.alpha), ("beta", self.beta)):
            lo, hi = _EXP_BOUNDS
            if value <= lo * 1.01 or value >= hi * 0.99:
                out.append(f"{name} = {value:.3g} sits on its bound [{lo}, {hi}]: not identified by these cells")
        if self.E < 1e-3 * lmin:
            out.append(f"E = {self.E:.3g} is ~0 against losses >= {lmin:.3g}: the irreducible loss is not identified")
        for name, term in (("A / N^alpha", self.A / self.N**self.alpha), ("B / D^beta", self.B / self.D**self.beta)):
            if float(np.max(term)) < 1e-3 * lmin:
                out.append(f"{name} is < 0.1% of the loss at every cell: that axis does not enter the fit")
        for axis, values in (("model sizes (N)", self.N), ("data sizes (D)", self.D)):
            k = len(np.unique(values))
            if k < 3:
                out.append(f"only {k} distinct {axis}: the exponent of that axis rests on {k} points")
        return out

    def prediction_band(self, N: ArrayLike, D: ArrayLike, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval (low, high) of the predicted loss at (N, D) over the bootstrap refits."""
        return self._band(level, np.asarray(N, dtype=np.float64), np.asarray(D, dtype=np.float64))


def _joint_fit_once(
    N: np.ndarray, D: np.ndarray, L: np.ndarray, delta: float, starts: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """Best theta, its objective, and every start's optimised theta (best first)."""
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    bounds = [(None, None)] * 3 + [_EXP_BOUNDS] * 2
    return _multistart(lambda t: _joint_objective(t, logN, logD, logL, delta), starts, bounds, "joint-law")


def _identifiable_joint(N: np.ndarray, D: np.ndarray) -> bool:
    return len(np.unique(N)) >= 2 and len(np.unique(D)) >= 2 and len(np.unique(np.stack([N, D]), axis=1).T) >= 5


def fit_joint_law(
    N: ArrayLike,
    D: ArrayLike,
    L: ArrayLike,
    *,
    huber_delta: float = 1e-3,
    init_grid: np.ndarray | Sequence[Sequence[float]] | None = None,
    n_boot: int = 200,
    boot_starts: int = 1,
    level: float = 0.95,
    seed: int = 0,
) -> JointLawFit:
    """Fit ``L = E + A / N**alpha + B / D**beta`` (Huber loss of log residuals, L-BFGS-B from a grid).

    Args:
        N, D, L: observations (model size, data size, loss), each (M,), all finite and > 0. Needs M >= 5 with
            at least 2 distinct N, 2 distinct D and 5 distinct (N, D) pairs.
        huber_delta: Huber threshold on log residuals (1e-3 as Hoffmann et al.); ``inf`` = least squares.
        init_grid: starting points ``(e, a, b, alpha, beta)`` with ``E = exp(e)`` etc., (K, 5);
            default :func:`default_joint_grid` (72 points scaled to the data).
        n_boot: bootstrap resamples (0: none); each refit starts from the full-data optimum and the
            ``boot_starts`` next-best optimised starts.
        level: interval coverage (0.95 = 2.5th to 97.5th percentiles).
        seed: seed of the bootstrap resampling.
    """
    N, D, L = _positive("N", N), _positive("D", D), _positive("L", L)
    M = _same_length(N=N, D=D, L=L)
    delta = _check_delta(huber_delta)
    if M < 5 or not _identifiable_joint(N, D):
        raise ValueError(
            f"the joint law has 5 parameters: need at least 5 distinct (N, D) pairs with >= 2 distinct N and >= 2 "
            f"distinct D, got {M} observations, {len(np.unique(N))} distinct N, {len(np.unique(D))} distinct D"
        )
    starts = default_joint_grid(N, D, L) if init_grid is None else np.asarray(init_grid, dtype=np.float64)
    if starts.ndim != 2 or starts.shape[1] != 5 or not np.isfinite(starts).all():
        raise ValueError(f"init_grid must be finite with shape (K, 5) of (e, a, b, alpha, beta), got {starts.shape}")
    theta, value, ranked = _joint_fit_once(N, D, L, delta, starts)
    fit = JointLawFit(*_joint_theta_to_params(theta), N=N, D=D, L=L, huber_delta=delta, objective=value,
                      starts=ranked, level=level)  # fmt: skip
    if n_boot:
        fit = bootstrap(fit, n_boot, seed=seed, boot_starts=boot_starts)
    return fit


# ----------------------------------------------------------------------------------------------------------------
# power law y = a x^b (+ c)


def _power_objective(theta: np.ndarray, logz: np.ndarray, logy: np.ndarray, delta: float, offset: bool):
    """theta = (log a', b[, log c]) with x normalised: z = x / x_ref, a' = a * x_ref**b."""
    if offset:
        terms = np.stack([theta[0] + theta[1] * logz, np.full_like(logz, theta[2])], axis=-1)
        pred, w = _lse(terms)
        value, dr = _huber(pred - logy, delta)
        return value, np.array([np.sum(dr * w[:, 0]), np.sum(dr * w[:, 0] * logz), np.sum(dr * w[:, 1])])
    pred = theta[0] + theta[1] * logz
    value, dr = _huber(pred - logy, delta)
    return value, np.array([np.sum(dr), np.sum(dr * logz)])


def _power_predict(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    p = np.asarray(params, dtype=np.float64)
    if p.ndim == 2:
        p = p.reshape(p.shape[0], 3, *([1] * np.ndim(x)))
        a, b, c = p[:, 0], p[:, 1], p[:, 2]
    else:
        a, b, c = p
    return c + a * np.power(x, b)


@dataclass
class PowerLawFit(_Bootstrapped):
    """``y = a * x**b`` (``c = 0``) or ``y = c + a * x**b`` (``offset``), fitted in log space."""

    a: float
    b: float
    c: float
    offset: bool
    x: np.ndarray  # (M,)
    y: np.ndarray  # (M,)
    huber_delta: float
    objective: float
    starts: np.ndarray = field(repr=False)  # (K, 2 or 3) optimised normalised thetas, best first
    x_ref: float = 1.0  # the fit ran on x / x_ref (geometric mean of x), for conditioning
    boot: np.ndarray | None = field(default=None, repr=False)  # (n_ok, 3) bootstrap [a, b, c]
    boot_skipped: int = 0
    level: float = 0.95
    names: tuple[str, ...] = POWER_PARAMS

    def _values(self) -> np.ndarray:
        return np.array([self.a, self.b, self.c])

    def _predict_many(self, params: np.ndarray, *xs: np.ndarray) -> np.ndarray:
        return _power_predict(params, xs[0])

    def predict(self, x: ArrayLike) -> np.ndarray:
        return _power_predict(self._values(), np.asarray(x, dtype=np.float64))

    @property
    def residuals(self) -> np.ndarray:
        """``log y_obs - log y_pred`` per observation, (M,)."""
        return np.log(self.y) - np.log(self.predict(self.x))

    def prediction_band(self, x: ArrayLike, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Percentile interval (low, high) of the prediction at ``x`` over the bootstrap refits."""
        return self._band(level, np.asarray(x, dtype=np.float64))


def _power_fit_once(
    x: np.ndarray, y: np.ndarray, delta: float, offset: bool, x_ref: float, starts: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    logz, logy = np.log(x / x_ref), np.log(y)
    bounds: list[tuple[float | None, float | None]] = [(None, None), (-10.0, 10.0)] + ([(None, None)] if offset else [])
    return _multistart(lambda t: _power_objective(t, logz, logy, delta, offset), starts, bounds, "power-law")


def _power_theta_to_params(theta: np.ndarray, x_ref: float, offset: bool) -> np.ndarray:
    b = theta[1]
    a = np.exp(theta[0]) * x_ref ** (-b)
    return np.array([a, b, np.exp(theta[2]) if offset else 0.0])


def _power_params_to_theta(params: np.ndarray, x_ref: float, offset: bool) -> np.ndarray:
    a, b, c = params
    theta = [np.log(a) + b * np.log(x_ref), b]
    return np.array(theta + [np.log(c)] if offset else theta)


def fit_power_law(
    x: ArrayLike,
    y: ArrayLike,
    *,
    offset: bool = False,
    huber_delta: float = 1e-3,
    n_boot: int = 200,
    boot_starts: int = 1,
    level: float = 0.95,
    seed: int = 0,
) -> PowerLawFit:
    """Fit ``y = a * x**b`` or (``offset``) ``y = c + a * x**b`` with ``a, c > 0`` by Huber regression of logs.

    ``b`` may have either sign (bounded to [-10, 10]). Needs >= 2 distinct x (3 with an offset). ``x`` is
    divided by its geometric mean during the fit; the result is in the original units.
    """
    x, y = _positive("x", x), _positive("y", y)
    _same_length(x=x, y=y)
    delta = _check_delta(huber_delta)
    k = 3 if offset else 2
    if len(np.unique(x)) < k:
        raise ValueError(f"a power law{' with offset' if offset else ''} needs >= {k} distinct x values, "
                         f"got {len(np.unique(x))} (x = {x.tolist()[:10]})")  # fmt: skip
    x_ref = float(np.exp(np.mean(np.log(x))))
    ly = np.log(y)
    if offset:
        ymin = float(np.min(y))
        starts = np.array([[np.log(fa * np.mean(y)), b, np.log(fc * ymin)]
                           for b in (-1.0, -0.5, -0.2, 0.2, 0.5, 1.0) for fa in (0.1, 0.5, 1.0)
                           for fc in (0.1, 0.5, 0.9)])  # fmt: skip
    else:
        starts = np.array([[float(np.mean(ly)), b] for b in (-1.0, 0.0, 1.0)])
    theta, value, ranked = _power_fit_once(x, y, delta, offset, x_ref, starts)
    a, b, c = _power_theta_to_params(theta, x_ref, offset)
    fit = PowerLawFit(a, b, c, offset, x, y, delta, value, ranked, x_ref=x_ref, level=level)
    if n_boot:
        fit = bootstrap(fit, n_boot, seed=seed, boot_starts=boot_starts)
    return fit


# ----------------------------------------------------------------------------------------------------------------
# bootstrap


def bootstrap(fit: JointLawFit | PowerLawFit, n_boot: int = 200, *, seed: int = 0, boot_starts: int = 1):
    """A copy of ``fit`` with ``boot`` set: ``n_boot`` refits on observations resampled with replacement.

    Each refit starts from the full-data optimum and the ``boot_starts`` best other local optima of the fit.

    Resamples that cannot identify the model are skipped (``boot_skipped`` counts them); if more than half
    are skipped, the data are too few for a bootstrap and this is a ``ValueError``.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    joint = isinstance(fit, JointLawFit)
    M = len(fit.N) if joint else len(fit.x)
    if joint:
        base = _joint_params_to_theta(fit._values())
    else:
        base = _power_params_to_theta(fit._values(), fit.x_ref, fit.offset)
    others = [t for t in fit.starts if np.max(np.abs(t - base)) > 1e-2][:boot_starts]
    starts = np.vstack([base[None], *[t[None] for t in others]])
    out, skipped = [], 0
    for _ in range(n_boot):
        idx = rng.integers(0, M, size=M)
        try:
            if joint:
                N, D, L = fit.N[idx], fit.D[idx], fit.L[idx]
                if not _identifiable_joint(N, D):
                    skipped += 1
                    continue
                theta, _, _ = _joint_fit_once(N, D, L, fit.huber_delta, starts)
                out.append(_joint_theta_to_params(theta))
            else:
                x, y = fit.x[idx], fit.y[idx]
                if len(np.unique(x)) < (3 if fit.offset else 2):
                    skipped += 1
                    continue
                theta, _, _ = _power_fit_once(x, y, fit.huber_delta, fit.offset, fit.x_ref, starts)
                out.append(_power_theta_to_params(theta, fit.x_ref, fit.offset))
        except RuntimeError:
            skipped += 1
    if len(out) < max(2, n_boot // 2):
        raise ValueError(f"only {len(out)} of {n_boot} bootstrap resamples could be fitted: too few observations")
    boot = np.stack(out)
    boot = boot[np.isfinite(boot).all(axis=1)]
    return replace(fit, boot=boot, boot_skipped=skipped + (len(out) - len(boot)))


# ----------------------------------------------------------------------------------------------------------------
# compute-optimal allocation and iso-loss grids


@dataclass
class ComputeOptimum:
    """The loss-optimal split of a FLOP budget ``C = flops_per_param_token * N * D_tokens`` under a fitted law.

    ``D`` is in the fit's data units (e.g. motions), ``D_tokens = tokens_per_sample * D``. Intervals are
    percentile intervals over the fit's bootstrap refits (``None`` without a bootstrap).
    """

    C: float
    N: float
    D: float
    D_tokens: float
    loss: float
    tokens_per_sample: float
    N_interval: tuple[float, float] | None = None
    D_interval: tuple[float, float] | None = None
    D_tokens_interval: tuple[float, float] | None = None
    loss_interval: tuple[float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _optimum(params: np.ndarray, budget: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed form (Hoffmann et al. 2022, eq. 4) for ``N * D = budget``: params (K, 5) -> N*, D*, L* each (K,)."""
    E, A, B, alpha, beta = params.T
    G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    N = G * budget ** (beta / (alpha + beta))
    D = budget / N
    return N, D, E + A / N**alpha + B / D**beta


def compute_optimal(
    fit: JointLawFit,
    C: float,
    *,
    tokens_per_sample: float = 1.0,
    flops_per_param_token: float = 6.0,
    level: float | None = None,
) -> ComputeOptimum:
    """Loss-optimal ``(N*, D*)`` for a compute budget of ``C`` FLOPs, and the loss predicted there.

    With ``C = 6 N D_tokens`` and ``D_tokens = tokens_per_sample * D``, the constraint is ``N * D = C / (6 k)``
    and ``N* = G (C / (6 k))**(beta / (alpha + beta))``, ``D* = G**-1 (C / (6 k))**(alpha / (alpha + beta))`` with
    ``G = (alpha A / (beta B))**(1 / (alpha + beta))``. Leave ``tokens_per_sample = 1`` to work in the fit's units
    (then ``C`` counts 6 * N * D of those units).
    """
    if not (np.isfinite(C) and C > 0):
        raise ValueError(f"compute budget C must be finite and > 0, got {C}")
    if not (np.isfinite(tokens_per_sample) and tokens_per_sample > 0):
        raise ValueError(f"tokens_per_sample must be finite and > 0, got {tokens_per_sample}")
    budget = C / (flops_per_param_token * tokens_per_sample)
    N, D, L = (float(v[0]) for v in _optimum(fit._values()[None], budget))
    out = ComputeOptimum(float(C), N, D, D * tokens_per_sample, L, float(tokens_per_sample))
    if fit.boot is not None and len(fit.boot):
        bN, bD, bL = _optimum(fit.boot, budget)
        lvl = fit.level if level is None else level
        (lo, hi) = _percentiles(np.stack([bN, bD, bD * tokens_per_sample, bL], axis=1), lvl)
        out.N_interval, out.D_interval, out.D_tokens_interval, out.loss_interval = (
            (float(a), float(b)) for a, b in zip(lo, hi, strict=True)
        )
    return out


@dataclass
class LossGrid:
    """Predicted loss on a log-spaced grid, ready for ``plotly.graph_objects.Contour(x=N, y=D, z=L)``."""

    N: np.ndarray  # (n,)
    D: np.ndarray  # (m,)
    L: np.ndarray  # (m, n): L[i, j] = L(N[j], D[i])


def loss_grid(
    fit: JointLawFit, N_range: tuple[float, float], D_range: tuple[float, float], points: int = 60
) -> LossGrid:
    """The fitted law on ``points`` x ``points`` log-spaced (N, D) values, for iso-loss contours."""
    for name, (lo, hi) in (("N_range", N_range), ("D_range", D_range)):
        if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"{name} must be (low, high) with 0 < low < high, got {(lo, hi)}")
    if points < 2:
        raise ValueError(f"points must be >= 2, got {points}")
    N = np.geomspace(*N_range, points)
    D = np.geomspace(*D_range, points)
    return LossGrid(N, D, fit.predict(N[None, :], D[:, None]))


# ----------------------------------------------------------------------------------------------------------------
# fits of a sweep's results table


@dataclass
class SweepFits:
    """Fits of one metric of a sweep's results table (see :func:`fit_sweep`)."""

    metric: str
    joint: JointLawFit | None  # metric(N = n_params, D = data size); None when not fitted
    by_model: dict[str, PowerLawFit]  # metric vs data size, per model size
    notes: list[str]  # why a fit was skipped

    def summary(self) -> str:
        lines = [f"== {self.metric}"]
        if self.joint is not None:
            lines += [f"joint law {self.metric} = E + A / N^alpha + B / D^beta ({len(self.joint.N)} cells):",
                      self.joint.summary()]  # fmt: skip
        for model, fit in self.by_model.items():
            form = "c + a * D^b" if fit.offset else "a * D^b"
            lines += [f"{model}: {self.metric} = {form} ({len(fit.x)} cells):", fit.summary()]
        return "\n".join(lines + self.notes)


def fit_sweep(
    table: Any,
    metric: str = "val_loss",
    *,
    joint: bool | None = None,
    offset: bool = False,
    data_column: str = "data_size",
    n_boot: int = 200,
    huber_delta: float = 1e-3,
    seed: int = 0,
) -> SweepFits:
    """Fit a sweep's ``metric``: the joint law over (n_params, data size) and a power law per model size.

    Args:
        table: the results table (a pandas DataFrame, e.g. :func:`motionbook_lib.scaling.sweep.read_results`);
            only rows with ``status == "ok"`` and a finite positive ``metric`` are used.
        joint: fit the joint law (default: when the metric is a loss); skipped with a note when the table has
            fewer than 2 model sizes, 2 data sizes or 5 cells.
        offset: per-model laws with an offset, ``c + a * D**b``.
        data_column: the data axis (``data_size`` motions, or ``train_tokens``).
    """
    if metric not in table.columns:
        raise ValueError(f"the table has no column {metric!r}; columns: {list(table.columns)}")
    rows = table[(table["status"] == "ok")] if "status" in table.columns else table
    y = np.asarray(rows[metric], dtype=np.float64)
    keep = np.isfinite(y) & (y > 0)
    rows, y = rows[keep], y[keep]
    D = np.asarray(rows[data_column], dtype=np.float64)
    notes: list[str] = []
    joint = ("loss" in metric) if joint is None else joint
    joint_fit = None
    if joint:
        N = np.asarray(rows["n_params"], dtype=np.float64)
        if len(np.unique(N)) >= 2 and len(np.unique(D)) >= 2 and len(y) >= 5:
            try:
                joint_fit = fit_joint_law(N, D, y, huber_delta=huber_delta, n_boot=n_boot, seed=seed)
            except ValueError as err:  # too few cells for a bootstrap: the fit alone
                joint_fit = fit_joint_law(N, D, y, huber_delta=huber_delta, n_boot=0)
                notes.append(f"joint law: no intervals ({err})")
            notes += [f"joint law: {d}" for d in joint_fit.degeneracies()]
        else:
            notes.append(f"joint law skipped: {len(y)} usable cells, {len(np.unique(N))} model sizes, "
                         f"{len(np.unique(D))} data sizes (needs >= 5, 2, 2)")  # fmt: skip
    by_model: dict[str, PowerLawFit] = {}
    models = np.asarray(rows["model_size"]).astype(str)
    for model in dict.fromkeys(models):
        sel = models == model
        need = 3 if offset else 2
        if len(np.unique(D[sel])) < need:
            notes.append(f"{model}: {int(sel.sum())} usable cells, too few for a power law in {data_column}")
            continue
        boots = n_boot if len(np.unique(D[sel])) > need else 0
        try:
            fit = fit_power_law(D[sel], y[sel], offset=offset, huber_delta=huber_delta, n_boot=boots, seed=seed)
        except ValueError as err:  # too few points for a bootstrap: the fit alone
            fit = fit_power_law(D[sel], y[sel], offset=offset, huber_delta=huber_delta, n_boot=0)
            notes.append(f"{model}: no intervals ({err})")
        if not boots:
            notes.append(f"{model}: no intervals ({len(np.unique(D[sel]))} data sizes are too few to bootstrap)")
        by_model[model] = fit
    return SweepFits(metric, joint_fit, by_model, notes)
