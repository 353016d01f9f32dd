"""Tables and figures of a sweep (motionbook_lib.scaling.report) on tables drawn from a known law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motionbook_lib.paths import in_project, project_root
from motionbook_lib.scaling import (
    compute_optimal,
    curves_figure,
    fit_sweep,
    iso_loss_figure,
    metric_table,
    optimum_table,
    parameter_table,
)

MODELS = (("tiny", 1e5), ("mini", 8e5), ("small", 4.7e6))
DATA = (250, 500, 1000, 2000, 4000)


def law_table(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Cells of L = 1.5 + 40 / N^0.3 + 30 / D^0.4 and FID = 5 D^-0.5 (listed largest model first)."""
    rng = np.random.default_rng(seed)
    rows = []
    for model, N in reversed(MODELS):
        for D in DATA:
            L = (1.5 + 40 / N**0.3 + 30 / D**0.4) * np.exp(noise * rng.normal())
            rows.append({"data_size": D, "model_size": model, "n_params": N, "val_loss": L, "val_motion_loss": L,
                         "R@1": 0.9 - 2.0 * D**-0.35, "FID": 5 * D**-0.5, "status": "ok", "error": ""})  # fmt: skip
    rows.append({**rows[0], "data_size": 8000, "val_loss": np.nan, "status": "failed", "error": "boom"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fits():
    return fit_sweep(law_table(noise=0.01), "val_loss", n_boot=60, seed=0)


def test_metric_table_layout() -> None:
    table = law_table()
    wide = metric_table(table)
    assert list(wide.index) == list(DATA)  # the failed 8000 cell is left out
    assert list(wide.columns.get_level_values(0).unique()) == ["val_loss", "R@1", "FID"]
    assert list(wide["val_loss"].columns) == ["tiny", "mini", "small"]  # smallest model first
    cell = table[(table["model_size"] == "mini") & (table["data_size"] == 1000)].iloc[0]
    assert wide.loc[1000, ("val_loss", "mini")] == pytest.approx(cell["val_loss"])
    assert "FID" not in metric_table(table.assign(FID=np.nan)).columns.get_level_values(0)
    with pytest.raises(ValueError, match="none of the metrics"):
        metric_table(table, metrics=("nope",))


def test_parameter_table_holds_fitted_values_and_intervals(fits) -> None:
    params = parameter_table(fits)
    joint = params[params["fit"] == "joint L(N, D)"].set_index("parameter")
    assert list(joint.index) == ["E", "A", "B", "alpha", "beta"]
    assert joint.loc["beta", "value"] == pytest.approx(fits.joint.beta)
    assert (joint["low"] <= joint["value"]).all() and (joint["value"] <= joint["high"]).all()
    assert joint.loc["alpha", "low"] < 0.3 < joint.loc["alpha", "high"]
    assert joint.loc["beta", "low"] < 0.4 < joint.loc["beta", "high"]
    per_model = params[params["fit"] == "tiny: vs data size"]
    assert list(per_model["parameter"]) == ["a", "b"]  # no offset -> no c row
    assert per_model.set_index("parameter").loc["b", "value"] < 0


def test_curves_figure_traces(fits) -> None:
    table = law_table(noise=0.01)
    fig = curves_figure(table, fits)
    names = [t.name for t in fig.data if t.name]
    assert names[0].startswith("tiny") and any(n.startswith("small fit: b =") for n in names)
    points = [t for t in fig.data if t.mode == "markers"]
    assert [len(t.x) for t in points] == [5, 5, 5]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 3
    line = next(t for t in fig.data if t.name and t.name.startswith("tiny fit"))
    assert np.allclose(line.y, fits.by_model["tiny"].predict(np.asarray(line.x)))
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_iso_loss_figure_and_optimum_table(fits) -> None:
    table = law_table(noise=0.01)
    budgets = [1e12, 1e14]
    fig = iso_loss_figure(table, fits.joint, budgets, tokens_per_sample=200.0)
    contour = fig.data[0]
    assert contour.type == "contour"
    assert np.allclose(np.asarray(contour.z), np.log10(fits.joint.predict(np.asarray(contour.x)[None, :],
                                                                           np.asarray(contour.y)[:, None])))
    stars = [t for t in fig.data if t.name and t.name.startswith("optimum")]
    o = compute_optimal(fits.joint, 1e14, tokens_per_sample=200.0)
    assert stars[1].x[0] == pytest.approx(o.N) and stars[1].y[0] == pytest.approx(o.D)
    opt = optimum_table(fits.joint, budgets, tokens_per_sample=200.0)
    assert list(opt["budget (FLOPs)"]) == budgets
    assert opt.loc[1, "N*"] == pytest.approx(o.N)
    assert (opt["N* low"] <= opt["N*"]).all() and (opt["N*"] <= opt["N* high"]).all()
    assert opt.loc[1, "loss"] < opt.loc[0, "loss"]  # more compute, lower loss


def test_project_paths(tmp_path, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert project_root() == tmp_path.resolve()
    assert in_project("results/a.csv") == tmp_path.resolve() / "results" / "a.csv"
    assert in_project(tmp_path / "b") == tmp_path / "b"
    lone = tmp_path.parent / f"{tmp_path.name}-lone"
    lone.mkdir()
    assert project_root(lone) == lone.resolve()
