"""Scaling studies: data x model sweeps of M0 (:mod:`.sweep`) and scaling-law fits with bootstrap intervals
(:mod:`.fits`), with tables and figures of the results (:mod:`.report`). The fits need only numpy and scipy;
the sweep names load torch and the report names plotly on first use.

Command line: ``python -m motionbook_lib.scaling run ...`` and ``python -m motionbook_lib.scaling fit ...``.
"""

from typing import Any

from motionbook_lib.scaling.fits import (
    ComputeOptimum,
    JointLawFit,
    LossGrid,
    PowerLawFit,
    SweepFits,
    bootstrap,
    compute_optimal,
    fit_joint_law,
    fit_power_law,
    fit_sweep,
    loss_grid,
)

_SWEEP_NAMES = ("RESULT_COLUMNS", "SweepConfig", "cell_dir", "non_embedding_params", "read_results", "run_sweep")
_REPORT_NAMES = ("curves_figure", "iso_loss_figure", "metric_table", "optimum_table", "parameter_table")

__all__ = [
    "ComputeOptimum",
    "JointLawFit",
    "LossGrid",
    "PowerLawFit",
    "SweepFits",
    "bootstrap",
    "compute_optimal",
    "fit_joint_law",
    "fit_power_law",
    "fit_sweep",
    "loss_grid",
    *_SWEEP_NAMES,
    *_REPORT_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _SWEEP_NAMES:
        from motionbook_lib.scaling import sweep

        return getattr(sweep, name)
    if name in _REPORT_NAMES:
        from motionbook_lib.scaling import report

        return getattr(report, name)
    raise AttributeError(f"module 'motionbook_lib.scaling' has no attribute {name!r}")
