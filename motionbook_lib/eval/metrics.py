"""Evaluation metrics of text-to-motion models and motion tokenizers, every one defined here in code.

Embedding metrics (the HumanML3D protocol, on the embeddings of a text-motion evaluator such as
:class:`motionbook_lib.eval.Evaluator`):

- :func:`r_precision`: in a batch where text i describes motion i, the share of texts whose motion
  is among the k nearest motions (Euclidean distance), k = 1..top_k. Ties are broken at random *in
  expectation*: a text tied with others gets the probability that a random order puts its motion in
  the top k (so a degenerate evaluator mapping everything to one point scores k / B, not 1).
- :func:`mm_dist`: mean distance between matched text and motion embeddings.
- :func:`fid`: Frechet distance between Gaussians fitted to two embedding sets.
- :func:`diversity`: mean distance between the rows of two index sets drawn independently, each without
  replacement (so a row may meet itself), as the reference implementation draws them.
- :func:`multimodality`: the same within the generations of each caption, one pair of index sets shared
  by every caption, averaged over captions.
- :func:`t2m_metrics`: all of the above, repeated ``repeats`` times on shuffled batches of 32 (drop
  last; every metric of a repeat, FID included, on the same kept rows), reported as :class:`MetricCI`
  (mean and 95 % interval over the repeats).

Joint metrics (numpy ``(..., T, 22, 3)`` joint positions in metres, Y up):
:func:`mpjpe` (pelvis-relative, mm), :func:`pa_mpjpe` (after per-frame similarity Procrustes, mm),
:func:`jitter` (mean norm of the third time derivative, m/s^3) and :func:`plausibility` (foot skating
and ground penetration from :mod:`motionbook_lib.data.quality`, plus jitter).

Distances in embedding space are in the evaluator's units: motionbook evaluators return unit-length
embeddings, so MM-Dist and Diversity lie in [0, 2] and are not comparable with numbers from the
HumanML3D evaluator (whose embeddings are not normalised). Compare rows of one evaluator only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = [
    "MetricCI",
    "diversity",
    "fid",
    "jitter",
    "mean_ci",
    "mm_dist",
    "mpjpe",
    "multimodality",
    "pa_mpjpe",
    "plausibility",
    "r_precision",
    "t2m_metrics",
]

#: Diagonal offset added to both covariances when their product has no finite square root.
FID_EPS = 1e-6


# ----------------------------------------------------------------------------------------------
# input checks


def _array(x, name: str, ndim: int | None = None, min_ndim: int | None = None) -> np.ndarray:
    """``x`` (numpy or torch) as a finite float64 array; ValueError naming ``name`` otherwise."""
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array ({err})") from err
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} contains {int(bad.sum())} NaN/inf value(s) (shape {arr.shape})")
    return arr


def _pair(text_emb, motion_emb, names: tuple[str, str] = ("text_emb", "motion_emb")) -> tuple[np.ndarray, np.ndarray]:
    a = _array(text_emb, names[0], ndim=2)
    b = _array(motion_emb, names[1], ndim=2)
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} {a.shape} and {names[1]} {b.shape} must have the same shape (N, E)")
    if a.shape[0] < 1:
        raise ValueError(f"{names[0]} is empty")
    return a, b


def _fps(fps) -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return value


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng(0)


# ----------------------------------------------------------------------------------------------
# mean and interval


@dataclass(frozen=True)
class MetricCI:
    """A metric repeated ``len(values)`` times: mean and half width of its 95 % interval."""

    mean: float
    ci95: float  # half width: 1.96 * std / sqrt(n), std with ddof=0 (as the HumanML3D scripts)
    values: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.ci95:.3f}"

    def __format__(self, spec: str) -> str:
        """``f"{m:.4f}"`` formats mean and interval alike; an empty spec gives ``str(m)``."""
        if not spec:
            return str(self)
        return f"{self.mean:{spec}} ± {self.ci95:{spec}}"


def mean_ci(values: Sequence[float]) -> MetricCI:
    """Mean and 95 % interval half width ``1.96 * std(ddof=0) / sqrt(n)`` of repeated measurements."""
    v = _array(list(values), "values", ndim=1)
    if v.size == 0:
        raise ValueError("values is empty: mean_ci needs at least one value")
    return MetricCI(float(v.mean()), float(1.96 * v.std() / math.sqrt(v.size)), tuple(float(x) for x in v))


# ----------------------------------------------------------------------------------------------
# single-shot embedding metrics


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, E), (M, E) -> (N, M) Euclidean distances."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def r_precision(text_emb: np.ndarray, motion_emb: np.ndarray, top_k: int = 3) -> np.ndarray:
    """(top_k,) share of texts whose own motion ranks within the k nearest motions of the batch, k = 1..top_k.

    ``text_emb[i]`` describes ``motion_emb[i]``; both (B, E). Ties count in expectation over random
    tie-breaking (see the module docstring).
    """
    t, m = _pair(text_emb, motion_emb)
    b = t.shape[0]
    if not isinstance(top_k, int | np.integer) or not 1 <= top_k <= b:
        raise ValueError(f"top_k must be an integer in 1..{b} (the batch size), got {top_k!r}")
    d = _distances(t, m)  # (B, B)
    own = np.diag(d)[:, None]
    # distances equal up to rounding are ties (exact duplicates of a motion give identical rows)
    tol = 1e-9 * max(1.0, float(np.abs(d).max()))
    closer = (d < own - tol).sum(1)  # (B,) motions strictly nearer than the true one
    ties = (np.abs(d - own) <= tol).sum(1) - 1  # (B,) other motions at the same distance
    k = np.arange(1, top_k + 1)[None, :]  # (1, K)
    hit = np.clip((k - closer[:, None]) / (ties[:, None] + 1.0), 0.0, 1.0)  # (B, K) P(rank < k)
    return hit.mean(0)


def mm_dist(text_emb: np.ndarray, motion_emb: np.ndarray) -> float:
    """Mean Euclidean distance ``||t_i - m_i||`` between matched text and motion embeddings."""
    t, m = _pair(text_emb, motion_emb)
    return float(np.linalg.norm(t - m, axis=1).mean())


def fid(real_emb: np.ndarray, gen_emb: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets (N, E) and (M, E):
    ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` with sample covariances (ddof=1).

    When ``S1 S2`` has no finite square root (singular covariances: fewer samples than dimensions),
    ``FID_EPS`` is added to both diagonals; the negligible imaginary part of the root is dropped.
    """
    a = _array(real_emb, "real_emb", ndim=2)
    b = _array(gen_emb, "gen_emb", ndim=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real_emb {a.shape} and gen_emb {b.shape} must have the same embedding size")
    for name, x in (("real_emb", a), ("gen_emb", b)):
        if x.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 samples to fit a covariance, got {x.shape[0]}")
    mu1, mu2 = a.mean(0), b.mean(0)
    diff = mu1 - mu2
    if min(a.shape[0], b.shape[0]) < a.shape[1]:
        # fewer samples than dimensions: tr (S1 S2)^(1/2) is the nuclear norm of X Y^T / sqrt((n1-1)(n2-1))
        # for the centred sets X, Y (the nonzero eigenvalues of S1 S2 are those of (X Y^T)(X Y^T)^T / c):
        # exact, and an (n1, n2) SVD instead of a singular (E, E) matrix square root
        x, y = a - mu1, b - mu2
        c = (a.shape[0] - 1) * (b.shape[0] - 1)
        nuclear = float(np.linalg.svd(x @ y.T, compute_uv=False).sum()) / math.sqrt(c)
        tr1, tr2 = float((x * x).sum()) / (a.shape[0] - 1), float((y * y).sum()) / (b.shape[0] - 1)
        return max(float(diff @ diff) + tr1 + tr2 - 2.0 * nuclear, 0.0)
    s1 = np.atleast_2d(np.cov(a, rowvar=False))
    s2 = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * FID_EPS
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)  # >= 0 mathematically; clamp rounding noise of identical sets


