"""Command line: ``python -m motionbook_lib.eval {train,table} ...``.

Train an evaluator on a store (resumable: run the same command again to continue), then build the
text-to-motion table with it::

    python -m motionbook_lib.eval train --store data/humanml3d --out runs/evaluator --steps 4000
    python -m motionbook_lib.eval train --store data/humanml3d --out runs/evaluator-scratch --text-encoder scratch
    python -m motionbook_lib.eval table --store data/humanml3d --evaluator runs/evaluator \\
        --tokenizer runs/tok --m0 runs/m0-s2 --out table.md

Every field of ``EvaluatorConfig`` and ``EvaluatorTrainConfig`` is a ``train`` option (``--embed-dim 256``,
``--batch-size 64``...). Model folders may be given as the training folder or its ``final/`` subfolder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

_N_BUILTIN = 300


def _add_dataclass_options(parser: argparse.ArgumentParser, cls: type, title: str, skip: set[str]) -> None:
    """One ``--field-name`` option per dataclass field with a simple default (None = keep the default)."""
    group = parser.add_argument_group(title)
    for f in fields(cls):
        if f.name in skip or f.name.startswith("_"):
            continue
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"(default: {default})")  # fmt: skip
        elif isinstance(default, int | float | str):
            group.add_argument(flag, dest=f.name, type=type(default), default=None, help=f"(default: {default})")
        elif isinstance(default, tuple) and default and isinstance(default[0], int | float | str):
            group.add_argument(flag, dest=f.name, type=type(default[0]), nargs=len(default), default=None,
                               help=f"(default: {' '.join(map(str, default))})")  # fmt: skip
        # fields without a simple default (None, factories) stay at their defaults


def _collect(args: argparse.Namespace, cls: type) -> Any:
    values = {}
    for f in fields(cls):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**values)


def _open_store(path: str, n_builtin: int, seed: int) -> Any:
    from motionbook_lib.data.store import open_or_build_store

    if path and not Path(path).is_dir():
        raise FileNotFoundError(f"store folder not found: {path}")
    return open_or_build_store(path or None, n=n_builtin, seed=seed)


def _existing_folder(path: Path | None, what: str) -> None:
    if path is None:
        return
    if not path.exists():
        raise FileNotFoundError(f"{what} folder not found: {path}")
    if not path.is_dir():
        raise NotADirectoryError(f"{what} path is not a folder: {path}")


def build_parser() -> argparse.ArgumentParser:
    from motionbook_lib.eval.evaluator import EvaluatorConfig, EvaluatorTrainConfig

    parser = argparse.ArgumentParser(prog="python -m motionbook_lib.eval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train (or resume) a text-motion evaluator on a store's train split")
    tr.add_argument("--store", required=True, help="motion store folder; empty string = the built-in corpus")
    tr.add_argument("--n-builtin", type=int, default=_N_BUILTIN, help=f"built-in corpus size (default {_N_BUILTIN})")
    tr.add_argument("--corpus-seed", type=int, default=0, help="seed of the built-in corpus (default 0)")
    tr.add_argument("--out", required=True, type=Path, help="training folder (resumed if it holds a checkpoint)")
    tr.add_argument("--steps", type=int, default=2000, help="total optimizer steps (default 2000)")
    tr.add_argument(
        "--text-encoder",
        default=None,
        help="minilm (pretrained all-MiniLM-L6-v2, default), scratch, or a local sentence-encoder folder",
    )
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_dataclass_options(tr, EvaluatorConfig, "evaluator", skip={"text_encoder"})
    _add_dataclass_options(tr, EvaluatorTrainConfig, "training", skip=set())

    tb = sub.add_parser("table", help="print the text-to-motion table (mean ± 95%% interval)")
    tb.add_argument("--store", required=True, help="motion store folder; empty string = the built-in corpus")
    tb.add_argument("--n-builtin", type=int, default=_N_BUILTIN)
    tb.add_argument("--corpus-seed", type=int, default=0)
    tb.add_argument("--evaluator", required=True, type=Path, help="evaluator folder (training folder or its final/)")
    tb.add_argument("--tokenizer", type=Path, default=None, help="motion tokenizer folder: adds the reconstruction row")
    tb.add_argument("--m0", type=Path, default=None, help="M0 folder (train_m0's final/ or its training folder)")
    tb.add_argument("--split", default="test", help="test (default), val, train, all, or joined: test+val")
    tb.add_argument("--repeats", type=int, default=20, help="protocol repeats (default 20)")
    tb.add_argument("--seed", type=int, default=0, help="seed of sampling, batches and baselines (default 0)")
    tb.add_argument("--batch-size", type=int, default=32, help="R-precision batch (default 32, the protocol's)")
    tb.add_argument("--mm-captions", type=int, default=100,
                    help="captions drawn at random for MultiModality (default 100, the protocol's)")
    tb.add_argument("--mm-generations", type=int, default=30,
                    help="M0 generations per such caption (default 30, the protocol's)")
    tb.add_argument("--reduced-mm", action="store_true",
                    help="MultiModality on 10 captions x 3 generations (labelled 'reduced protocol' in the table)")
    tb.add_argument("--max-motions", type=int, default=None, help="evaluate a random subset of this many motions")
    tb.add_argument("--no-retrieval", action="store_true", help="leave out the nearest-caption baseline")
    tb.add_argument("--no-random", action="store_true", help="leave out the random-motions row")
    tb.add_argument("--no-noise", action="store_true", help="leave out the noise row")
    tb.add_argument("--out", type=Path, default=None, help="also write the table: .md, .csv or .json")
    tb.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _cmd_train(args: argparse.Namespace) -> int:
    from motionbook_lib.eval.evaluator import EvaluatorConfig, EvaluatorTrainConfig, train_evaluator

    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    store = _open_store(args.store, args.n_builtin, args.corpus_seed)
    config = _collect(args, EvaluatorConfig)
    train_config = _collect(args, EvaluatorTrainConfig)
    result = train_evaluator(config, store, args.out, args.steps, train_config, progress=not args.no_progress)
    resumed = f" (resumed from step {result.resumed_from})" if result.resumed_from else ""
    print(f"evaluator trained to step {result.step}{resumed}: {result.model_dir}")
    for key, value in sorted(result.metrics.items()):
        print(f"  {key}: {value:.4f}")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from motionbook_lib.eval.table import t2m_table

    for path, what in ((args.evaluator, "evaluator"), (args.tokenizer, "tokenizer"), (args.m0, "M0")):
        _existing_folder(path, what)
    if args.out is not None and args.out.suffix.lower() not in (".md", ".csv", ".json"):
        raise ValueError(f"--out {args.out}: use a .md, .csv or .json file name")
    store = _open_store(args.store, args.n_builtin, args.corpus_seed)
    table = t2m_table(
        store,
        args.evaluator,
        tokenizer=args.tokenizer,
        m0=args.m0,
        split=args.split,
        repeats=args.repeats,
        seed=args.seed,
        batch_size=args.batch_size,
        retrieval=not args.no_retrieval,
        random_motions=not args.no_random,
        noise=not args.no_noise,
        mm_captions=10 if args.reduced_mm else args.mm_captions,
        mm_generations=3 if args.reduced_mm else args.mm_generations,
        max_motions=args.max_motions,
        progress=not args.no_progress,
    )
    print(table.to_markdown())
    if args.out is not None:
        print(f"written: {table.save(args.out)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input: a missing folder, a bad option value)."""
    args = build_parser().parse_args(argv)
    try:
        return _cmd_train(args) if args.command == "train" else _cmd_table(args)
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
