"""The text-to-motion table and ``python -m motionbook_lib.eval`` on a tiny store with a tiny evaluator."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.eval import EvaluatorConfig, EvaluatorTrainConfig, MetricCI, train_evaluator
from motionbook_lib.eval.__main__ import main
from motionbook_lib.eval.table import (
    MM_PROTOCOL,
    ROW_M0,
    ROW_NOISE,
    ROW_RANDOM,
    ROW_REAL,
    ROW_RECON,
    ROW_RETRIEVAL,
    ROWS,
    SmallSplitWarning,
    T2MTable,
    collect_motions,
    format_ci,
    multimodality_label,
    score_motions,
    t2m_table,
)
from motionbook_lib.lm import M0Config, M0Pipeline, M0TrainConfig, train_m0
from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig

ROOT = Path(__file__).resolve().parents[1]
#: a small evaluator that trains in seconds on one thread
TINY_EVALUATOR = dict(text_encoder="scratch", embed_dim=32, max_frames=64, scratch_width=32, head_width=64,
                      motion_width=32)  # fmt: skip
TINY_FLAGS = ["--embed-dim", "32", "--max-frames", "64", "--scratch-width", "32", "--head-width", "64",
              "--motion-width", "32"]  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A 160-motion store, a scratch evaluator trained on it, an untrained tokenizer and a 2-step M0."""
    root = tmp_path_factory.mktemp("evaltable")
    store = root / "store"
    build_store(store, 160, source="synthetic", config=SyntheticConfig(seed=3), workers=1, progress=False)
    train = EvaluatorTrainConfig(batch_size=32, lr=3e-3, cpu_threads=1, ckpt_every=0)
    ev = train_evaluator(EvaluatorConfig(**TINY_EVALUATOR), store, root / "evaluator", 60, train, progress=False)
    torch.manual_seed(0)
    s = MotionStore(store)
    tok = MotionTokenizer(TokenizerConfig(quantizer="lfq2d", codebook_bits=4, width=16, depth=1, code_dim=8),
                          s.normalizer)  # fmt: skip
    tok.save_pretrained(root / "tokenizer")  # untrained: reconstructions are poor but well formed
    m0 = train_m0(M0TrainConfig(stage=1, batch_size=4, max_frames=48, cpu_threads=1, text_vocab_size=300,
                                model=M0Config(size="tiny", max_positions=512)),
                  store, root / "tokenizer", root / "m0", steps=2, progress=False)  # fmt: skip
    return {"root": root, "store": store, "evaluator": ev.model_dir, "tokenizer": root / "tokenizer",
            "m0": m0.model_dir}  # fmt: skip


def _finite_ci(table: T2MTable) -> None:
    """Every cell is a mean with its 95% interval: mean and 1.96 std / sqrt(n) of its own values."""
    for row, cols in table.metrics.items():
        for col, v in cols.items():
            assert isinstance(v, MetricCI), (row, col)
            assert math.isfinite(v.mean) and math.isfinite(v.ci95), (row, col, v)
            values = np.asarray(v.values)
            assert v.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-12), (row, col)
            assert v.ci95 == pytest.approx(1.96 * values.std() / math.sqrt(len(values)), rel=1e-9, abs=1e-12)


