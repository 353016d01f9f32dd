"""The scaling sweep end to end on a tiny store: table, resume, failures, nested subsets, held-out loss, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from motionbook_lib.data.store import MotionStore, build_store
from motionbook_lib.data.synthetic import SyntheticConfig
from motionbook_lib.lm import M0Pipeline, M0TrainConfig, train_m0
from motionbook_lib.lm.evaluate import m0_eval_loss, t2m_eval_examples
from motionbook_lib.lm.train import subset_corpus, tokenize_corpus
from motionbook_lib.scaling.__main__ import main
from motionbook_lib.scaling.sweep import RESULT_COLUMNS, SweepConfig, cell_dir, read_results, run_sweep


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MotionStore:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("scaling")
    return MotionStore(build_store(root / "store", 48, source="synthetic", config=SyntheticConfig(seed=0),
                                   workers=1, progress=False))  # fmt: skip


def _config(**kw) -> SweepConfig:
    base = dict(data_sizes=[8, 16], models=["tiny"], epochs=2, min_steps=2, tokenizer_steps=4, codebook_bits=4,
                tokenizer_width=16, tokenizer_code_dim=8, batch_size=4, max_frames=48, max_positions=1024,
                text_vocab_size=400)  # fmt: skip
    return SweepConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def sweep(store, tmp_path_factory):
    """A sweep with two good cells and one whose data size exceeds the train split, run with a counting trainer."""
    calls: list[str] = []

    def trainer(cfg, *args, **kw):
        calls.append(f"d{cfg.train_subset}-{cfg.model.size}")
        return train_m0(cfg, *args, **kw)

    root = tmp_path_factory.mktemp("sweep") / "sweep"
    config = _config(data_sizes=[8, 16, 1000])
    table = run_sweep(root, config, store=store, progress=False, command="python -m motionbook_lib.scaling run x",
                      trainer=trainer)  # fmt: skip
    return root, config, table, calls, trainer


def test_sweep_writes_the_table_and_records_a_failed_cell(sweep, store):
    root, config, table, calls, _ = sweep
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert sorted(calls) == ["d1000-tiny", "d16-tiny", "d8-tiny"]
    ok = table[table["status"] == "ok"].set_index("data_size")
    assert list(ok.index) == [8, 16]
    assert np.isfinite(ok["val_loss"]).all() and np.isfinite(ok["val_motion_loss"]).all()
    assert (ok["val_loss"] < np.log(2000)).all()  # below a uniform guess over any plausible vocabulary
    assert ok["steps"].tolist() == [config.cell_steps(8), config.cell_steps(16)] == [4, 8]  # 2 epochs of batch 4
    assert ok["epochs"].tolist() == [2.0, 2.0]
    assert (ok["n_params"] > 0).all() and (ok["n_params"] < ok["n_params_total"]).all()
    assert ok["n_params"].nunique() == 1  # same model size, same count
    assert (ok["train_tokens"] == (ok["steps"] * 4 * ok["tokens_per_motion"]).round()).all()
    assert ok["R@1"].isna().all() and ok["FID"].isna().all()  # generation metrics off
    failed = table[table["status"] == "failed"]
    assert failed["data_size"].tolist() == [1000] and "train_subset=1000" in failed["error"].iloc[0]
    assert not (cell_dir(root, 1000, "tiny") / "done.json").exists()
    assert "train_subset" in json.loads((cell_dir(root, 1000, "tiny") / "error.json").read_text())["traceback"]
    for d in (8, 16):
        cell = cell_dir(root, d, "tiny")
        assert (cell / "done.json").is_file() and (cell / "final" / "m0_pipeline.json").is_file()
        assert json.loads((cell / "train_config.json").read_text())["motions"] == d  # the subset really was used
    info = json.loads((root / "sweep.json").read_text())
    assert info["command"] == "python -m motionbook_lib.scaling run x" and "git_commit" in info
    assert info["config"]["data_sizes"] == [8, 16, 1000]
    # the table loads back from both files
    csv, parquet = read_results(root / "results.csv"), read_results(root / "results.parquet")
    cols = list(RESULT_COLUMNS[:12])
    pd.testing.assert_frame_equal(csv[cols], parquet[cols], check_dtype=False)
    assert read_results(root).shape == table.shape


def test_rerun_skips_finished_cells_and_retries_failed_ones(sweep, store):
    root, config, _, calls, trainer = sweep
    before = {d: (cell_dir(root, d, "tiny") / "done.json").stat().st_mtime_ns for d in (8, 16)}
    n = len(calls)
    table = run_sweep(root, config, store=store, progress=False, command="again", trainer=trainer)
    assert calls[n:] == ["d1000-tiny"]  # only the failed cell ran again
    assert {d: (cell_dir(root, d, "tiny") / "done.json").stat().st_mtime_ns for d in (8, 16)} == before
    assert sorted(table["status"]) == ["failed", "ok", "ok"]
    assert len(json.loads((root / "sweep.json").read_text())["invocations"]) == 2
    # the same folder with other cell settings is refused; the grid alone may change
    with pytest.raises(ValueError, match="lr="):
        run_sweep(root, _config(data_sizes=[8], lr=5e-4), store=store, progress=False, trainer=trainer)
    smaller = run_sweep(root, _config(data_sizes=[8]), store=store, progress=False, trainer=trainer)
    assert calls[n + 1 :] == [] and len(smaller) == 3  # cells of earlier calls stay in the table


def test_a_crashing_trainer_fails_its_cell_only(store, tmp_path):
    def trainer(cfg, *args, **kw):
        if cfg.model.size == "llama-tiny":
            raise RuntimeError("out of memory (simulated)")
        return train_m0(cfg, *args, **kw)

    table = run_sweep(tmp_path / "sw", _config(data_sizes=[8], models=["llama-tiny", "tiny"], keep_weights=False),
                      store=store, progress=False, trainer=trainer)  # fmt: skip
    by_model = table.set_index("model_size")
    assert by_model.loc["llama-tiny", "status"] == "failed"
    assert by_model.loc["llama-tiny", "error"] == "RuntimeError: out of memory (simulated)"
    assert by_model.loc["tiny", "status"] == "ok" and np.isfinite(by_model.loc["tiny", "val_loss"])
    cell = cell_dir(tmp_path / "sw", 8, "tiny")
    assert (cell / "done.json").is_file() and not (cell / "final").exists()  # weights dropped after evaluation


def test_subsets_are_nested_and_independent_of_the_training_seed(sweep, store):
    from motionbook_lib.tokenizer import MotionTokenizer

    root = sweep[0]
    mtok = MotionTokenizer.from_pretrained(root / "tokenizer" / "final")
    corpus = tokenize_corpus(store, mtok, "train", 48, root / "shared" / "corpus" / "train.safetensors")
    small, large = subset_corpus(corpus, 8, 1234), subset_corpus(corpus, 30, 1234)
    assert len(small) == 8 and set(small.index) < set(large.index)
    row = int(small.index[3])
    where = int(np.flatnonzero(corpus.index == row)[0])
    np.testing.assert_array_equal(small.motion_codes(3), corpus.motion_codes(where))
    assert set(subset_corpus(corpus, 8, 99).index) != set(small.index)  # another subset seed, another subset
    assert M0TrainConfig(train_subset=8, seed=5).subset_seed == M0TrainConfig(train_subset=8).subset_seed
    with pytest.raises(ValueError, match="train_subset"):
        M0TrainConfig(train_subset=0)
    with pytest.raises(ValueError, match="41 motions"):
        subset_corpus(corpus, 41)


def test_eval_loss_matches_the_model_loss_and_is_deterministic(sweep, store):
    root = sweep[0]
    pipe = M0Pipeline.from_pretrained(cell_dir(root, 16, "tiny") / "final")
    a = m0_eval_loss(pipe, store, "val", max_frames=48, batch_size=2, stage=1)
    b = m0_eval_loss(cell_dir(root, 16, "tiny"), store, "val", max_frames=48, batch_size=7)  # stage read from folder
    assert a["stage"] == b["stage"] == 1
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5) and a["motion_loss"] == pytest.approx(b["motion_loss"])
    # reference: Hugging Face's own loss, example by example
    pairs = t2m_eval_examples(pipe, store, "val", 48, stage=1)
    assert a["examples"] == len(pairs) == len(store.split("val"))
    total, count = 0.0, 0
    with torch.no_grad():
        for prompt, answer in pairs:
            ids = pipe.tokenizer(prompt, add_special_tokens=False).input_ids
            ids += pipe.tokenizer(" " + answer, add_special_tokens=False).input_ids + [pipe.tokenizer.eos_token_id]
            x = torch.tensor([ids])
            total += float(pipe.model(input_ids=x, labels=x).loss) * (len(ids) - 1)
            count += len(ids) - 1
    assert a["tokens"] == count and a["loss"] == pytest.approx(total / count, rel=1e-5)
    # motion positions: every code of every step plus </mot>, per example
    corpus = tokenize_corpus(store, pipe.motion_tokenizer, "val", 48)
    expected = sum(corpus.motion_codes(i).size + 1 for i in range(len(corpus)))
    assert a["motion_tokens"] == expected
    other = m0_eval_loss(pipe, store, "val", max_frames=48, stage=2)  # the instruction templates differ
    assert other["loss"] != pytest.approx(a["loss"]) and other["motion_tokens"] == expected
    with pytest.raises(ValueError, match="unknown split"):
        m0_eval_loss(pipe, store, "nothing", max_frames=48)


def test_cli_runs_a_sweep_and_fits_its_table(store, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["run", "--out", str(out), "--store", str(store.path), "--data-sizes", "8", "16", "--models", "tiny",
            "--steps", "3", "--tokenizer-steps", "2", "--codebook-bits", "4", "--tokenizer-width", "16",
            "--tokenizer-code-dim", "8", "--batch-size", "4", "--max-frames", "48", "--max-positions", "512",
            "--text-vocab-size", "400", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    info = json.loads((out / "sweep.json").read_text())
    assert info["command"].startswith("python -m motionbook_lib.scaling run --out") and "--steps 3" in info["command"]
    assert info["config"]["steps_policy"] == "fixed"  # --steps alone means a fixed number of steps
    assert read_results(out)["steps"].tolist() == [3, 3]
    capsys.readouterr()
    assert main(["fit", "--results", str(out / "results.csv"), "--n-boot", "20"]) == 0
    text = capsys.readouterr().out
    assert "joint law skipped" in text and "tiny: val_loss = a * D^b" in text


def test_cli_fit_recovers_a_known_law(tmp_path, capsys):
    rows = []
    for model, n in (("tiny", 1e5), ("small", 1e6), ("base", 1e7)):
        for d in (250, 500, 1000, 2000):
            loss = 1.5 + 60 / n**0.35 + 25 / d**0.45
            rows.append({"data_size": d, "model_size": model, "n_params": n, "train_tokens": d * 400, "steps": 1,
                         "val_loss": loss, "val_motion_loss": loss, "R@1": 0.01 * d**0.3, "FID": float("nan"),
                         "wall_s": 1.0, "status": "ok", "error": "", "epochs": 4.0,
                         "tokens_per_motion": 100.0})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    assert main(["fit", "--results", str(tmp_path / "results.csv"), "--n-boot", "30", "--budget", "1e15"]) == 0
    text = capsys.readouterr().out
    assert "alpha = 0.35" in text and "beta = 0.45" in text
    assert "C = 1e+15: N* = " in text and "400.0 training tokens per unit of data_size" in text
    assert "== R@1" in text and "b = 0.3 " in text
