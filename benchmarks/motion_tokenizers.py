"""Tokenizer benchmark: 2D-LFQ against 1D VQ, RVQ and LFQ at equal bits per second and equal steps.

    python benchmarks/motion_tokenizers.py                      # CPU default: 300-motion built-in corpus, a few minutes
    python benchmarks/motion_tokenizers.py --steps 20000 --n-motions 5000 --width 256 --batch-size 128 --threads 0

Every tokenizer downsamples time by ``alpha`` and spends ``--bits-per-step`` bits per latent step
(default 12, i.e. 12 * 20 / 4 = 60 bits per second of 20 fps motion):

- ``lfq2d``: 6 body-part tokens of bits/6 bits each (12 -> 6 x 2 bits);
- ``vq``: one token from a 2**bits codebook (12 -> 4096 codes);
- ``rvq``: ``--rvq-levels`` tokens of bits/levels bits each (12, 2 levels -> 2 x 64 codes);
- ``lfq``: one lookup-free token of ``bits`` bits (12 -> 4096 codes).

A single VQ codebook grows as 2**bits, so 12 is the largest multiple of 6 it handles on a CPU (18 gives
262144 codes: a GPU job). The 1D models share width/depth; the 2D model's width is picked so that its
trainable parameter count is closest to the 1D VQ's (VQ codebooks are EMA buffers, not parameters).
All models train for the same steps on the same batches (same seed) and are scored on the first
``--window`` frames of every clip of the held-out ``--split``: MPJPE (mm, pelvis-relative, neutral
body), MSE of normalized features (predicting the per-channel mean scores ``mse_mean``), codebook
utilization and perplexity. ``--paper`` adds the paper's unequal-rate settings (2D-LFQ with 2**14
codes per part, VQ and RVQ with 512 codes).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from _record import record  # benchmarks/_record.py: results/benchmarks/<name>.json

from motionbook_lib.data.store import MotionStore, open_or_build_store
from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig, TrainConfig, evaluate_tokenizer, train_tokenizer


def configs(args: argparse.Namespace) -> dict[str, TokenizerConfig]:
    """The tokenizers to compare, keyed by row name."""
    b = args.bits_per_step
    if b % 6 or b % args.rvq_levels:
        raise SystemExit(f"--bits-per-step {b} must be divisible by 6 (body parts) and by --rvq-levels")
    common = dict(alpha=args.alpha, depth=args.depth, code_dim=args.code_dim)
    out = {
        "1D-VQ": TokenizerConfig(quantizer="vq", codebook_bits=b, width=args.width, **common),
        "1D-RVQ": TokenizerConfig(
            quantizer="rvq",
            codebook_bits=b // args.rvq_levels,
            num_quantizers=args.rvq_levels,
            width=args.width,
            **common,
        ),
        "1D-LFQ": TokenizerConfig(quantizer="lfq", codebook_bits=b, width=args.width, **common),
    }
    target = MotionTokenizer(out["1D-VQ"]).num_parameters()
    widths = range(4, 4 * args.width + 1, 4)
    w2d = min(
        widths,
        key=lambda w: abs(
            MotionTokenizer(
                TokenizerConfig(quantizer="lfq2d", codebook_bits=b // 6, width=w, **common)
            ).num_parameters()
            - target
        ),
    )
    out = {"2D-LFQ": TokenizerConfig(quantizer="lfq2d", codebook_bits=b // 6, width=w2d, **common), **out}
    if args.paper:
        out["2D-LFQ 2^14 (paper)"] = TokenizerConfig(quantizer="lfq2d", codebook_bits=14, width=w2d, **common)
        out["1D-VQ 512 (paper)"] = TokenizerConfig(quantizer="vq", codebook_bits=9, width=args.width, **common)
        out["1D-RVQ 6x512 (paper)"] = TokenizerConfig(
            quantizer="rvq", codebook_bits=9, num_quantizers=6, width=args.width, **common
        )
    keep = [q.strip() for q in args.only.split(",")] if args.only else None
    return {k: v for k, v in out.items() if keep is None or k in keep or v.quantizer in keep}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="", help="motion store folder (default: the built-in corpus)")
    ap.add_argument("--n-motions", type=int, default=300, help="size of the built-in corpus")
    ap.add_argument("--corpus-seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=400, help="optimizer steps per tokenizer")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--bits-per-step", type=int, default=12, help="bits per latent step for every tokenizer")
    ap.add_argument("--rvq-levels", type=int, default=2)
    ap.add_argument("--alpha", type=int, default=4)
    ap.add_argument("--width", type=int, default=64, help="conv width of the 1D models")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--code-dim", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--split", default="test", help="held-out split to score on")
    ap.add_argument("--paper", action="store_true", help="also run the paper's unequal-rate settings")
    ap.add_argument("--only", default="", help="comma-separated row names or quantizers to run")
    ap.add_argument("--out", default="", help="keep the training folders here (default: a temp folder)")
    ap.add_argument("--json", default="", help="write the table as JSON records to this file")
    ap.add_argument("--name", default="motion_tokenizers", help="results file: results/benchmarks/<name>.json")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    store = (
        MotionStore(args.store) if args.store else open_or_build_store(None, n=args.n_motions, seed=args.corpus_seed)
    )
    fps = store.fps()
    train = TrainConfig(
        batch_size=args.batch_size,
        window=args.window,
        lr=args.lr,
        seed=args.seed,
        log_every=50,
        ckpt_every=0,
        eval_batches=4,
    )
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-tokenizers-"))
    device = "cuda" if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()} threads"
    print(
        f"store {store.path} ({len(store)} motions, {len(store.split(args.split))} in '{args.split}'), "
        f"{args.steps} steps, batch {args.batch_size} x {args.window} frames, {device}",
        flush=True,
    )

    rows = []
    mse_mean = None
    for name, cfg in configs(args).items():
        t0 = time.perf_counter()
        run = root / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        result = train_tokenizer(cfg, store, run, args.steps, train, progress=sys.stderr.isatty())
        model = MotionTokenizer.from_pretrained(result.model_dir, device="cuda" if torch.cuda.is_available() else "cpu")
        m = evaluate_tokenizer(model, store, args.split, window=args.window, batch_size=args.batch_size)
        mse_mean = m["mse_mean"]
        rows.append(
            {
                "tokenizer": name,
                "tokens/step": cfg.tokens_per_step,
                "codebook": f"2^{cfg.codebook_bits}",
                "bits/s": cfg.bits_per_second(fps),
                "params": model.num_parameters(),
                "MPJPE mm": m["mpjpe_mm"],
                "feat MSE": m["mse"],
                "utilization": m["utilization"],
                "perplexity": m["perplexity"],
                "steps/s": result.steps_per_second,
            }
        )
        print(
            f"  {name}: MPJPE {m['mpjpe_mm']:.1f} mm, MSE {m['mse']:.3f} (mean predictor {m['mse_mean']:.3f}), "
            f"{time.perf_counter() - t0:.0f}s",
            flush=True,
        )

    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print()
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"))
    by_name = {r["tokenizer"]: r for r in rows}
    if "2D-LFQ" in by_name and "1D-VQ" in by_name:
        ratio = by_name["2D-LFQ"]["MPJPE mm"] / by_name["1D-VQ"]["MPJPE mm"]
        print(
            f"\nMPJPE(2D-LFQ) / MPJPE(1D-VQ) = {ratio:.3f} at {args.bits_per_step} bits per step "
            f"({by_name['2D-LFQ']['bits/s']:.0f} bits/s)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    numbers = {
        "store": str(store.path),
        "motions": len(store),
        "split": args.split,
        "split_motions": len(store.split(args.split)),
        "steps": args.steps,
        "batch": args.batch_size,
        "window": args.window,
        "bits_per_step": args.bits_per_step,
        "mse_mean_predictor": mse_mean,
        "rows": rows,
    }
    if "2D-LFQ" in by_name and "1D-VQ" in by_name:
        numbers["mpjpe_ratio_2dlfq_vs_1dvq"] = round(by_name["2D-LFQ"]["MPJPE mm"] / by_name["1D-VQ"]["MPJPE mm"], 3)
    record(args.name, numbers)
    if not args.out:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