def test_full_table_on_a_small_test_split(models):
    store = MotionStore(models["store"])
    n_test = 10  # a random 10 of the tiny store's test split: fewer than one protocol batch
    assert len(store.split("test")) >= n_test
    with pytest.warns(SmallSplitWarning, match=f"only {n_test} motions"):
        table = t2m_table(store, models["evaluator"], tokenizer=models["tokenizer"], m0=models["m0"], repeats=4,
                          mm_captions=2, mm_generations=2, max_motions=n_test, progress=False)  # fmt: skip
    assert table.rows == list(ROWS)
    _finite_ci(table)
    meta = table.meta
    assert meta["evaluator"].startswith("scratch") and meta["split"] == "test"
    assert meta["motions"] == n_test and meta["batch_size"] == n_test and meta["repeats"] == 4 and meta["seed"] == 0
    assert "batch_note" in meta and "NOTE" in table.caption()
    # which row has which column
    assert set(table.metrics[ROW_RECON]) >= {"MPJPE", "PA-MPJPE", "feature FID", "foot skating"}
    assert "MPJPE" not in table.metrics[ROW_REAL] and "MPJPE" not in table.metrics[ROW_M0]
    assert [r for r in table.rows if "MultiModality" in table.metrics[r]] == [ROW_M0]
    assert len(table.metrics[ROW_M0]["MultiModality"].values) == 4
    # a MultiModality setting smaller than the protocol's 100 x 30 is labelled as such
    assert meta["multimodality"] == "reduced protocol: 2 x 2, 2 pairs"
    assert "MultiModality reduced protocol: 2 x 2" in table.caption()
    assert meta["notes"][ROW_M0] == "MultiModality reduced protocol: 2 x 2, 2 pairs"
    # Diversity can use at most the 10 kept motions (protocol: 300), and says so
    assert meta["diversity_pairs"] == 10 and "over 10 pairs, not 300" in meta["diversity_note"]
    for row in table.rows:
        assert {"R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity", "jitter", "ground penetration"} <= set(
            table.metrics[row]
        )
        r = [table.metrics[row][f"R@{k}"].mean for k in (1, 2, 3)]
        assert r[0] <= r[1] <= r[2], (row, r)  # a motion within the 1 nearest is within the 2 nearest
    # every batch holds all 10 motions: the ground truth is exactly its own FID reference, any other set is farther
    fid = {row: table.metrics[row]["FID"].mean for row in table.rows}
    assert fid[ROW_REAL] < 1e-6 and min(v for row, v in fid.items() if row != ROW_REAL) > 1e-3, fid
    assert table.metrics[ROW_NOISE]["R@1"].mean < table.metrics[ROW_REAL]["R@1"].mean
    # the noise row is physically implausible next to real motions
    assert table.metrics[ROW_NOISE]["jitter"].mean > 10 * table.metrics[ROW_REAL]["jitter"].mean
    # views
    frame = table.frame()
    assert list(frame.index) == list(ROWS)
    assert frame.loc[ROW_RECON, "MPJPE"] > 0 and np.isnan(frame.loc[ROW_REAL, "MPJPE"])
    assert frame.loc[ROW_M0, "R@1 ci95"] == table.metrics[ROW_M0]["R@1"].ci95
    shown = table.formatted()
    assert shown.loc[ROW_REAL, "MPJPE"] == "–" and "±" in shown.loc[ROW_M0, "R@1"]
    md = table.to_markdown()
    assert md.count("\n| ") == len(ROWS) + 1 and "R@1 ↑" in md and meta["evaluator"] in md


def test_real_beats_random_and_noise_and_is_its_own_fid_zero(models):
    """On 128 of the evaluator's training motions: whole batches of 32, so every repeat uses all of them."""
    table = t2m_table(models["store"], models["evaluator"], split="train", max_motions=128, repeats=3, seed=1,
                      progress=False)  # fmt: skip
    assert table.rows == [ROW_REAL, ROW_RETRIEVAL, ROW_RANDOM, ROW_NOISE]
    assert table.meta["batch_size"] == 32 and "batch_note" not in table.meta
    _finite_ci(table)
    m = {row: {col: v.mean for col, v in cols.items()} for row, cols in table.metrics.items()}
    assert m[ROW_REAL]["FID"] < 1e-6 and m[ROW_REAL]["feature FID"] < 1e-6  # the same motions as the reference
    for worse in (ROW_RANDOM, ROW_NOISE):
        assert m[worse]["R@1"] < m[ROW_REAL]["R@1"], (worse, m[worse]["R@1"], m[ROW_REAL]["R@1"])
    # random training motions are drawn from (almost) the same 128 motions here, so their FID is near the real
    # row's (FID compares distributions, not text); noise is far from both
    assert m[ROW_NOISE]["FID"] > m[ROW_RANDOM]["FID"] + 0.05 and m[ROW_NOISE]["FID"] > m[ROW_REAL]["FID"] + 0.05
    assert m[ROW_NOISE]["feature FID"] > max(m[ROW_RANDOM]["feature FID"], m[ROW_REAL]["feature FID"]) + 1.0
    # noise is worse than ground truth on every metric, each in its own direction
    for col in ("R@2", "R@3"):
        assert m[ROW_NOISE][col] < m[ROW_REAL][col], col
    for col in ("MM-Dist", "foot skating", "ground penetration", "jitter"):
        assert m[ROW_NOISE][col] > m[ROW_REAL][col], col
    assert m[ROW_NOISE]["jitter"] > 10 * m[ROW_REAL]["jitter"] and m[ROW_NOISE]["foot skating"] > 0.5
    assert m[ROW_NOISE]["Diversity"] != pytest.approx(m[ROW_REAL]["Diversity"], abs=0.02)  # "closer to Real"
    # a training caption's nearest training caption is itself: the baseline finds a motion with that caption
    assert m[ROW_RETRIEVAL]["R@1"] > m[ROW_RANDOM]["R@1"]
    assert "128/128 identical" in table.meta["notes"][ROW_RETRIEVAL]


