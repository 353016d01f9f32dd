"""Codebook usage statistics of motion tokenizers (issue 7).

Everything here starts from integer token arrays: numpy or torch, ``(N,)`` for a 1D tokenizer or
``(N, P)`` with one column per body part (2D-LFQ, ``P = 6``) or per RVQ level, together with the
codebook size ``K`` (codes ``0 .. K-1``). A list of per-motion arrays (as returned by
:func:`tokenize_split`) is accepted wherever tokens are, and concatenated along the first axis.

- :func:`codebook_stats`: utilization (share of codes used), perplexity, entropy (bits), dead codes.
- :func:`per_part_usage` / :func:`part_code_counts`: the same per body part (2D-LFQ) or level.
- :func:`rank_frequency` / :func:`zipf_fit`: the rank-frequency (Zipf) curve and its log-log slope.
- :func:`code_label_counts` / :func:`mutual_information`: which codes go with which action labels.
- :func:`tokenize_split`: tokens of every motion of a store split, with their labels.
- :func:`checkpoint_dirs` / :func:`usage_over_checkpoints`: how the statistics evolve during a run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from motionbook_lib.data.store import MotionStore
from motionbook_lib.tokenizer import PART_NAMES, MotionTokenizer

__all__ = [
    "CodebookStats",
    "TokenizedSplit",
    "ZipfFit",
    "as_tokens",
    "checkpoint_dirs",
    "code_counts",
    "code_label_counts",
    "code_label_mi",
    "codebook_stats",
    "dead_codes",
    "entropy_bits",
    "mutual_information",
    "part_code_counts",
    "per_part_usage",
    "rank_frequency",
    "stats_from_counts",
    "tokenize_split",
    "usage_over_checkpoints",
    "usage_summary",
    "zipf_fit",
]

TokenLike = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]


# ----------------------------------------------------------------------------------------------
# token arrays


def as_tokens(tokens: TokenLike) -> np.ndarray:
    """Tokens as an int64 numpy array ``(N,)`` or ``(N, P)``; a list of arrays is concatenated."""
    if isinstance(tokens, torch.Tensor):
        arr = tokens.detach().cpu().numpy()
    elif isinstance(tokens, np.ndarray):
        arr = tokens
    else:
        parts = [as_tokens(t) for t in tokens]
        if not parts:
            return np.zeros((0,), dtype=np.int64)
        arr = np.concatenate(parts, axis=0)
    if arr.dtype.kind not in "iu":
        if arr.size == 0:
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"tokens must be integers, got dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"tokens must have shape (N,) or (N, P), got {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _check_range(arr: np.ndarray, codebook_size: int) -> None:
    if codebook_size < 1:
        raise ValueError(f"codebook_size must be positive, got {codebook_size}")
    if arr.size and (arr.min() < 0 or arr.max() >= codebook_size):
        raise ValueError(f"tokens must be in [0, {codebook_size}), got min {arr.min()} max {arr.max()}")


def code_counts(tokens: TokenLike, codebook_size: int) -> np.ndarray:
    """Histogram ``(K,)`` of all tokens (every position and part pooled)."""
    arr = as_tokens(tokens)
    _check_range(arr, codebook_size)
    return np.bincount(arr.reshape(-1), minlength=codebook_size).astype(np.int64)


def part_code_counts(tokens: TokenLike, codebook_size: int) -> np.ndarray:
    """Histogram per column ``(P, K)`` of tokens ``(N, P)`` (a 1D array counts as one column)."""
    arr = as_tokens(tokens)
    _check_range(arr, codebook_size)
    cols = arr[:, None] if arr.ndim == 1 else arr  # (N, P)
    return np.stack([np.bincount(c, minlength=codebook_size) for c in cols.T]).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# scalar statistics


@dataclass
class CodebookStats:
    """Usage of a codebook of ``codebook_size`` codes by ``tokens`` tokens."""

    codebook_size: int
    tokens: int  # number of tokens counted
    used: int  # distinct codes seen
    utilization: float  # used / codebook_size
    perplexity: float  # 2 ** entropy_bits: the effective number of codes
    entropy_bits: float  # Shannon entropy of the code histogram
    max_entropy_bits: float  # log2(codebook_size)
    dead: int  # codes never used (codebook_size - used)

    @property
    def normalized_entropy(self) -> float:
        """entropy / log2 K, in [0, 1] (0 for a one-code codebook)."""
        return self.entropy_bits / self.max_entropy_bits if self.max_entropy_bits > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "normalized_entropy": self.normalized_entropy}


def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of a histogram (any shape, flattened)."""
    c = np.asarray(counts, dtype=np.float64).reshape(-1)
    total = c.sum()
    if total <= 0:
        return 0.0
    p = c[c > 0] / total
    return float(max(0.0, -(p * np.log2(p)).sum()))


