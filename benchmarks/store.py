"""Motion store benchmark: build throughput + peak RSS, and random-access reads vs one .npy per motion.

    python benchmarks/store.py                       # 2k and 8k motions, < 3 min on 2 cores
    python benchmarks/store.py --sizes 1000000 --source fake --fake-frames 8 16 --name store-1m   # the 1M figure

Each build runs in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own: ``rss_main`` is
the process that writes the store, ``rss_worker`` the largest generator worker. The read test
draws random motions from the largest store and from the same motions written as one ``.npy``
file each (the HumanML3D ``new_joint_vecs/`` layout) in a temp folder, in the same run; both are
read with a warm page cache (just written), so the ratio measures per-file overhead
(open/stat/parse), not disk seeks. Uses ``motionbook_lib.data.synthetic`` when it is importable,
else a small built-in fake generator (``--source fake`` forces it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _record import record  # benchmarks/_record.py: results/benchmarks/<name>.json

from motionbook_lib.data.store import DEFAULT_SHARD_FRAMES, MotionStore, build_store
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import axis_angle_to_matrix

PARTS = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")


@dataclass
class FakeConfig:
    seed: int = 0
    min_frames: int = 40
    max_frames: int = 200


def fake_generate(index: int, config: FakeConfig) -> Motion:
    """Smooth random joint rotations and root path with the synthetic generator's meta keys."""
    rng = np.random.default_rng([config.seed, index])
    t = int(rng.integers(config.min_frames, config.max_frames + 1))
    time_s = np.arange(t)[:, None, None] / 20.0  # (T, 1, 1)
    aa = rng.normal(0, 0.4, (1, 22, 3)) * np.sin(
        2 * np.pi * rng.uniform(0.2, 1.5, (1, 22, 3)) * time_s + rng.uniform(0, 6.3, (1, 22, 3))
    )  # (T, 22, 3)
    root = np.stack([np.cumsum(rng.normal(0, 0.02, t)), np.full(t, 0.9), np.linspace(0, rng.uniform(0, 5), t)], 1)
    meta = {
        "caption": [f"a person moves #{index}", f"someone moves around ({index})"],
        "part_captions": {p: [f"{p} moves"] for p in PARTS},
        "labels": ["fake"],
        "part_labels": {p: "moves" for p in PARTS},
        "params": {"index": index},
    }
    rot = axis_angle_to_matrix(torch.as_tensor(aa, dtype=torch.float32))
    return Motion(rot, torch.as_tensor(root, dtype=torch.float32), rng.normal(0, 1, 10), 20.0, meta)


def _generator(source: str) -> tuple[str, object, object]:
    """(source name, generator, config): the real synthetic generator when available."""
    if source in ("auto", "synthetic"):
        try:
            from motionbook_lib.data import synthetic

            return "synthetic", synthetic.generate_motion, synthetic.SyntheticConfig()
        except ImportError:
            if source == "synthetic":
                raise
    return "fake", fake_generate, FakeConfig()


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


def child_build(n: int, out: str, workers: int, source: str, shard_frames: int, fake_frames: list[int]) -> dict:
    """Build one store in this (fresh) process; returns timings and peak RSS."""
    name, gen, config = _generator(source)
    if name == "fake":
        config = FakeConfig(min_frames=fake_frames[0], max_frames=fake_frames[1])
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    build_store(
        out,
        n,
        source=name,
        config=config,
        generator=gen,
        workers=workers,
        shard_frames=shard_frames,
        progress=n >= 100_000,
        overwrite=True,
    )
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    main_cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    store = MotionStore(out, verify=False)
    frames = int(store.lengths.sum())
    disk = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    return {
        "source": name,
        "motions": n,
        "frames": frames,
        "seconds": round(seconds, 2),
        "motions_per_s": round(n / seconds, 1),
        "frames_per_s": round(frames / seconds),
        "cpu_main_s": round(main_cpu, 2),
        "rss_main_mb": round(_rss_mb(resource.RUSAGE_SELF), 1),
        "rss_worker_mb": round(_rss_mb(resource.RUSAGE_CHILDREN), 1),
        "disk_mb": round(disk / 2**20, 1),
        "shards": store.n_shards,
    }