def test_rows_without_models_are_skipped_and_one_collection_serves_two_evaluators(models, tmp_path):
    motions = collect_motions(models["store"], "train", noise=False, retrieval=False, max_motions=40, progress=False)
    assert list(motions.rows) == [ROW_REAL, ROW_RANDOM]
    table = score_motions(motions, models["evaluator"], repeats=2, progress=False)
    assert table.rows == [ROW_REAL, ROW_RANDOM]
    assert not {"MPJPE", "PA-MPJPE", "MultiModality"} & set(table.columns)
    # a second evaluator scores the same motions (here: the same one saved elsewhere, same numbers)
    from motionbook_lib.eval import Evaluator

    Evaluator.from_pretrained(models["evaluator"]).save_pretrained(tmp_path / "copy")
    again = score_motions(motions, tmp_path / "copy", repeats=2, progress=False)
    assert again.frame().equals(table.frame())
    assert again.meta["evaluator_dir"] == str(tmp_path / "copy")


def test_save_formats(models, tmp_path):
    table = t2m_table(models["store"], models["evaluator"], split="train", max_motions=40, noise=False,
                      retrieval=False, repeats=2, progress=False)  # fmt: skip
    md = table.save(tmp_path / "t.md").read_text()
    assert ROW_REAL in md and "95% interval" in md
    csv = pd.read_csv(table.save(tmp_path / "t.csv"), index_col=0)
    assert list(csv.index) == table.rows and np.allclose(csv["R@1"], table.frame()["R@1"])
    data = json.loads(table.save(tmp_path / "t.json").read_text())
    assert data["meta"]["repeats"] == 2 and len(data["metrics"][ROW_REAL]["FID"]["values"]) == 2
    with pytest.raises(ValueError, match=r"\.md, \.csv or \.json"):
        table.save(tmp_path / "t.txt")


def test_format_ci_and_split_names(models):
    assert format_ci(MetricCI(0.51149, 0.00312, ())) == "0.511 ± 0.003"
    assert format_ci(MetricCI(164.44, 12.83, ())) == "164.4 ± 12.8"
    assert format_ci(MetricCI(8101.7, 113.2, ())) == "8102 ± 113"
    assert format_ci(None) == "–"
    store = MotionStore(models["store"])
    both = collect_motions(store, "test+val", retrieval=False, random_motions=False, noise=False, progress=False)
    assert both.indices.tolist() == sorted(store.split("test").tolist() + store.split("val").tolist())
    with pytest.raises(ValueError, match="unknown split 'tset'"):
        collect_motions(store, "tset", progress=False)


def test_missing_model_folders_are_clear_errors(models, tmp_path):
    with pytest.raises(FileNotFoundError, match="M0 folder not found"):
        collect_motions(models["store"], "train", m0=tmp_path / "nope", progress=False)
    with pytest.raises(FileNotFoundError, match="no saved tokenizer"):
        collect_motions(models["store"], "train", tokenizer=tmp_path, progress=False)
    motions = collect_motions(models["store"], "train", max_motions=8, noise=False, retrieval=False, progress=False)
    with pytest.raises(FileNotFoundError, match="evaluator folder not found"):
        score_motions(motions, tmp_path / "nope")


