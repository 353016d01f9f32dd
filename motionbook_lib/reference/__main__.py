"""``python -m motionbook_lib.reference train --out runs/reference --scale cpu``: the resumable reference run."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from motionbook_lib.reference.recipe import SCALES, run_reference, scaled


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motionbook_lib.reference", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="run (or resume) every step of the recipe")
    train.add_argument("--out", type=Path, default=Path("runs/reference"), help="run folder (default runs/reference)")
    train.add_argument("--scale", choices=sorted(SCALES), default="cpu",
                       help="smoke: a minute; cpu: about 2.5 h on 2 cores; gpu: the bigger run for an accelerator")
    train.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                       help="override fields of the scale, e.g. --set n_motions=2000 stage1_steps=800")
    train.add_argument("--no-progress", action="store_true")
    export = sub.add_parser("export", help="copy a finished run's models, results and card into models/reference")
    export.add_argument("--run", type=Path, default=Path("runs/reference"), help="the run folder")
    export.add_argument("--out", type=Path, default=None, help="destination (default: the project's models/reference)")
    card = sub.add_parser("card", help="write MODEL_CARD.md of a run from its results.json")
    card.add_argument("--run", type=Path, default=Path("runs/reference"), help="the run folder")
    return parser


def _overrides(items: Sequence[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE")
        out[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "export":
        from motionbook_lib.reference.models import export_models

        try:
            print(f"exported: {export_models(args.run, args.out)}")
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "card":
        from motionbook_lib.reference.card import write_card

        try:
            print(f"written: {write_card(args.run)}")
        except FileNotFoundError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    try:
        config = scaled(args.scale, **_overrides(args.set))
        command = "python -m motionbook_lib.reference " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        summary = run_reference(args.out, config, scale=args.scale, command=command, progress=not args.no_progress)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from motionbook_lib.reference.card import write_card

    print(f"results: {args.out / 'results.json'} ({len(summary['results'])} evaluations); card: {write_card(args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
