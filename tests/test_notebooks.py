"""Every committed notebook is clean, and every numbered notebook runs with its defaults."""

from __future__ import annotations

import json
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
    # opened in JupyterLab, a notebook starts the project's kernel (`make install` registers it), not "python3"
    kernel = json.loads(nb.read_text())["metadata"]["kernelspec"]
    assert (kernel["name"], kernel["display_name"]) == ("motionbook", "motionbook (.venv)"), nb.name


@pytest.mark.slow
@pytest.mark.parametrize("notebook", _params(NUMBERED))
def test_numbered_notebook_runs_with_defaults(notebook: Path | None, tmp_path: Path) -> None:
    nb = _require(notebook, "[0-9][0-9]_*.ipynb")
    record = execute_notebook(nb, runs_dir=tmp_path / "runs", progress_bar=False)
    assert record.status == "ok", record.error
    assert record.output_notebook.is_file()
    if nb.name.startswith("06_"):
        _check_scaling_notebook_shows_the_checked_in_sweep(record)
    if nb.name.startswith("05_"):
        _check_reference_models_were_scored(record)


def _check_reference_models_were_scored(record) -> None:
    """With models/reference checked in, notebook 05 scores them (not the fallback of a checkout without them)."""
    from motionbook_lib.runs import read_metrics

    names = set(read_metrics(record.run_dir)["name"])
    assert {"reference/Real (ground truth)/R@1", "reference/M0/R@1"} <= names, sorted(names)


def _check_scaling_notebook_shows_the_checked_in_sweep(record) -> None:
    """Notebook 06's defaults analyse the checked-in sweep (its ``results_file``): its logged exponents are that
    sweep's fit, and its figures were drawn."""
    import ast

    import nbformat
    import papermill

    from motionbook_lib.runs import read_metrics
    from motionbook_lib.scaling import fit_sweep, read_results

    defaults = {k: ast.literal_eval(v["default"]) for k, v in papermill.inspect_notebook(str(record.notebook)).items()}
    table = read_results(NOTEBOOK_DIR.parent / defaults["results_file"])
    fits = fit_sweep(table, "val_loss", n_boot=defaults["n_boot"], seed=defaults["seed"])
    metrics = read_metrics(record.run_dir).groupby("name")["value"].last()
    assert metrics["alpha"] == pytest.approx(fits.joint.alpha, rel=1e-6)
    assert metrics["beta"] == pytest.approx(fits.joint.beta, rel=1e-6)
    for name in ("loss_curves", "iso_loss", "fid_curves", "r1_curves"):
        assert (record.run_dir / "figures" / f"{name}.html").is_file(), name
    cells = nbformat.read(record.output_notebook, as_version=4).cells
    text = "".join(str(o.get("text", "")) for c in cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"{len(table)} finished cells of {len(table)}" in text


@pytest.mark.slow
def test_data_exploration_notebook_runs_on_an_imported_store(tmp_path: Path) -> None:
    """Notebook 01 is parameterized by store path, so it serves imported datasets too."""
    from motionbook_lib.data.importers import HumanML3DConfig, import_motions, make_demo_humanml3d

    make_demo_humanml3d(tmp_path / "h3d", n=8)
    store = tmp_path / "h3d-store"
    import_motions("humanml3d", tmp_path / "h3d", store, HumanML3DConfig(), progress=False)
    record = execute_notebook(
        NOTEBOOK_DIR / "01_data_exploration.ipynb",
        parameters={"store_path": str(store), "speed_sample": 8},
        runs_dir=tmp_path / "runs",
        progress_bar=False,
    )
    assert record.status == "ok", record.error
    metrics = (record.run_dir / "metrics.jsonl").read_text()
    assert '"motions"' in metrics
