"""Command line: ``python -m motionbook_lib.tokenizer {train,eval} ...``.

Every field of :class:`TokenizerConfig` and :class:`TrainConfig` is an option (``--codebook-bits 14``,
``--batch-size 64``, ``--kmeans-init/--no-kmeans-init``...). Several GPUs:
``accelerate launch -m motionbook_lib.tokenizer train ...`` (same options).

Examples::

    python -m motionbook_lib.tokenizer train --store data/synthetic-300-seed0 --out runs/tok-lfq2d --steps 2000
    python -m motionbook_lib.tokenizer train --store "" --out runs/tok-vq --steps 2000 --quantizer vq
    python -m motionbook_lib.tokenizer eval --model runs/tok-lfq2d/final --store data/synthetic-300-seed0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from motionbook_lib.tokenizer.config import QUANTIZERS, TokenizerConfig, TrainConfig


def _add_dataclass_options(parser: argparse.ArgumentParser, cls: type, title: str) -> None:
    group = parser.add_argument_group(title)
    for f in fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        if isinstance(default, bool):
            group.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=f"(default: {default})"
            )
        elif isinstance(default, tuple):
            group.add_argument(
                flag,
                dest=f.name,
                type=type(default[0]),
                nargs=len(default),
                default=None,
                help=f"(default: {' '.join(map(str, default))})",
            )
        else:
            kind = int if f.name == "codebook_bits" else type(default)
            extra: dict[str, Any] = {"choices": QUANTIZERS} if f.name == "quantizer" else {}
            group.add_argument(flag, dest=f.name, type=kind, default=None, help=f"(default: {default})", **extra)


def _collect(args: argparse.Namespace, cls: type) -> Any:
    values = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
    return cls(**values)


def _store(path: str, n_builtin: int, seed: int) -> Any:
    from motionbook_lib.data.store import open_or_build_store

    return open_or_build_store(path or None, n=n_builtin, seed=seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motionbook_lib.tokenizer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train or resume a tokenizer")
    tr.add_argument("--store", required=True, help="motion store folder; empty string = the built-in corpus")
    tr.add_argument("--n-builtin", type=int, default=300, help="size of the built-in corpus (default 300)")
    tr.add_argument("--corpus-seed", type=int, default=0, help="seed of the built-in corpus (default 0)")
    tr.add_argument("--out", required=True, type=Path, help="training folder (resumed if it holds a checkpoint)")
    tr.add_argument("--steps", required=True, type=int, help="total optimizer steps")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_dataclass_options(tr, TokenizerConfig, "tokenizer")
    _add_dataclass_options(tr, TrainConfig, "training")

    ev = sub.add_parser("eval", help="evaluate a trained tokenizer on a split of a store")
    ev.add_argument("--model", required=True, type=Path, help="folder written by save_pretrained (e.g. out/final)")
    ev.add_argument("--store", required=True, help="motion store folder; empty string = the built-in corpus")
    ev.add_argument("--n-builtin", type=int, default=300)
    ev.add_argument("--corpus-seed", type=int, default=0)
    ev.add_argument("--split", default="test")
    ev.add_argument("--window", type=int, default=64)
    ev.add_argument("--batch-size", type=int, default=32)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from motionbook_lib.tokenizer.modeling_tokenizer import MotionTokenizer
    from motionbook_lib.tokenizer.train import evaluate_tokenizer, train_tokenizer

    try:
        store = _store(args.store, args.n_builtin, args.corpus_seed)
        if args.command == "train":
            config, train = _collect(args, TokenizerConfig), _collect(args, TrainConfig)
            result = train_tokenizer(config, store, args.out, args.steps, train, progress=not args.no_progress)
            print(
                json.dumps(
                    {
                        "model_dir": str(result.model_dir),
                        "step": result.step,
                        "resumed_from": result.resumed_from,
                        **result.metrics,
                    },
                    indent=2,
                )
            )
        else:
            model = MotionTokenizer.from_pretrained(args.model)
            print(json.dumps(evaluate_tokenizer(model, store, args.split, args.window, args.batch_size), indent=2))
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
