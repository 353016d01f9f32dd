"""Frames per second of the motion features: D135 decoding vs HumanML3D 263 extraction, batched vs looped.

Run: ``.venv/bin/python benchmarks/features.py [--frames N] [--seqs K] [--repeats R]``

Measures, on K synthetic clips of N frames (22 joints, CPU, float32):

(a) D135 -> joints (decode + FK), one batched call vs a Python loop over the clips;
(b) joints -> 263 extraction, batched vs looped;
(c) getting joint rotations back: D135 decode (the rotations are stored) vs the 263
    6D block (swing-only IK rotations, already computed) vs running the IK from joints
    (the 263 extraction), for context; plus 263 -> joints decoding.

Each timing is the best of R runs after one warm-up run; ratios compare numbers taken
in the same run of this script.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch
from _record import record  # benchmarks/_record.py: results/benchmarks/<name>.json

from motionbook_lib.features import (
    d135_to_joints,
    decode_d135,
    encode_d135,
    extract_h3d263,
    h3d263_rotations,
    h3d263_to_joints,
)
from motionbook_lib.rotations import axis_angle_to_matrix
from motionbook_lib.skeleton import Skeleton, forward_kinematics


def make_clips(K: int, T: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """K smooth random clips: local rotations (K, T, 22, 3, 3) and root positions (K, T, 3)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float32)[None, :, None, None] / 20.0
    freq = torch.rand(K, 1, 22, 3, generator=g) * 1.2 + 0.2
    phase = torch.rand(K, 1, 22, 3, generator=g) * 2 * math.pi
    amp = torch.rand(K, 1, 22, 3, generator=g) * 0.5
    aa = amp * torch.sin(2 * math.pi * freq * t + phase)  # (K, T, 22, 3)
    yaw = torch.rand(K, 1, generator=g) * 2 * math.pi + torch.linspace(0, 3.0, T)  # (K, T)
    aa[..., 0, :] *= 0.3
    R = axis_angle_to_matrix(aa)
    z = torch.zeros_like(yaw)
    R[..., 0, :, :] = axis_angle_to_matrix(torch.stack([z, yaw, z], -1)) @ R[..., 0, :, :]
    step = 0.05
    root = torch.stack(
        [torch.cumsum(step * yaw.sin(), 1), 0.95 + 0.0 * yaw, torch.cumsum(step * yaw.cos(), 1)], dim=-1
    )  # (K, T, 3)
    return R, root


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time (s) of ``repeats`` calls after one warm-up call."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=196, help="frames per clip (HumanML3D's longest is 196)")
    ap.add_argument("--seqs", type=int, default=64, help="number of clips")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (best is kept)")
    ap.add_argument("--name", default="features", help="results file: results/benchmarks/<name>.json")
    args = ap.parse_args()
    K, T, rep = args.seqs, args.frames, args.repeats
    if K < 1 or T < 2 or rep < 1:
        ap.error("need --seqs >= 1, --frames >= 2, --repeats >= 1")

    sk = Skeleton()
    off = sk.offsets()
    R, root = make_clips(K, T)
    d135 = encode_d135(R, root)  # (K, T, 135)
    joints = forward_kinematics(R, root, off)  # (K, T, 22, 3)
    h263 = extract_h3d263(joints)  # (K, T-1, 263)
    n = K * T

    rows: list[tuple[str, float, float | None]] = []

    def measure(name: str, batched: Callable[[], object], loop: Callable[[], object] | None) -> None:
        tb = best_time(batched, rep)
        tl = best_time(loop, rep) if loop is not None else None
        rows.append((name, n / tb, None if tl is None else n / tl))

    measure(
        "(a) D135 -> joints (FK)",
        lambda: d135_to_joints(d135, off),
        lambda: [d135_to_joints(f, off) for f in d135],
    )
    measure(
        "(b) joints -> 263",
        lambda: extract_h3d263(joints),
        lambda: [extract_h3d263(j) for j in joints],
    )
    measure("(c) rotations from D135", lambda: decode_d135(d135), lambda: [decode_d135(f) for f in d135])
    measure(
        "(c) rotations from 263 6D block",
        lambda: h3d263_rotations(h263),
        lambda: [h3d263_rotations(f) for f in h263],
    )
    measure("(c) 263 -> joints (recover)", lambda: h3d263_to_joints(h263), lambda: [h3d263_to_joints(f) for f in h263])

    print(f"motion features, {K} clips x {T} frames, CPU, torch threads = {torch.get_num_threads()}, best of {rep}")
    print(f"{'measurement':34s} {'batched fps':>14s} {'loop fps':>14s} {'batched/loop':>13s}")
    for name, fb, fl in rows:
        loop = f"{fl:14.0f}" if fl is not None else f"{'-':>14s}"
        ratio = f"{fb / fl:12.1f}x" if fl is not None else f"{'-':>13s}"
        print(f"{name:34s} {fb:14.0f} {loop} {ratio}")
    by = {name: fb for name, fb, _ in rows}
    ik = by["(b) joints -> 263"]
    print(
        "context (batched): rotations from D135 are "
        f"{by['(c) rotations from D135'] / ik:.1f}x faster than running the 263 IK from joints; "
        f"reading the stored 263 6D block runs at {by['(c) rotations from 263 6D block'] / ik:.1f}x the IK "
        "(but gives swing-only IK rotations, not SMPL's)"
    )
    record(
        args.name,
        {
            "clips": K,
            "frames": T,
            "repeats": rep,
            "rows": [
                {
                    "measurement": name,
                    "batched_fps": round(fb),
                    "loop_fps": None if fl is None else round(fl),
                    "ratio": None if fl is None else round(fb / fl, 2),
                }
                for name, fb, fl in rows
            ],
            "d135_rotations_vs_263_ik": round(by["(c) rotations from D135"] / ik, 2),
        },
    )


if __name__ == "__main__":
    main()
