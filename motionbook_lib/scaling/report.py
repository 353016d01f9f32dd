"""Tables and plotly figures of a scaling sweep: metric-by-cell tables, log-log curves with bootstrap bands,
iso-loss contours with the compute-optimal frontier, and compute-optimal allocations with intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from motionbook_lib.scaling.fits import JointLawFit, PowerLawFit, SweepFits, compute_optimal, loss_grid

__all__ = ["curves_figure", "iso_loss_figure", "metric_table", "optimum_table", "parameter_table"]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"] if "status" in table.columns else table


def _model_order(table: pd.DataFrame) -> list[str]:
    """Model sizes from smallest to largest (by non-embedding parameters)."""
    sizes = _ok(table).groupby("model_size")["n_params"].first().sort_values()
    return [str(m) for m in sizes.index]


def metric_table(table: pd.DataFrame, metrics: Sequence[str] = ("val_loss", "R@1", "FID")) -> pd.DataFrame:
    """Paper-style table: one row per data size, one column per (metric, model) of the finished cells."""
    ok = _ok(table)
    present = [m for m in metrics if m in ok.columns and ok[m].notna().any()]
    if not present:
        raise ValueError(f"the table has none of the metrics {list(metrics)} with values")
    wide = ok.pivot_table(index="data_size", columns="model_size", values=present, aggfunc="first")
    order = _model_order(table)
    wide = wide.reindex(columns=pd.MultiIndex.from_product([present, order]))
    wide.index.name = "training motions"
    return wide.dropna(axis=1, how="all")


def parameter_table(fits: SweepFits) -> pd.DataFrame:
    """Every fitted parameter of ``fits`` with its bootstrap interval (NaN where the fit has no bootstrap)."""
    rows = []
    named: list[tuple[str, JointLawFit | PowerLawFit]] = []
    if fits.joint is not None:
        named.append(("joint L(N, D)", fits.joint))
    named += [(f"{model}: vs data size", fit) for model, fit in fits.by_model.items()]
    for name, fit in named:
        ci = fit.intervals() if fit.boot is not None and len(fit.boot) else {}
        for p, v in fit.params.items():
            if isinstance(fit, PowerLawFit) and p == "c" and not fit.offset:
                continue
            lo, hi = ci.get(p, (np.nan, np.nan))
            rows.append({"fit": name, "parameter": p, "value": v, "low": lo, "high": hi})
    return pd.DataFrame(rows, columns=["fit", "parameter", "value", "low", "high"])


def curves_figure(
    table: pd.DataFrame, fits: SweepFits, *, title: str | None = None, extend: float = 2.0, points: int = 60
) -> go.Figure:
    """Log-log ``metric`` against data size per model: the cells, the fitted power law and its bootstrap band.

    ``extend`` widens the plotted data range on the right (extrapolation is shown dashed).
    """
    ok = _ok(table)
    metric = fits.metric
    fig = go.Figure()
    for k, model in enumerate(_model_order(table)):
        color = _PALETTE[k % len(_PALETTE)]
        cells = ok[(ok["model_size"] == model) & ok[metric].notna()].sort_values("data_size")
        if cells.empty:
            continue
        n = int(cells["n_params"].iloc[0])
        fig.add_trace(go.Scatter(x=cells["data_size"], y=cells[metric], mode="markers", name=f"{model} ({n:.1e})",
                                 marker=dict(color=color, size=9), legendgroup=model))  # fmt: skip
        fit = fits.by_model.get(model)
        if fit is None:
            continue
        lo_x, hi_x = float(fit.x.min()), float(fit.x.max())
        x_in = np.geomspace(lo_x, hi_x, points)
        x_out = np.geomspace(hi_x, hi_x * extend, max(2, points // 3))
        x_all = np.concatenate([x_in, x_out[1:]])
        if fit.boot is not None and len(fit.boot):
            lo, hi = fit.prediction_band(x_all)
            fig.add_trace(go.Scatter(x=np.concatenate([x_all, x_all[::-1]]), y=np.concatenate([hi, lo[::-1]]),
                                     fill="toself", fillcolor=color, opacity=0.15, line=dict(width=0),
                                     hoverinfo="skip", showlegend=False, legendgroup=model))  # fmt: skip
        label = f"{model} fit: b = {fit.b:.3f}"
        fig.add_trace(go.Scatter(x=x_in, y=fit.predict(x_in), mode="lines", name=label,
                                 line=dict(color=color), legendgroup=model))  # fmt: skip
        fig.add_trace(go.Scatter(x=x_out, y=fit.predict(x_out), mode="lines", showlegend=False,
                                 line=dict(color=color, dash="dash"), legendgroup=model))  # fmt: skip
    fig.update_xaxes(type="log", title="training motions (D)")
    fig.update_yaxes(type="log", title=metric)
    fig.update_layout(title=title or f"{metric} against data size (95% bootstrap bands; dashed: extrapolation)",
                      template="plotly_white")  # fmt: skip
    return fig


def iso_loss_figure(
    table: pd.DataFrame,
    joint: JointLawFit,
    budgets: Sequence[float] = (),
    *,
    tokens_per_sample: float = 1.0,
    margin: float = 4.0,
    points: int = 80,
) -> go.Figure:
    """Iso-loss contours of the joint law over (N, D), the sweep's cells, and the compute-optimal points.

    ``budgets`` are FLOPs (``C = 6 N D tokens_per_sample``); each gets its iso-FLOP line and its optimum.
    """
    N_range = (float(joint.N.min()) / margin, float(joint.N.max()) * margin)
    D_range = (float(joint.D.min()) / margin, float(joint.D.max()) * margin)
    optima = [compute_optimal(joint, C, tokens_per_sample=tokens_per_sample) for C in budgets]
    for o in optima:  # keep the optima in view
        N_range = (min(N_range[0], o.N / 2), max(N_range[1], o.N * 2))
        D_range = (min(D_range[0], o.D / 2), max(D_range[1], o.D * 2))
    grid = loss_grid(joint, N_range, D_range, points)
    fig = go.Figure()
    fig.add_trace(go.Contour(x=grid.N, y=grid.D, z=np.log10(grid.L), colorscale="Viridis", name="log10 L",
                             contours=dict(showlabels=True, labelfont=dict(color="white")),
                             colorbar=dict(title="log10 L"),
                             hovertemplate="N %{x:.3g}<br>D %{y:.3g}<extra></extra>"))  # fmt: skip
    ok = _ok(table)
    fig.add_trace(go.Scatter(x=ok["n_params"], y=ok["data_size"], mode="markers", name="sweep cells",
                             marker=dict(color="white", size=9, line=dict(color="black", width=1)),
                             text=[f"{m}, D={d}: L={v:.3f}" for m, d, v in
                                   zip(ok["model_size"], ok["data_size"], ok[joint_metric(table, joint)], strict=True)],
                             hoverinfo="text"))  # fmt: skip
    for C, o in zip(budgets, optima, strict=True):
        Ns = np.geomspace(*N_range, 50)
        Ds = C / (6.0 * tokens_per_sample * Ns)
        keep = (Ds >= D_range[0]) & (Ds <= D_range[1])
        fig.add_trace(go.Scatter(x=Ns[keep], y=Ds[keep], mode="lines", line=dict(color="white", dash="dot"),
                                 name=f"C = {C:.0e} FLOPs", showlegend=False))  # fmt: skip
        fig.add_trace(go.Scatter(x=[o.N], y=[o.D], mode="markers", marker=dict(symbol="star", size=14, color="red"),
                                 name=f"optimum at C = {C:.0e}"))  # fmt: skip
    fig.update_xaxes(type="log", title="non-embedding parameters (N)")
    fig.update_yaxes(type="log", title="training motions (D)")
    fig.update_layout(title="iso-loss contours of L(N, D) = E + A/N^alpha + B/D^beta", template="plotly_white")
    return fig


def joint_metric(table: pd.DataFrame, joint: JointLawFit) -> str:
    """The table column the joint law was fitted to (the loss column whose values match ``joint.L``)."""
    ok = _ok(table)
    for col in ("val_loss", "val_motion_loss"):
        if col in ok.columns and np.isin(joint.L, ok[col].to_numpy(dtype=np.float64)).all():
            return col
    return "val_loss"


def optimum_table(joint: JointLawFit, budgets: Sequence[float], *, tokens_per_sample: float = 1.0) -> pd.DataFrame:
    """Compute-optimal N*, D* and the predicted loss for each FLOP budget, with 95% bootstrap intervals."""
    rows = []
    for C in budgets:
        o = compute_optimal(joint, C, tokens_per_sample=tokens_per_sample)
        row = {"budget (FLOPs)": C}
        for name, value, ci in (("N*", o.N, o.N_interval), ("D* (motions)", o.D, o.D_interval),
                                ("loss", o.loss, o.loss_interval)):  # fmt: skip
            lo, hi = ci if ci is not None else (np.nan, np.nan)
            row.update({name: value, f"{name} low": lo, f"{name} high": hi})
        rows.append(row)
    return pd.DataFrame(rows)
