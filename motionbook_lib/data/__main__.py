"""Command line for motion stores: ``python -m motionbook_lib.data {build,merge,info,card} ...``.

Examples::

    python -m motionbook_lib.data build --source synthetic --n 100000 --out data/synthetic-100k
    python -m motionbook_lib.data build --source synthetic --n 1000000 --out data/p0 --part 0/4 --seed 0
    python -m motionbook_lib.data merge data/synthetic-1m data/p0 data/p1 data/p2 data/p3
    python -m motionbook_lib.data info data/synthetic-100k
    python -m motionbook_lib.data info --verify data/synthetic-100k
    python -m motionbook_lib.data card data/synthetic-1k --out data_cards/synthetic.md

Each subcommand is registered by an ``add_<name>_parser(subparsers)`` function listed in
``SUBCOMMANDS``; a new one (e.g. ``import``) only needs its own function appended there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from motionbook_lib.data.store import DEFAULT_SHARD_FRAMES, MotionStore, build_store, merge_stores


def _parse_part(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--part must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--part i/n needs 0 <= i < n, got {text!r}")
    return i, n


# ---------------------------------------------------------------------------------------------- build


def _cmd_build(args: argparse.Namespace) -> int:
    if args.source != "synthetic":
        raise ValueError(f"build generates --source synthetic only, got {args.source!r}")
    from motionbook_lib.data import synthetic  # lazy: only this subcommand needs the generator

    config = synthetic.SyntheticConfig() if args.seed is None else synthetic.SyntheticConfig(seed=args.seed)
    out = build_store(
        args.out,
        args.n,
        source=args.source,
        config=config,
        part=args.part,
        workers=args.workers,
        shard_frames=args.shard_frames,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        drop_static=args.drop_static,
    )
    _print_info(MotionStore(out, verify=False).info_summary())
    return 0


def add_build_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="generate motions into a store (resumable, can be split in parts)")
    p.add_argument("--source", default="synthetic", help="motion generator (default: synthetic)")
    p.add_argument("--n", type=int, required=True, help="number of motions of the whole store (all parts)")
    p.add_argument("--out", required=True, help="store folder")
    p.add_argument(
        "--part",
        type=_parse_part,
        default=(0, 1),
        metavar="I/N",
        help="build only the contiguous slice I of N of the indices (merge the parts afterwards)",
    )
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="generator processes (default: all cores)")
    p.add_argument("--seed", type=int, default=None, help="generator seed (default: the config's)")
    p.add_argument("--shard-frames", type=int, default=DEFAULT_SHARD_FRAMES, help="frames per shard file")
    p.add_argument("--chunk-size", type=int, default=32, help="motions per task sent to a worker")
    p.add_argument("--overwrite", action="store_true", help="delete an existing store in --out first")
    p.add_argument("--drop-static", action="store_true", help="leave out held poses (>= 90%% of frames with no "
                   "joint moving faster than 0.05 m/s); store.json records how many")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_build)


# ---------------------------------------------------------------------------------------------- merge


def _cmd_merge(args: argparse.Namespace) -> int:
    out = merge_stores(args.parts, args.out, link=not args.copy, overwrite=args.overwrite)
    _print_info(MotionStore(out, verify=False).info_summary())
    return 0


def add_merge_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="join stores (e.g. the parts of a parallel build) into one")
    p.add_argument("out", help="new store folder")
    p.add_argument("parts", nargs="+", help="stores to join")
    p.add_argument("--copy", action="store_true", help="copy shard files instead of hard-linking them")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store in OUT")
    p.set_defaults(func=_cmd_merge)


# ---------------------------------------------------------------------------------------------- info


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return f"{n} B"


def _print_info(info: dict) -> None:
    print(f"store      {info['path']}")
    print(f"format     {info['format']}, feature {info['feature']}, fps {info['fps']}")
    print(f"motions    {info['motions']:,}  frames {info['frames']:,}  ({info['hours']} h)")
    lf = info["length_frames"]
    print(f"length     min {lf['min']}  mean {lf['mean']}  max {lf['max']} frames")
    for name, s in info["splits"].items():
        share = s["motions"] / info["motions"] if info["motions"] else 0.0
        print(f"  {name:<6}   {s['motions']:>10,} motions ({share:6.1%})  {s['frames']:>13,} frames")
    b = info["bytes"]
    print(f"shards     {info['shards']} files, {_size(b['shards'])}; manifest {_size(b['manifest'])}")
    print(f"source     {info['source']}; created {info['created_at']} by {info['created_by']}")
    if info.get("build"):
        print(f"build      {json.dumps(info['build'], sort_keys=True)}")


def _cmd_info(args: argparse.Namespace) -> int:
    store = MotionStore(args.store, verify=False)
    info = store.info_summary()
    problems = store.verify_all(progress=not args.json) if args.verify else []
    if args.verify:
        info["verified"] = {"motions": len(store), "problems": problems}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_info(info)
    for line in problems[:20]:
        print(f"error: {line}", file=sys.stderr)
    if len(problems) > 20:
        print(f"error: ... and {len(problems) - 20} more", file=sys.stderr)
    if args.verify and not args.json:
        verdict = f"{len(problems)} problem(s)" if problems else "every checksum and the normalizer are sound"
        print(f"verified   {len(store):,} motions: {verdict}")
    return 1 if problems else 0


INFO_HELP = (
    "counts, splits and sizes of a store. Always checks store.json, the manifest (schema, row count, and that "
    "its offsets and frame counts tile every shard) and each shard's header and size; not the checksums nor "
    "the normalizer's contents: --verify does that"
)


def add_info_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help=INFO_HELP, description=INFO_HELP + ".")
    p.add_argument("store", help="store folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--verify",
        action="store_true",
        help="also read every motion and check its checksum, and load the normalizer; exit 1 on any problem",
    )
    p.set_defaults(func=_cmd_info)


# ---------------------------------------------------------------------------------------------- card


def _cmd_card(args: argparse.Namespace) -> int:
    from motionbook_lib.data.cards import check_card, render_card, write_card

    store = MotionStore(args.store, verify=False)
    if args.check:
        problems = check_card(store, args.check)
        for line in problems[:20]:
            print(line, file=sys.stderr)
        print(f"{args.check}: {'up to date' if not problems else f'{len(problems)} difference(s)'}")
        return 1 if problems else 0
    if args.out:
        print(f"wrote {write_card(store, args.out)}")
    else:
        print(render_card(store))
    return 0


def add_card_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card", help="write (or check) the markdown data card of a store")
    p.add_argument("store", help="store folder")
    p.add_argument("--out", help="write the card here (default: print it)")
    p.add_argument("--check", metavar="CARD", help="compare an existing card with the store; exit 1 if it differs")
    p.set_defaults(func=_cmd_card)


# ---------------------------------------------------------------------------------------------- import


def _cmd_import(args: argparse.Namespace) -> int:
    from motionbook_lib.data import importers  # lazy: only this subcommand needs them

    extra = {"min_frames": args.min_frames} if args.min_frames is not None else {}
    if args.format == "bvh":
        preset, joint_map = importers.bvh.load_joint_map(args.joint_map) if args.joint_map else ("auto", None)
        config = importers.BvhConfig(unit=args.unit, up=args.up, preset=preset, joint_map=joint_map,
                                     keep_rest_frame=args.keep_rest_frame, **extra)  # fmt: skip
    elif args.format == "amass":
        config = importers.AmassConfig(model_folder=args.model_folder, **extra)
    else:
        config = importers.HumanML3DConfig(**extra)
    report = importers.import_motions(
        args.format, args.path, args.out, config, strict=args.strict, progress=not args.no_progress,
        drop_static=args.drop_static,
    )
    c = report["counts"]
    print(f"imported {c['motions']:,} motion(s) from {c['files_imported']:,} of {c['files']:,} file(s) into {args.out}")
    reasons = ", ".join(f"{k} {v}" for k, v in c["skipped_by_reason"].items() if v)
    print(f"skipped {c['skipped']:,}" + (f" ({reasons})" if reasons else "") + f"; see {args.out}/import_report.json")
    _print_info(MotionStore(args.out, verify=False).info_summary())
    return 0


def add_import_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import real motion data (HumanML3D, AMASS, BVH) into a new store")
    p.add_argument("--format", required=True, choices=("bvh", "humanml3d", "amass"), help="input format")
    p.add_argument("path", help="a file or a folder (HumanML3D: the folder holding new_joints/ and texts/)")
    p.add_argument("--out", required=True, help="new store folder (an interrupted import resumes)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad file instead of skipping it")
    p.add_argument("--model-folder", help="AMASS: folder with smplx/SMPLX_NEUTRAL.npz, to check FK against smplx")
    p.add_argument("--joint-map", help="BVH: JSON object (or .json file) of motionbook joint -> BVH joint names")
    p.add_argument("--unit", default="auto", help="BVH: m, cm, mm, inch, cmu or auto (default: from the rest height)")
    p.add_argument("--up", default="y", choices=("y", "z"), help="BVH: the file's up axis (default y)")
    p.add_argument("--keep-rest-frame", action="store_true", help="BVH: keep a first frame that is the rig's rest "
                   "pose (CMU files start with one; dropped by default, and the report says so)")
    p.add_argument("--min-frames", type=int, help="drop motions shorter than this at 20 fps (default 40)")
    p.add_argument("--drop-static", action="store_true", help="drop held poses (>= 90%% of frames with no joint "
                   "moving faster than 0.05 m/s); the report counts them")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import)


# ----------------------------------------------------------------------------------------------

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_build_parser,
    add_merge_parser,
    add_info_parser,
    add_card_parser,
    add_import_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motionbook_lib.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError) as err:  # a full disk while building names the file and what it held
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
