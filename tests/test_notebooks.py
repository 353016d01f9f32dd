"""Every committed notebook is clean, and every numbered notebook runs with its defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from motionbook_lib.runs import execute_notebook, notebook_hygiene

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
ALL_NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NUMBERED = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def _params(paths: list[Path]) -> list:
    # An empty parameter set would make pytest *skip*; the project must ship notebooks, so a
    # sentinel makes the test fail instead.
    if not paths:
        return [pytest.param(None, id="no-notebooks")]
    return [pytest.param(p, id=p.name) for p in paths]


def _require(notebook: Path | None, pattern: str) -> Path:
    if notebook is None:
        pytest.fail(f"no notebooks matching {pattern} in {NOTEBOOK_DIR}; the project must have notebooks")
    return notebook


@pytest.mark.parametrize("notebook", _params(ALL_NOTEBOOKS))
def test_notebook_hygiene(notebook: Path | None) -> None:
    nb = _require(notebook, "*.ipynb")
    assert notebook_hygiene(nb) == []


@pytest.mark.slow
@pytest.mark.parametrize("notebook", _params(NUMBERED))
def test_numbered_notebook_runs_with_defaults(notebook: Path | None, tmp_path: Path) -> None:
    nb = _require(notebook, "[0-9][0-9]_*.ipynb")
    record = execute_notebook(nb, runs_dir=tmp_path / "runs", progress_bar=False)
    assert record.status == "ok", record.error
    assert record.output_notebook.is_file()