def _two_draws(n: int, k: int, rng: np.random.Generator, name: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Two index sets of ``k`` items of 0..n-1, drawn independently, each without replacement (the protocol)."""
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    if k > n:
        raise ValueError(
            f"{name}={k} exceeds the {n} {what}: the protocol draws {name} of them without replacement; "
            f"lower {name} to at most {n}"
        )
    return rng.choice(n, size=k, replace=False), rng.choice(n, size=k, replace=False)


def diversity(emb: np.ndarray, n_pairs: int = 300, rng: np.random.Generator | None = None) -> float:
    """Mean distance between rows ``first[k]`` and ``second[k]``, k < ``n_pairs``, of ``emb`` (N, E).

    The HumanML3D / T2M-GPT scheme: ``first`` and ``second`` are two index sets of ``n_pairs`` rows drawn
    independently, each without replacement, so a row can be paired with itself (distance 0; about
    ``n_pairs / N`` such pairs in expectation). Needs ``n_pairs <= N`` (300 in the protocol).
    """
    e = _array(emb, "emb", ndim=2)
    if e.shape[0] < 2:
        raise ValueError(f"emb needs at least 2 rows for diversity, got shape {e.shape}")
    first, second = _two_draws(e.shape[0], n_pairs, _rng(rng), "n_pairs", "rows of emb")
    return float(np.linalg.norm(e[first] - e[second], axis=1).mean())


def multimodality(emb: np.ndarray, n_pairs: int = 10, rng: np.random.Generator | None = None) -> float:
    """Mean distance between generations ``first[k]`` and ``second[k]`` of each caption, k < ``n_pairs``.

    ``emb``: (C captions, R >= 2 generations per caption, E). The HumanML3D / T2M-GPT scheme: ``first`` and
    ``second`` are two index sets of ``n_pairs`` generations drawn independently, each without replacement,
    and the **same** pairs serve every caption; a generation can be paired with itself. Needs
    ``n_pairs <= R`` (the protocol: C = 100 captions, R = 30 generations, 10 pairs).
    """
    e = _array(emb, "emb", ndim=3)
    c, r, _ = e.shape
    if c < 1 or r < 2:
        raise ValueError(f"emb must be (captions >= 1, generations >= 2, E), got shape {e.shape}")
    first, second = _two_draws(r, n_pairs, _rng(rng), "n_pairs", "generations per caption")
    return float(np.linalg.norm(e[:, first] - e[:, second], axis=2).mean())


# ----------------------------------------------------------------------------------------------
# the HumanML3D protocol


def t2m_metrics(
    text_emb: np.ndarray,
    motion_emb: np.ndarray,
    real_motion_emb: np.ndarray,
    *,
    batch_size: int = 32,
    repeats: int = 20,
    diversity_pairs: int = 300,
    mm_emb: np.ndarray | None = None,
    mm_pairs: int = 10,
    seed: int = 0,
) -> dict[str, MetricCI]:
    """R@1/2/3, FID, MM-Dist, Diversity (and MultiModality) repeated ``repeats`` times (the HumanML3D protocol).

    Each repeat shuffles the N caption-motion pairs and keeps the N // batch_size full batches (drop last);
    every metric of that repeat is computed on those kept rows only:

    - R@k: mean over the kept batches of :func:`r_precision`;
    - MM-Dist: :func:`mm_dist` of the kept pairs;
    - FID: :func:`fid` of the kept ground-truth rows ``real_motion_emb[kept]`` against the kept evaluated rows
      ``motion_emb[kept]`` (both sides on the same rows, so ground truth scored against itself gives 0);
    - Diversity: :func:`diversity` of the kept evaluated rows with ``diversity_pairs`` pairs;
    - MultiModality: :func:`multimodality` of ``mm_emb`` with ``mm_pairs`` pairs, drawn anew each repeat.

    Args:
        text_emb: (N, E) caption embeddings; ``text_emb[i]`` describes ``motion_emb[i]``.
        motion_emb: (N, E) embeddings of the evaluated motions (generated, reconstructed or real).
        real_motion_emb: (N, E) embeddings of the ground-truth motions of the same N captions, row for row.
        batch_size: R-precision batch (32 in HumanML3D).
        repeats: independent shuffles; each metric is reported as :class:`MetricCI` over them (20 in the protocol).
        diversity_pairs: pairs per repeat for Diversity (300 in the protocol); at most the kept rows.
        mm_emb: optional (C, R, E) embeddings of R generations per caption for MultiModality.
        mm_pairs: pairs for MultiModality (10 in the protocol); at most R.
        seed: repeat r draws from ``numpy.random.default_rng([seed, r])``.

    Returns ``{"R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity"[, "MultiModality"]}``.
    """
    t, m = _pair(text_emb, motion_emb)
    real = _array(real_motion_emb, "real_motion_emb", ndim=2)
    if real.shape != m.shape:
        raise ValueError(
            f"real_motion_emb {real.shape} must have the shape of motion_emb {m.shape}: the ground truth of the "
            "same captions, row for row (FID compares the same kept rows on both sides)"
        )
    if not isinstance(batch_size, int) or batch_size < 3:
        raise ValueError(f"batch_size must be an integer >= 3 (R@3 needs 3 candidates), got {batch_size!r}")
    n = t.shape[0]
    if n < batch_size:
        raise ValueError(
            f"t2m_metrics needs at least batch_size={batch_size} text-motion pairs, got {n}; "
            "evaluate on a bigger split or lower batch_size (numbers at another batch size are not comparable)"
        )
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    n_batches = n // batch_size
    kept = n_batches * batch_size
    if not isinstance(diversity_pairs, int | np.integer) or not 1 <= diversity_pairs <= kept:
        raise ValueError(
            f"diversity_pairs must be an integer in 1..{kept} (the rows kept in full batches of {batch_size}), "
            f"got {diversity_pairs!r}"
        )
    mm = None
    if mm_emb is not None:
        mm = _array(mm_emb, "mm_emb", ndim=3)
        if mm.shape[2] != t.shape[1]:
            raise ValueError(f"mm_emb {mm.shape} must have the embedding size of motion_emb {m.shape}")
        if mm.shape[1] < 2 or not 1 <= mm_pairs <= mm.shape[1]:
            raise ValueError(
                f"mm_pairs must be in 1..{mm.shape[1]} (the generations per caption in mm_emb {mm.shape}), "
                f"got {mm_pairs!r}"
            )
    rows: dict[str, list[float]] = {k: [] for k in ("R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity")}
    if mm is not None:
        rows["MultiModality"] = []
    for r in range(repeats):
        rng = np.random.default_rng([seed, r])
        keep = rng.permutation(n)[:kept].reshape(n_batches, batch_size)
        rp = np.mean([r_precision(t[b], m[b], top_k=3) for b in keep], axis=0)  # (3,)
        for k in range(3):
            rows[f"R@{k + 1}"].append(float(rp[k]))
        used = keep.reshape(-1)
        rows["MM-Dist"].append(mm_dist(t[used], m[used]))
        rows["FID"].append(fid(real[used], m[used]))
        rows["Diversity"].append(diversity(m[used], int(diversity_pairs), rng))
        if mm is not None:
            rows["MultiModality"].append(multimodality(mm, int(mm_pairs), rng))
    return {k: mean_ci(v) for k, v in rows.items()}


# ----------------------------------------------------------------------------------------------
# joint metrics


def _joints_pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    p = _array(pred, "pred", min_ndim=2)
    g = _array(gt, "gt", min_ndim=2)
    if p.shape[-1] != 3:
        raise ValueError(f"pred must have shape (..., J, 3), got {p.shape}")
    if p.shape != g.shape:
        raise ValueError(f"pred {p.shape} and gt {g.shape} must have the same shape (..., T, J, 3)")
    if p.size == 0:
        raise ValueError("pred is empty")
    return p, g


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error in mm after subtracting the pelvis (joint 0) of each frame.

    ``pred``, ``gt``: (..., T, J, 3) joint positions in metres.
    """
    p, g = _joints_pair(pred, gt)
    p = p - p[..., :1, :]
    g = g - g[..., :1, :]
    return float(np.linalg.norm(p - g, axis=-1).mean() * 1000.0)


def _procrustes(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Align each (J, 3) set of ``p`` (F, J, 3) to ``g`` by the best rotation, scale and translation."""
    mp, mg = p.mean(1, keepdims=True), g.mean(1, keepdims=True)
    x, y = p - mp, g - mg  # (F, J, 3)
    var = (x * x).sum((1, 2))  # (F,)
    k = np.einsum("fji,fjk->fik", x, y)  # (F, 3, 3) cross-covariance x^T y
    u, s, vt = np.linalg.svd(k)
    d = np.sign(np.linalg.det(np.einsum("fij,fjk->fik", u, vt)))  # reflection guard
    s = s.copy()
    s[:, 2] *= d
    vt = vt.copy()
    vt[:, 2, :] *= d[:, None]
    rot = np.einsum("fij,fjk->fik", u, vt)  # (F, 3, 3): x @ rot best matches y
    scale = s.sum(1) / np.where(var > 0, var, 1.0)  # (F,)
    return scale[:, None, None] * np.einsum("fji,fik->fjk", x, rot) + mg


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE in mm after aligning each predicted frame to the ground truth frame by a similarity
    transform (rotation, uniform scale, translation; Procrustes). ``pred``, ``gt``: (..., T, J, 3) metres."""
    p, g = _joints_pair(pred, gt)
    j = p.shape[-2]
    p2, g2 = p.reshape(-1, j, 3), g.reshape(-1, j, 3)
    aligned = _procrustes(p2, g2)
    return float(np.linalg.norm(aligned - g2, axis=-1).mean() * 1000.0)


def jitter(joints: np.ndarray, fps: float) -> float:
    """Mean norm of the third time derivative (jerk) of joint positions, m/s^3.

    ``joints``: (..., T, J, 3) metres with T >= 4; finite differences at ``fps`` frames per second.
    """
    x = _array(joints, "joints", min_ndim=3)
    if x.shape[-1] != 3:
        raise ValueError(f"joints must have shape (..., T, J, 3), got {x.shape}")
    if x.shape[-3] < 4:
        raise ValueError(f"jitter needs at least 4 frames, joints has shape {x.shape}")
    fps = _fps(fps)
    jerk = np.diff(x, n=3, axis=-3) * fps**3
    return float(np.linalg.norm(jerk, axis=-1).mean())


def plausibility(joints: np.ndarray, fps: float) -> dict[str, float]:
    """Physical plausibility of one clip (T, 22, 3) or a batch (..., T, 22, 3) of equally long clips.

    Returns ``foot_skating`` (mean horizontal foot speed while in ground contact, m/s, pooled over
    the contact samples of all clips; :func:`motionbook_lib.data.quality.foot_skating`),
    ``ground_penetration`` (mean over frames of the depth of the lowest joint below the floor y=0, m;
    :func:`motionbook_lib.data.quality.ground_penetration`) and ``jitter`` (m/s^3, :func:`jitter`).
    """
    from motionbook_lib.data.quality import foot_skating, ground_penetration

    x = _array(joints, "joints", min_ndim=3)
    if x.shape[-2:] != (22, 3):
        raise ValueError(f"joints must have shape (..., T, 22, 3), got {x.shape}")
    fps = _fps(fps)
    clips = x.reshape(-1, *x.shape[-3:])
    speed_sum, contacts, depth = 0.0, 0, []
    for clip in clips:
        fs = foot_skating(clip, fps)
        speed_sum += fs["mean_speed"] * fs["n_contact"]
        contacts += fs["n_contact"]
        depth.append(ground_penetration(clip)["mean_depth"])
    return {
        "foot_skating": speed_sum / contacts if contacts else 0.0,
        "ground_penetration": float(np.mean(depth)),
        "jitter": jitter(x, fps),
    }