def stats_from_counts(counts: np.ndarray) -> CodebookStats:
    """:class:`CodebookStats` of a histogram ``(K,)``."""
    counts = np.asarray(counts)
    k = int(counts.shape[0])
    used = int((counts > 0).sum())
    h = entropy_bits(counts)
    return CodebookStats(
        codebook_size=k,
        tokens=int(counts.sum()),
        used=used,
        utilization=used / k,
        perplexity=float(2.0**h) if counts.sum() > 0 else 0.0,
        entropy_bits=h,
        max_entropy_bits=math.log2(k),
        dead=k - used,
    )


def codebook_stats(tokens: TokenLike, codebook_size: int) -> CodebookStats:
    """Utilization, perplexity, entropy and dead codes of all tokens pooled (parts / levels included).

    A uniform use of K codes gives utilization 1, perplexity K and entropy log2 K; a collapsed
    codebook (one code) gives utilization 1/K, perplexity 1 and entropy 0.
    """
    return stats_from_counts(code_counts(tokens, codebook_size))


def dead_codes(tokens: TokenLike, codebook_size: int, part: int | None = None) -> np.ndarray:
    """Indices of the codes never used (in column ``part`` only when given)."""
    counts = part_code_counts(tokens, codebook_size)[part] if part is not None else code_counts(tokens, codebook_size)
    return np.flatnonzero(counts == 0)


