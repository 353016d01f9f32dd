"""Codebook usage statistics on hand-made token arrays, and the sweep's reuse of completed cells."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from motionbook_lib.analysis import (
    SweepConfig,
    cell_dir,
    checkpoint_dirs,
    code_label_counts,
    code_label_mi,
    code_segments,
    codebook_stats,
    dead_codes,
    mutual_information,
    per_part_usage,
    rank_frequency,
    read_results,
    repeated_code_tokens,
    run_sweep,
    tokenize_split,
    zipf_fit,
)
from motionbook_lib.analysis.codebook import TokenizedSplit
from motionbook_lib.data.store import MotionStore
from motionbook_lib.tokenizer import PART_NAMES, MotionTokenizer, TokenizerConfig, train_tokenizer

K = 16


def test_uniform_codebook() -> None:
    tokens = np.repeat(np.arange(K), 5)  # every code 5 times
    s = codebook_stats(tokens, K)
    assert s.utilization == 1.0 and s.used == K and s.dead == 0
    assert s.perplexity == pytest.approx(K)
    assert s.entropy_bits == pytest.approx(math.log2(K))
    assert s.normalized_entropy == pytest.approx(1.0)
    assert codebook_stats(torch.as_tensor(tokens), K) == s  # torch in, same answer


def test_collapsed_codebook() -> None:
    s = codebook_stats(np.full(100, 3), K)
    assert s.utilization == pytest.approx(1 / K)
    assert s.perplexity == pytest.approx(1.0)
    assert s.entropy_bits == 0.0
    assert s.dead == K - 1
    assert dead_codes(np.full(100, 3), K).tolist() == [c for c in range(K) if c != 3]


def test_per_part_usage_and_dead_codes() -> None:
    n = 64
    tokens = np.zeros((n, 6), dtype=np.int64)
    tokens[:, 0] = np.arange(n) % K  # root uses everything
    tokens[:, 1] = np.arange(n) % 4  # torso uses 4 codes
    # other parts collapsed on code 0
    df = per_part_usage(tokens, K)
    assert df["part"].tolist() == list(PART_NAMES)
    assert df["utilization"].tolist() == pytest.approx([1.0, 4 / K, 1 / K, 1 / K, 1 / K, 1 / K])
    assert df["perplexity"].iloc[1] == pytest.approx(4.0)
    assert dead_codes(tokens, K, part=1).tolist() == list(range(4, K))
    assert len(dead_codes(tokens, K)) == 0  # pooled: the root part uses every code
    with pytest.raises(ValueError):
        codebook_stats(np.array([K]), K)


def test_zipf_slope_recovered() -> None:
    ranks = np.arange(1, 201)
    counts = np.round(1e5 * ranks**-1.3).astype(int)
    codes = np.random.default_rng(0).permutation(256)[:200]
    tokens = np.repeat(codes, counts)
    rf = rank_frequency(tokens, 256)
    assert rf["rank"].iloc[0] == 1 and rf["code"].iloc[0] == codes[0]
    assert (np.diff(rf["count"].to_numpy()) <= 0).all()
    fit = zipf_fit(rf)
    assert fit.slope == pytest.approx(-1.3, abs=0.02)
    assert fit.r2 > 0.99
    assert zipf_fit(np.bincount(tokens, minlength=256)).slope == pytest.approx(fit.slope)


def test_code_label_mutual_information() -> None:
    rng = np.random.default_rng(0)
    labels = ["walk", "run", "jump", "sit"] * 50
    # independent: every motion draws codes from the same distribution
    indep = [rng.integers(0, K, size=400) for _ in labels]
    assert code_label_mi(indep, labels, K) == pytest.approx(0.0, abs=0.01)
    # dependent: each label has its own block of 4 codes -> code determines the label
    offset = {"walk": 0, "run": 4, "jump": 8, "sit": 12}
    dep = [offset[lab] + rng.integers(0, 4, size=50) for lab in labels]
    assert code_label_mi(dep, labels, K) == pytest.approx(2.0, abs=1e-6)  # log2(4 labels)
    assert code_label_mi(dep, labels, K, normalized=True) == pytest.approx(1.0)
    table = code_label_counts(dep, [[lab, "any"] for lab in labels], K)  # multi-label motions
    assert list(table.columns) == ["any", "jump", "run", "sit", "walk"]
    assert int(table["any"].sum()) == 50 * len(labels)
    assert mutual_information(np.ones((3, 3))) == 0.0


def test_explorer_segments_and_repeated_tokens() -> None:
    tok = TokenizedSplit("test", np.array([10, 11]), [np.array([1, 5, 5, 5, 2, 5]), np.array([5, 3])], [["a"], ["b"]])
    seg = code_segments(tok, 5, top=10)
    assert seg[["row", "step", "length", "frame_start", "frame_end"]].iloc[0].tolist() == [10, 1, 3, 4, 16]
    assert len(seg) == 3
    cfg = TokenizerConfig(quantizer="lfq2d", codebook_bits=4)
    t = repeated_code_tokens(cfg, 7, steps=3, part=2, background=0)
    assert t.shape == (3, 6) and t[:, 2].eq(7).all() and t[:, 0].eq(0).all()
    assert repeated_code_tokens(TokenizerConfig(quantizer="vq", codebook_bits=4), 7, steps=3).tolist() == [7, 7, 7]


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from motionbook_lib.data.store import build_store
    from motionbook_lib.data.synthetic import SyntheticConfig

    out = tmp_path_factory.mktemp("store") / "s"
    build_store(out, 40, source="synthetic", config=SyntheticConfig(seed=0), workers=1, progress=False)
    return out


def test_sweep_reuses_completed_cells(tiny_store: Path, tmp_path: Path) -> None:
    config = SweepConfig(
        quantizers=["lfq2d", "vq"], bits=[3], steps=4, width=8, depth=1, code_dim=8,
        batch_size=8, window=16, cpu_threads=1, eval_window=16,
    )  # fmt: skip
    calls: list[str] = []

    def spy(*args, **kwargs):
        calls.append(args[0].quantizer)
        return train_tokenizer(*args, **kwargs)

    first = run_sweep(tmp_path / "sweep", tiny_store, config, progress=False, trainer=spy)
    assert calls == ["lfq2d", "vq"]
    assert first["status"].tolist() == ["ok", "ok"], first["error"].tolist()
    assert not first["reused"].any()
    # each row's utilization is a whole number of codes of its 2**3 codebook
    assert np.allclose(first["utilization"] * 8, np.round(first["utilization"] * 8)) and (first["mpjpe_mm"] > 0).all()
    model_file = cell_dir(tmp_path / "sweep", "vq", 3) / "final" / "model.safetensors"
    mtime = model_file.stat().st_mtime_ns

    second = run_sweep(tmp_path / "sweep", tiny_store, config, progress=False, trainer=spy)
    assert calls == ["lfq2d", "vq"]  # not trained again
    assert second["reused"].all()
    assert model_file.stat().st_mtime_ns == mtime
    assert second["mpjpe_mm"].tolist() == pytest.approx(first["mpjpe_mm"].tolist())
    assert len(read_results(tmp_path / "sweep")) == 2

    # checkpoints load as models and tokenize a split with its labels
    steps = [s for s, _ in checkpoint_dirs(cell_dir(tmp_path / "sweep", "lfq2d", 3))]
    assert steps == [1, 2, 3, 4]
    model = MotionTokenizer.from_pretrained(cell_dir(tmp_path / "sweep", "lfq2d", 3) / "final")
    store = MotionStore(tiny_store)
    tok = tokenize_split(model, store, "all")
    assert len(tok) == len(store) and tok.tokens[0].shape[1] == 6 and len(tok.labels) == len(tok)


def test_sweep_records_failed_cell(tiny_store: Path, tmp_path: Path) -> None:
    config = SweepConfig(quantizers=["vq"], bits=[3, 4], steps=2, width=8, depth=1, code_dim=8, batch_size=8,
                         window=16, cpu_threads=1, eval_window=16)  # fmt: skip

    def flaky(config_, *args, **kwargs):
        if config_.codebook_bits == 3:
            raise RuntimeError("boom")
        return train_tokenizer(config_, *args, **kwargs)

    df = run_sweep(tmp_path / "sweep", tiny_store, config, progress=False, trainer=flaky)
    assert df["status"].tolist() == ["failed", "ok"]
    assert "boom" in df["error"].iloc[0]
    assert len(read_results(tmp_path / "sweep")) == 2
