"""Command line: ``python -m motionbook_lib.scaling {run,fit} ...``.

Every field of :class:`motionbook_lib.scaling.sweep.SweepConfig` is an option of ``run`` (``--tokenizer-steps 400``,
``--batch-size 8``, ``--generation-metrics/--no-generation-metrics``...). ``--steps N`` alone switches the steps policy
to ``fixed``. The exact command line and the git commit are recorded in the sweep folder's ``sweep.json``.

Examples::

    python -m motionbook_lib.scaling run --out results/sweep-cpu --data-sizes 250 500 1000 --models tiny small
    python -m motionbook_lib.scaling run --out results/sweep-fixed --data-sizes 250 500 --models tiny --steps 300
    python -m motionbook_lib.scaling fit --results results/sweep-cpu/results.csv --budget 1e15
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any


def _sweep_options(parser: argparse.ArgumentParser) -> None:
    from motionbook_lib.scaling.sweep import SweepConfig

    group = parser.add_argument_group("sweep settings (SweepConfig)")
    for f in fields(SweepConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        if isinstance(default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"(default: {default})")  # fmt: skip
        elif isinstance(default, tuple):
            kind = int if f.name == "data_sizes" else str
            group.add_argument(flag, dest=f.name, type=kind, nargs="+", default=None,
                               help=f"(default: {' '.join(map(str, default))})")  # fmt: skip
        else:
            extra: dict[str, Any] = {"choices": ("epochs", "fixed")} if f.name == "steps_policy" else {}
            group.add_argument(flag, dest=f.name, type=type(default), default=None, help=f"(default: {default!r})",
                               **extra)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motionbook_lib.scaling", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run or resume a data x model sweep")
    run.add_argument("--out", required=True, type=Path, help="sweep folder (resumed when it exists)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    _sweep_options(run)

    fit = sub.add_parser("fit", help="fit scaling laws to a sweep's results table")
    fit.add_argument("--results", required=True, type=Path, help="results.csv / results.parquet or the sweep folder")
    fit.add_argument("--metric", default="val_loss", help="column to fit (default val_loss; R@1 and FID are "
                     "fitted too when present)")  # fmt: skip
    fit.add_argument("--data-column", default="data_size", choices=("data_size", "train_tokens"))
    fit.add_argument("--offset", action="store_true", help="per-model laws with an offset: c + a * D^b")
    fit.add_argument("--n-boot", type=int, default=200, help="bootstrap resamples (default 200)")
    fit.add_argument("--huber-delta", type=float, default=1e-3)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--budget", type=float, nargs="*", default=[],
                     help="compute budgets in FLOPs (6 N D_tokens) for the loss-optimal N, D")  # fmt: skip
    fit.add_argument("--tokens-per-sample", type=float, default=None,
                     help="training tokens per unit of the data axis (default: the table's median of "
                          "epochs * tokens_per_motion for data_size, 1 for train_tokens)")  # fmt: skip
    return parser


def _cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from motionbook_lib.scaling.sweep import SweepConfig, run_sweep

    values = {f.name: getattr(args, f.name) for f in fields(SweepConfig) if getattr(args, f.name, None) is not None}
    if "steps" in values and "steps_policy" not in values:
        values["steps_policy"] = "fixed"
    config = SweepConfig(**values)
    command = shlex.join(["python", "-m", "motionbook_lib.scaling", *argv])
    table = run_sweep(args.out, config, progress=not args.no_progress, command=command)
    cols = ["data_size", "model_size", "n_params", "steps", "val_loss", "val_motion_loss", "R@1", "FID", "wall_s",
            "status"]  # fmt: skip
    print(table[cols].to_string(index=False))
    failed = table[table["status"] != "ok"]
    for _, row in failed.iterrows():
        print(f"failed: {row['run_dir']}: {row['error']}", file=sys.stderr)
    return 1 if len(failed) else 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import numpy as np

    from motionbook_lib.scaling.fits import compute_optimal, fit_sweep
    from motionbook_lib.scaling.sweep import read_results

    table = read_results(args.results)
    ok = table[table["status"] == "ok"]
    if ok.empty:
        print(f"{args.results}: no finished cells to fit", file=sys.stderr)
        return 1
    print(f"{len(ok)} finished cells of {len(table)} in {args.results}")
    metrics = [args.metric] + [m for m in ("R@1", "FID") if m != args.metric and np.isfinite(ok[m]).any()]
    for metric in metrics:
        fits = fit_sweep(table, metric, offset=args.offset, data_column=args.data_column, n_boot=args.n_boot,
                         huber_delta=args.huber_delta, seed=args.seed)  # fmt: skip
        print(fits.summary())
        if fits.joint is None or not args.budget:
            continue
        k = args.tokens_per_sample
        if k is None:
            k = 1.0 if args.data_column == "train_tokens" else float(np.median(ok["epochs"] * ok["tokens_per_motion"]))
        print(f"compute-optimal allocation (C = 6 N D_tokens, {k:.1f} training tokens per unit of {args.data_column}):")
        for budget in args.budget:
            opt = compute_optimal(fits.joint, budget, tokens_per_sample=k)

            def ci(name: str, opt=opt) -> str:
                iv = getattr(opt, f"{name}_interval")
                return f" [{iv[0]:.3g}, {iv[1]:.3g}]" if iv else ""

            print(f"  C = {budget:.3g}: N* = {opt.N:.3g}{ci('N')}, {args.data_column}* = {opt.D:.3g}{ci('D')}, "
                  f"tokens = {opt.D_tokens:.3g}, {metric} = {opt.loss:.4f}{ci('loss')}")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _cmd_run(args, argv)
    return _cmd_fit(args)


if __name__ == "__main__":
    sys.exit(main())