def run_build(n: int, out: Path, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(n),
        str(out),
        "--workers",
        str(args.workers),
        "--source",
        args.source,
        "--shard-frames",
        str(args.shard_frames),
        "--fake-frames",
        *map(str, args.fake_frames),
    ]
    res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)  # progress on stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_reads(store_path: Path, tmp: Path, n_reads: int, seed: int = 0) -> dict:
    """Random reads: store (checksum on / off) vs one .npy file per motion, same motions and order.

    Only the motions drawn are written as separate files (a 1M-file folder is not needed to
    time opening and parsing one file per read).
    """
    store, open_s = _timed(lambda: MotionStore(store_path))
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(store), n_reads)
    folder = tmp / "new_joint_vecs"
    folder.mkdir()
    for i in np.unique(rows):
        np.save(folder / f"{store.ids[i]}.npy", store.features(int(i), verify=False))
    files = [folder / f"{store.ids[i]}.npy" for i in rows]
    methods = {
        "npy_files": lambda: sum(np.load(f, allow_pickle=False).shape[0] for f in files),
        "store_verify": lambda: sum(store.features(int(i), verify=True).shape[0] for i in rows),
        "store_noverify": lambda: sum(store.features(int(i), verify=False).shape[0] for i in rows),
    }
    out: dict = {"reads": n_reads, "motions": len(store), "store_open_s": round(open_s, 3)}
    for name, fn in methods.items():
        fn()  # warm-up: page cache, memory maps
        best = min(_timed(fn)[1] for _ in range(3))
        out[f"{name}_reads_per_s"] = round(n_reads / best)
    for name in ("store_verify", "store_noverify"):
        out[f"ratio_{name}_vs_npy"] = round(out[f"{name}_reads_per_s"] / out["npy_files_reads_per_s"], 2)
    shutil.rmtree(folder)
    return out


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000], help="store sizes to build")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--source", choices=("auto", "synthetic", "fake"), default="auto")
    p.add_argument("--shard-frames", type=int, default=DEFAULT_SHARD_FRAMES)
    p.add_argument("--reads", type=int, default=4000, help="random reads per method")
    p.add_argument("--keep", type=Path, default=None, help="build the largest store here and keep it")
    p.add_argument(
        "--fake-frames",
        type=int,
        nargs=2,
        default=[40, 200],
        metavar=("MIN", "MAX"),
        help="clip lengths of the fake generator (short clips test 1M-row scaling on a small disk)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    p.add_argument("--name", default="store", help="results file: results/benchmarks/<name>.json")
    p.add_argument("--child", nargs=2, metavar=("N", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(
            json.dumps(
                child_build(
                    int(args.child[0]), args.child[1], args.workers, args.source, args.shard_frames, args.fake_frames
                )
            )
        )
        return 0

    results: dict = {"cpus": os.cpu_count(), "workers": args.workers, "builds": []}
    with tempfile.TemporaryDirectory(prefix="motionbook-store-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        largest = None
        for n in sorted(args.sizes):
            out = args.keep if (args.keep and n == max(args.sizes)) else tmp / f"store-{n}"
            r = run_build(n, out, args)
            results["builds"].append(r)
            print(
                f"build {n:>9,} motions ({r['source']}): {r['seconds']:8.1f} s  {r['motions_per_s']:8.1f} motions/s"
                f"  {r['frames_per_s']:>9,} frames/s  peak RSS main {r['rss_main_mb']:.0f} MiB"
                f"  worker {r['rss_worker_mb']:.0f} MiB  disk {r['disk_mb']:.0f} MiB",
                flush=True,
            )
            largest = out
        reads = bench_reads(largest, tmp, args.reads)
        results["reads"] = reads
        print(
            f"random reads ({reads['reads']} of {reads['motions']:,} motions, warm cache; "
            f"store opened in {reads['store_open_s']} s): "
            f"store {reads['store_verify_reads_per_s']:,}/s (checksums on), "
            f"{reads['store_noverify_reads_per_s']:,}/s (off); one .npy per motion "
            f"{reads['npy_files_reads_per_s']:,}/s -> ratio {reads['ratio_store_verify_vs_npy']}x "
            f"/ {reads['ratio_store_noverify_vs_npy']}x"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    record(args.name, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
