"""Tests for motionbook_lib.runs (three kernel executions in total; everything else is in-process)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from motionbook_lib import runs
from motionbook_lib.runs import (
    RUN_COLUMNS,
    execute_notebook,
    list_runs,
    log_metric,
    make_run_id,
    notebook_hygiene,
    parameter_names,
    read_metrics,
    save_figure,
)

PARAMS_SRC = 'alpha = 1\nlabel = "a"\nrun_dir = None'
METRIC_SRC = (
    "import sys\n"
    "from motionbook_lib.runs import log_metric\n"
    'log_metric(run_dir, "double", alpha * 2, step=0, executable=sys.executable)'
)


def write_nb(path: Path, cells: list[tuple[str, str] | str], param_tags: int = 1) -> Path:
    """Write a notebook; each cell is source (code) or ("md", text); the first ``param_tags`` code
    cells are tagged ``parameters``."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tagged = 0
    for cell in cells:
        if isinstance(cell, tuple):
            nb.cells.append(new_markdown_cell(cell[1]))
            continue
        code = new_code_cell(cell)
        if tagged < param_tags:
            code.metadata["tags"] = ["parameters"]
            tagged += 1
        nb.cells.append(code)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# ------------------------------------------------------------------------------------ executions


@pytest.fixture(scope="module")
def ok_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Execute a tiny notebook twice with the same parameters (2 kernel runs for the module)."""
    root = tmp_path_factory.mktemp("okruns")
    nb = write_nb(root / "nbs" / "tiny.ipynb", [PARAMS_SRC, ("md", "# log"), METRIC_SRC])
    runs_dir = root / "runs"
    first = execute_notebook(nb, {"alpha": 3}, runs_dir=runs_dir, cell_timeout=120, progress_bar=False)
    (first.run_dir / "stale.txt").write_text("from the first run")
    second = execute_notebook(nb, {"alpha": 3}, runs_dir=runs_dir, cell_timeout=120, progress_bar=False)
    return {"nb": nb, "runs_dir": runs_dir, "first": first, "second": second}


def test_run_folder_contents(ok_runs: dict) -> None:
    rec = ok_runs["second"]
    assert rec.ok and rec.status == "ok" and rec.error == ""
    assert rec.run_dir == ok_runs["runs_dir"].absolute() / rec.run_id
    assert rec.output_notebook == rec.run_dir / "tiny.ipynb"
    assert rec.output_notebook.is_file()
    assert json.loads((rec.run_dir / "params.json").read_text()) == {"alpha": 3}

    lines = (rec.run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and rec.n_metrics == 1
    metric = json.loads(lines[0])
    assert (metric["name"], metric["value"], metric["step"]) == ("double", 6, 0)
    # The python3 kernel runs the interpreter that runs the tests (the venv's).
    assert Path(metric["executable"]).resolve() == Path(sys.executable).resolve()

    # The executed notebook shows the final run folder as run_dir, not the staging folder.
    executed = nbformat.read(str(rec.output_notebook), as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert str(rec.run_dir) in injected[0].source and "staging" not in injected[0].source
    # No staging / old folders are left behind.
    assert not [p for p in ok_runs["runs_dir"].iterdir() if p.name.startswith(".") and p.is_dir()]


def test_rerun_same_params_overwrites_and_appends(ok_runs: dict) -> None:
    first, second = ok_runs["first"], ok_runs["second"]
    assert first.run_id == second.run_id == make_run_id(ok_runs["nb"], {"alpha": 3})
    assert not (second.run_dir / "stale.txt").exists()  # folder replaced, not merged

    df = list_runs(ok_runs["runs_dir"])
    assert list(df.columns) == list(RUN_COLUMNS)
    assert len(df) == 2
    assert set(df["run_id"]) == {first.run_id}
    assert list(df["status"]) == ["ok", "ok"]
    assert list(df["n_metrics"]) == [1, 1]
    assert json.loads(df["params_json"].iloc[0]) == {"alpha": 3}
    assert df["started_at"].iloc[0].endswith("+00:00")
    assert (df["duration_s"] > 0).all()
    assert df["notebook"].iloc[0].endswith("tiny.ipynb")


def test_failing_notebook_records_failed_row(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "broken.ipynb",
        ["alpha = 1\nrun_dir = None", METRIC_SRC, 'raise ValueError("boom-42")', "never = True"],
    )
    runs_dir = tmp_path / "runs"
    with pytest.raises(RuntimeError, match=r"broken\.ipynb.*ValueError: boom-42"):
        execute_notebook(nb, runs_dir=runs_dir, cell_timeout=120, progress_bar=False)

    df = list_runs(runs_dir)
    assert len(df) == 1
    row = df.iloc[0]
    assert row["status"] == "failed"
    assert "boom-42" in row["error"]
    assert row["n_metrics"] == 1
    run_dir = runs_dir / row["run_id"]
    assert (run_dir / "broken.ipynb").is_file()  # partial notebook kept for debugging
    assert (run_dir / "metrics.jsonl").is_file()


# ------------------------------------------------------------------------------ validation (no kernel)


def test_run_id_stable_for_same_params(tmp_path: Path) -> None:
    a = make_run_id(tmp_path / "x" / "01_train.ipynb", {"lr": 0.1, "epochs": 2})
    b = make_run_id(tmp_path / "y" / "01_train.ipynb", {"epochs": 2, "lr": 0.1})
    assert a == b
    assert a.startswith("01_train-") and len(a) == len("01_train-") + 10
    assert make_run_id("01_train.ipynb", {"lr": 0.2, "epochs": 2}) != a
    assert make_run_id("02_train.ipynb", {"lr": 0.1, "epochs": 2}) != a
    assert make_run_id("01_train.ipynb") == make_run_id("01_train.ipynb", {})
    assert make_run_id("01_train.ipynb", {"n": np.int64(3)}) == make_run_id("01_train.ipynb", {"n": 3})


def test_unknown_parameter_rejected(tmp_path: Path) -> None:
    nb = write_nb(tmp_path / "p.ipynb", [PARAMS_SRC, "x = alpha"])
    with pytest.raises(ValueError, match=r"nope.*known parameters: alpha, label"):
        execute_notebook(nb, {"alpha": 2, "nope": 1}, runs_dir=tmp_path / "runs")
    with pytest.raises(ValueError, match="run_dir"):
        execute_notebook(nb, {"run_dir": "elsewhere"}, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing recorded for rejected calls


def test_missing_notebook_and_parameters_cell(tmp_path: Path) -> None:
    missing = tmp_path / "absent.ipynb"
    with pytest.raises(FileNotFoundError, match="absent.ipynb"):
        execute_notebook(missing, runs_dir=tmp_path / "runs")
    no_params = write_nb(tmp_path / "noparams.ipynb", ["x = 1"], param_tags=0)
    with pytest.raises(ValueError, match=r"noparams\.ipynb.*found 0"):
        execute_notebook(no_params, runs_dir=tmp_path / "runs")
    two = write_nb(tmp_path / "two.ipynb", ["x = 1", "y = 2"], param_tags=2)
    with pytest.raises(ValueError, match=r"two\.ipynb.*found 2"):
        execute_notebook(two, runs_dir=tmp_path / "runs")


def test_parameter_names_parsing(tmp_path: Path) -> None:
    src = "%matplotlib inline\n!echo hi\na = 1\nb: int = 2\nc, (d, e) = 3, (4, 5)\nif a:\n    hidden = 1"
    nb = write_nb(tmp_path / "n.ipynb", [src])
    assert parameter_names(nb) == ["a", "b", "c", "d", "e"]


# ------------------------------------------------------------------------------------------ hygiene


def test_hygiene_clean_notebook(tmp_path: Path) -> None:
    nb = write_nb(
        tmp_path / "clean.ipynb",
        [
            PARAMS_SRC,
            ("md", "import torch  (markdown is not checked)"),
            "%load_ext autoreload\nimport json, math\nfrom pathlib import Path\nimport numpy as np\n"
            "import plotly.graph_objects as go\nfrom motionbook_lib.runs import log_metric\n"
            "import ipywidgets, pythreejs, IPython.display\nimport pandas as pd",
        ],
    )
    assert notebook_hygiene(nb) == []


def test_hygiene_detects_problems(tmp_path: Path) -> None:
    path = write_nb(
        tmp_path / "dirty.ipynb",
        [PARAMS_SRC, "import torch\nfrom scipy import linalg\n\ndef f():\n    import sklearn", "x = 1"],
    )
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="1\n")]
    nb.cells[2].execution_count = 3
    nbformat.write(nb, str(path))
    problems = "\n".join(notebook_hygiene(path))
    for needle in ("'torch'", "'scipy'", "'sklearn'", "has outputs", "execution_count"):
        assert needle in problems, needle
    assert "parameters" not in problems

    missing = write_nb(tmp_path / "missing.ipynb", ["x = 1"], param_tags=0)
    assert any("found 0" in p for p in notebook_hygiene(missing))
    double = write_nb(tmp_path / "double.ipynb", ["x = 1", "y = 2"], param_tags=2)
    assert any("found 2" in p for p in notebook_hygiene(double))
    assert notebook_hygiene(tmp_path / "nope.ipynb") != []


def test_hygiene_flags_parameters_papermill_cannot_see(tmp_path: Path) -> None:
    """papermill --help-notebook skips a line with two '=': the parameter vanishes from its listing."""
    src = 'steps = 10  # optimizer steps (0 = none)\nseed = 0  # random seed\nrun_dir = None'
    problems = notebook_hygiene(write_nb(tmp_path / "hidden.ipynb", [src]))
    assert len(problems) == 1 and "'steps'" in problems[0], problems
    fixed = src.replace("(0 = none)", "(0: none)")
    assert notebook_hygiene(write_nb(tmp_path / "fixed.ipynb", [fixed])) == []


# ------------------------------------------------------------------------------- notebook helpers


def test_log_metric_and_read_metrics(tmp_path: Path) -> None:
    log_metric(tmp_path, "loss", np.float32(0.5), step=np.int64(1), split="train")
    log_metric(tmp_path, "loss", 0.25, step=2, split="train")
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["value"] for x in lines] == [0.5, 0.25]
    df = read_metrics(tmp_path)
    assert list(df["step"]) == [1, 2] and list(df["split"]) == ["train", "train"]
    assert read_metrics(tmp_path / "empty").empty
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_figure(tmp_path: Path) -> None:
    import plotly.graph_objects as go

    out = save_figure(tmp_path, go.Figure(go.Scatter(y=[1, 3, 2])), "curve")
    assert out == tmp_path / "figures" / "curve.html"
    html = out.read_text()
    assert 'src="plotly.min.js"' in html and len(html) < 100_000
    assert (tmp_path / "figures" / "plotly.min.js").is_file()


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_parsing_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert runs._parse_value("3") == 3
    assert runs._parse_value("0.5") == 0.5
    assert runs._parse_value("true") is True
    assert runs._parse_value("[1, 2]") == [1, 2]
    assert runs._parse_value("hello") == "hello"
    assert runs._parse_value("NaN") == "NaN"

    assert runs.main(["list", "--runs-dir", str(tmp_path / "none")]) == 0
    assert "no runs recorded" in capsys.readouterr().out
    assert list(list_runs(tmp_path / "none").columns) == list(RUN_COLUMNS)

    assert runs.main(["execute", str(tmp_path / "absent.ipynb"), "--runs-dir", str(tmp_path)]) == 2
    nb = write_nb(tmp_path / "p.ipynb", [PARAMS_SRC])
    assert runs.main(["execute", str(nb), "-p", "bogus", "1", "--runs-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "absent.ipynb" in err and "bogus" in err
    assert runs.main(["pipeline", str(tmp_path / "absent.ipynb"), "--runs-dir", str(tmp_path / "r")]) == 1
    assert "FAILED" in capsys.readouterr().out
