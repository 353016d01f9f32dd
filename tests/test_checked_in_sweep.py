"""The sweep checked into results/ is whole and self-consistent: its table agrees with every cell's own record,
and sweep.json records how it was made."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from motionbook_lib.scaling import cell_dir, read_results

SWEEP = Path(__file__).resolve().parents[1] / "results" / "sweep-cpu"


@pytest.fixture(scope="module")
def table():
    if not (SWEEP / "results.csv").is_file():
        pytest.fail(f"{SWEEP}/results.csv is missing: notebook 06 shows the checked-in sweep")
    return read_results(SWEEP)


def test_grid_is_complete_and_every_cell_finished(table):
    info = json.loads((SWEEP / "sweep.json").read_text())
    sizes = sorted({int(d) for call in info["invocations"] for d in call["data_sizes"]})
    models = sorted({m for call in info["invocations"] for m in call["models"]})
    assert len(table) == len(sizes) * len(models)
    assert set(table["status"]) == {"ok"}, table[table["status"] != "ok"][["run_dir", "error"]]
    assert sorted(set(table["data_size"])) == sizes and sorted(set(table["model_size"])) == models
    for call in info["invocations"]:
        assert call["command"].startswith("python -m motionbook_lib.scaling run --out results/sweep-cpu")


def test_table_rows_match_the_cell_records(table):
    for row in table.to_dict("records"):
        done = json.loads((cell_dir(SWEEP, row["data_size"], row["model_size"]) / "done.json").read_text())
        for key in ("n_params", "steps", "train_tokens"):
            assert int(done[key]) == int(row[key]), (row["run_dir"], key)
        for key in ("val_loss", "val_motion_loss", "R@1", "FID"):
            assert math.isclose(float(done[key]), float(row[key]), rel_tol=1e-9), (row["run_dir"], key)


def test_shared_models_are_kept_for_rescoring(table):
    """The tokenizer and evaluator every cell shared are kept (final weights), so the sweep can be extended."""
    for part in ("tokenizer", "evaluator"):
        assert (SWEEP / part / "final" / "model.safetensors").is_file(), part
    assert (SWEEP / "shared" / "text_tokenizer" / "tokenizer.json").is_file()