def per_part_usage(tokens: TokenLike, codebook_size: int, part_names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row of :class:`CodebookStats` per column of ``(N, P)`` tokens (2D-LFQ body parts).

    ``part_names`` defaults to :data:`PART_NAMES` for 6 columns, else ``"0", "1", ...``.
    """
    counts = part_code_counts(tokens, codebook_size)  # (P, K)
    if part_names is None:
        part_names = PART_NAMES if counts.shape[0] == len(PART_NAMES) else [str(i) for i in range(counts.shape[0])]
    if len(part_names) != counts.shape[0]:
        raise ValueError(f"{len(part_names)} part names for {counts.shape[0]} token columns")
    rows = [{"part": name, **stats_from_counts(c).to_dict()} for name, c in zip(part_names, counts, strict=True)]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# rank-frequency (Zipf)


@dataclass
class ZipfFit:
    """Least-squares line ``log10 f = intercept + slope * log10 rank`` over the used codes."""

    slope: float  # about -1 for Zipf's law; flatter (towards 0) = more evenly used codebook
    intercept: float
    r2: float
    codes: int  # ranks fitted


def rank_frequency(tokens: TokenLike, codebook_size: int, part: int | None = None) -> pd.DataFrame:
    """Used codes by decreasing count: columns ``rank`` (1-based), ``code``, ``count``, ``frequency``."""
    counts = part_code_counts(tokens, codebook_size)[part] if part is not None else code_counts(tokens, codebook_size)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    total = max(1, int(counts.sum()))
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "code": order,
            "count": counts[order],
            "frequency": counts[order] / total,
        }
    )


def zipf_fit(counts: np.ndarray | pd.DataFrame, min_count: int = 1, max_rank: int | None = None) -> ZipfFit:
    """Fit the log-log rank-frequency line of a histogram ``(K,)`` (or a :func:`rank_frequency` table).

    Codes seen fewer than ``min_count`` times (and ranks beyond ``max_rank``) are left out, since
    the sampling noise of rare codes bends the tail. Fewer than two points give slope NaN.
    """
    c = counts["count"].to_numpy() if isinstance(counts, pd.DataFrame) else np.asarray(counts)
    c = np.sort(c[c >= max(1, min_count)])[::-1].astype(np.float64)
    if max_rank is not None:
        c = c[:max_rank]
    if len(c) < 2:
        return ZipfFit(float("nan"), float("nan"), float("nan"), len(c))
    x = np.log10(np.arange(1, len(c) + 1))
    y = np.log10(c / c.sum())
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss if ss > 0 else 1.0
    return ZipfFit(float(slope), float(intercept), r2, len(c))


# ----------------------------------------------------------------------------------------------
# codes against action labels


def _label_list(x: Any) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return [str(v) for v in x]


def code_label_counts(
    tokens_per_motion: Sequence[np.ndarray | torch.Tensor],
    labels_per_motion: Sequence[str | Sequence[str]],
    codebook_size: int,
    part: int | None = None,
    primary_only: bool = False,
    drop_unused: bool = True,
) -> pd.DataFrame:
    """Code x label token counts: how often each code occurs in motions carrying each label.

    A motion with several labels adds its tokens to each of them (``primary_only=True`` keeps the
    first label only); motions without labels are skipped. ``part`` picks one token column (a 2D-LFQ
    body part), else all columns are pooled. Rows are codes (unused ones dropped unless
    ``drop_unused=False``), columns are labels sorted by name.
    """
    if len(tokens_per_motion) != len(labels_per_motion):
        raise ValueError(f"{len(tokens_per_motion)} token arrays but {len(labels_per_motion)} label entries")
    labels = [_label_list(x)[:1] if primary_only else _label_list(x) for x in labels_per_motion]
    names = sorted({name for ls in labels for name in ls})
    col = {name: j for j, name in enumerate(names)}
    table = np.zeros((codebook_size, len(names)), dtype=np.int64)  # (K, L)
    for tok, ls in zip(tokens_per_motion, labels, strict=True):
        if not ls:
            continue
        arr = as_tokens(tok)
        if part is not None:
            if arr.ndim != 2:
                raise ValueError("part= needs tokens of shape (N, P)")
            arr = arr[:, part]
        c = code_counts(arr, codebook_size)
        for name in ls:
            table[:, col[name]] += c
    df = pd.DataFrame(table, columns=pd.Index(names, name="label"))
    df.index.name = "code"
    return df[df.sum(axis=1) > 0] if drop_unused else df


def mutual_information(table: np.ndarray | pd.DataFrame, normalized: bool = False) -> float:
    """Mutual information (bits) between the row and column variables of a contingency table.

    ``normalized=True`` divides by the column (label) entropy, giving the share of the label's
    uncertainty that the code removes (0 when independent, 1 when the code determines the label).
    """
    t = np.asarray(table, dtype=np.float64)
    total = t.sum()
    if total <= 0:
        return 0.0
    p = t / total
    pr, pc = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    mi = float(max(0.0, (p[nz] * np.log2(p[nz] / (pr @ pc)[nz])).sum()))
    if normalized:
        h = entropy_bits(pc)
        return mi / h if h > 0 else 0.0
    return mi


def code_label_mi(
    tokens_per_motion: Sequence[np.ndarray | torch.Tensor],
    labels_per_motion: Sequence[str | Sequence[str]],
    codebook_size: int,
    part: int | None = None,
    primary_only: bool = False,
    normalized: bool = False,
) -> float:
    """:func:`mutual_information` of :func:`code_label_counts`."""
    counts = code_label_counts(tokens_per_motion, labels_per_motion, codebook_size, part, primary_only)
    return mutual_information(counts, normalized=normalized)


# ----------------------------------------------------------------------------------------------
# tokenizing a store split


@dataclass
class TokenizedSplit:
    """Tokens of the motions of one split: ``tokens[i]`` is ``(T_i', ...)`` for store row ``rows[i]``."""

    split: str
    rows: np.ndarray  # (M,) store indices
    tokens: list[np.ndarray] = field(default_factory=list)  # per motion (T', ) / (T', P) / (T', Q)
    labels: list[list[str]] = field(default_factory=list)  # per motion action labels
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # frames encoded
    alpha: int = 4  # frames per token step
    codebook_size: int = 0

    def __len__(self) -> int:
        return len(self.rows)

    def all_tokens(self) -> np.ndarray:
        """Every token step of every motion, stacked: ``(N, ...)``."""
        return as_tokens(self.tokens)

    @property
    def primary_labels(self) -> list[str]:
        return [ls[0] if ls else "" for ls in self.labels]


@torch.no_grad()
def tokenize_split(
    model: MotionTokenizer, store: MotionStore, split: str = "test", window: int | None = None
) -> TokenizedSplit:
    """Encode every motion of ``split`` (``"all"``: the whole store) with ``model``.

    ``window`` keeps the first ``window`` frames of each motion (None: the whole motion); the length
    is cut down to a multiple of the model's ``alpha``. Motions shorter than ``alpha`` are skipped.
    """
    rows = np.arange(len(store)) if split == "all" else np.asarray(store.split(split))
    alpha = model.config.alpha
    labels_col = store.manifest["labels"]
    keep, tokens, labels, frames = [], [], [], []
    for r in rows:
        feat = store.features(int(r))  # (T, 135) raw D135
        t = len(feat) if window is None else min(window, len(feat))
        t -= t % alpha
        if t < alpha:
            continue
        tokens.append(model.encode(feat[:t]).cpu().numpy().astype(np.int64))  # (t / alpha, ...)
        labels.append(_label_list(labels_col.iloc[int(r)]))
        keep.append(int(r))
        frames.append(t)
    return TokenizedSplit(
        split=split,
        rows=np.asarray(keep, dtype=np.int64),
        tokens=tokens,
        labels=labels,
        frames=np.asarray(frames, dtype=np.int64),
        alpha=alpha,
        codebook_size=model.config.codebook_size,
    )


def usage_summary(tokenized: TokenizedSplit, level0_only: bool = False) -> dict[str, float]:
    """Pooled :class:`CodebookStats`, Zipf slope and code-label MI of a tokenized split (flat dict).

    ``level0_only`` restricts to the first token column (for RVQ, whose levels are separate codebooks).
    """
    toks = [t[:, 0] if level0_only and t.ndim == 2 else t for t in tokenized.tokens]
    k = tokenized.codebook_size
    counts = code_counts(toks, k)
    out = stats_from_counts(counts).to_dict()
    out["zipf_slope"] = zipf_fit(counts).slope
    out["label_mi_bits"] = code_label_mi(toks, tokenized.labels, k)
    out["label_nmi"] = code_label_mi(toks, tokenized.labels, k, normalized=True)
    return out


# ----------------------------------------------------------------------------------------------
# across a run's checkpoints


def checkpoint_dirs(run_dir: str | os.PathLike, include_final: bool = True) -> list[tuple[int, Path]]:
    """``(step, folder)`` of every loadable model of a training folder, oldest first.

    Complete ``checkpoints/step-*`` folders (the trainer writes ``config.json``,
    ``model.safetensors`` and ``normalizer.safetensors`` there, so each loads with
    :meth:`MotionTokenizer.from_pretrained`) and ``final/`` (its step read from ``final/eval.json``).
    The trainer keeps only ``TrainConfig.keep_checkpoints`` of them (2 by default): raise it to
    follow a run in detail.
    """
    root = Path(run_dir)
    found: dict[int, Path] = {}
    for p in sorted((root / "checkpoints").glob("step-*")):
        if p.is_dir() and (p / "trainer_state.json").is_file() and (p / "config.json").is_file():
            found[int(p.name.split("-")[1])] = p
    final = root / "final"
    if include_final and (final / "config.json").is_file():
        step = json.loads((final / "eval.json").read_text()).get("step", -1) if (final / "eval.json").is_file() else -1
        found.setdefault(int(step), final)  # the last checkpoint holds the same weights as final
    return sorted(found.items())


def usage_over_checkpoints(
    run_dir: str | os.PathLike, store: MotionStore, split: str = "test", window: int | None = None
) -> pd.DataFrame:
    """Codebook statistics (see :func:`usage_summary`) of every checkpoint of a run, one row per step.

    Training-batch utilization and perplexity are also logged every ``log_every`` steps in the run's
    ``metrics.jsonl`` (``train/utilization``, ``train/perplexity``), for every step rather than for
    the kept checkpoints only.
    """
    rows = []
    for step, folder in checkpoint_dirs(run_dir):
        model = MotionTokenizer.from_pretrained(folder)
        tok = tokenize_split(model, store, split, window)
        rows.append({"step": step, "checkpoint": folder.name, **usage_summary(tok, model.config.quantizer == "rvq")})
    return pd.DataFrame(rows)