def test_cli_train_then_table(models, tmp_path, capsys):
    store, out = str(models["store"]), tmp_path / "ev"
    args = ["train", "--store", store, "--out", str(out), "--text-encoder", "scratch", "--steps", "3",
            "--batch-size", "16", "--cpu-threads", "1", "--no-progress", *TINY_FLAGS]  # fmt: skip
    assert main(args) == 0
    assert "trained to step 3" in capsys.readouterr().out and (out / "final" / "config.json").is_file()
    assert main(args) == 0  # finished: returns at once
    table_md = tmp_path / "table.md"
    assert main(["table", "--store", store, "--evaluator", str(out), "--tokenizer", str(models["tokenizer"]),
                 "--split", "train", "--max-motions", "32", "--repeats", "2", "--no-noise", "--no-progress",
                 "--out", str(table_md)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    for row in (ROW_REAL, ROW_RECON, ROW_RETRIEVAL, ROW_RANDOM):
        assert row in printed
    assert ROW_M0 not in printed and ROW_NOISE not in printed and "scratch" in printed
    assert table_md.read_text().startswith("|  | R@1")


@pytest.mark.parametrize(
    "flag,message",
    [("--evaluator", "evaluator folder not found"), ("--tokenizer", "tokenizer folder not found"),
     ("--m0", "M0 folder not found"), ("--store", "store folder not found")],
)  # fmt: skip
def test_cli_missing_folders(models, tmp_path, capsys, flag, message):
    args = {"--store": str(models["store"]), "--evaluator": str(models["evaluator"])}
    args[flag] = str(tmp_path / "missing")
    argv = ["table", *[x for kv in args.items() for x in kv], "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and str(tmp_path / "missing") in err


def test_cli_runs_as_a_module(tmp_path, capsys):
    proc = subprocess.run([sys.executable, "-m", "motionbook_lib.eval", "table", "--store", str(tmp_path / "none"),
                           "--evaluator", str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "folder not found" in proc.stderr
    with pytest.raises(SystemExit) as exc:
        main(["table", "--help"])
    assert exc.value.code == 0 and "--repeats" in capsys.readouterr().out


class _StandInM0(M0Pipeline):
    """Returns a stored motion for every prompt (cheap), and records what it was asked."""

    def __init__(self, store: MotionStore) -> None:  # no model: generation is the store's motions
        self.store, self.calls = store, []

    def generate_motion(self, text, seconds=4.0, seed=0, **kwargs):
        self.calls.append((text, seed))
        rows = self.store.split("train")
        return {"features": self.store.features(int(rows[seed % len(rows)]))}


def test_multimodality_defaults_to_the_protocol_with_random_captions(models):
    store = MotionStore(models["store"])
    fake = _StandInM0(store)
    motions = collect_motions(store, "train", m0=fake, retrieval=False, random_motions=False, noise=False,
                              progress=False)  # fmt: skip
    n = len(motions.indices)
    assert n >= MM_PROTOCOL[0]
    mm = motions.rows[ROW_M0].mm_features
    assert len(mm) == 100 and {len(g) for g in mm} == {30}
    assert len(fake.calls) == n + 100 * 29  # one generation per caption, 29 more for each MultiModality caption
    # the 100 captions are drawn at random from the split, not its first 100
    extra = sorted({seed % 1_000_003 for _, seed in fake.calls if seed >= 1_000_003})
    assert len(extra) == 100 and extra != list(range(100))
    table = score_motions(motions, models["evaluator"], repeats=2, progress=False)
    assert table.meta["multimodality"] == multimodality_label(*MM_PROTOCOL)
    assert table.meta["multimodality"] == "protocol: 100 captions x 30 generations, 10 pairs"
    assert len(table.metrics[ROW_M0]["MultiModality"].values) == 2
