"""Notebook parameters of the wrong type are refused before any cell runs, naming the parameter (issue 24)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from motionbook_lib import runs
from motionbook_lib.runs import execute_notebook, parameter_types

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PARAMS = """a = 1  # an int
b = 2.0
c = "text"
d = None  # anything
e: float = 1
f = [1, 2]
g = -1
h = len("abc")  # an expression: not checked
flag = True
run_dir = None"""


def _notebook(path: Path) -> Path:
    nb = new_notebook()
    cell = new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells += [cell, new_code_cell("raise RuntimeError('the notebook ran')")]
    nbformat.write(nb, str(path))
    return path


def test_parameter_types_read_from_the_parameters_cell(tmp_path: Path) -> None:
    types = {k: t for k, (t, _) in parameter_types(_notebook(tmp_path / "p.ipynb")).items()}
    assert types == {"a": int, "b": float, "c": str, "e": float, "f": list, "g": int, "flag": bool}


@pytest.mark.parametrize(
    ("name", "value", "want"),
    [("a", "abc", "an integer"), ("a", 1.5, "an integer"), ("a", True, "an integer"), ("b", "x", "a number"),
     ("b", False, "a number"), ("c", 3, "a string"), ("f", "x", "a list"), ("flag", 1, "true or false")],
)  # fmt: skip
def test_wrong_type_is_refused_before_running(tmp_path: Path, name: str, value, want: str) -> None:
    nb = _notebook(tmp_path / "p.ipynb")
    with pytest.raises(ValueError, match=rf"parameter '{name}' of .*p\.ipynb must be {want} \(its default"):
        execute_notebook(nb, {name: value}, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing ran, nothing was recorded


def test_matching_types_pass(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "p.ipynb")
    ok = {"a": 2, "b": 3, "c": "", "d": [1], "e": 0.5, "f": [], "g": 4, "h": "anything", "flag": False}
    assert runs._validate_parameters(nb, ok) == ok


def test_cli_names_the_parameter_of_a_real_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = NOTEBOOKS / "00_quickstart.ipynb"
    assert runs.main(["execute", str(nb), "-p", "motion_index", "abc", "--runs-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "parameter 'motion_index'" in err and "must be an integer" in err and "got str 'abc'" in err
    assert not (tmp_path / "r").exists()
    # text parameters keep the text as given, even when it reads as JSON
    assert runs._cli_parameters(NOTEBOOKS / "07_motion_preview.ipynb", [["query", "123"], ["max_seconds", "4"]]) == {
        "query": "123", "max_seconds": 4}  # fmt: skip


def test_every_numbered_notebook_accepts_its_own_defaults() -> None:
    """The defaults themselves pass the check (a literal default is its own type)."""
    for nb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        defaults = {k: d for k, (_, d) in parameter_types(nb).items()}
        assert defaults, nb
        assert runs._validate_parameters(nb, defaults) == defaults
