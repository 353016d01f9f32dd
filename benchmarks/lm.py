"""M0 throughput: training tokens/s and model FLOPs utilization (against a matmul peak measured in
the same run), and generation tokens/s with and without the KV cache.

    python benchmarks/lm.py                       # tiny/small presets, a few seconds each, CPU
    python benchmarks/lm.py --sizes small base --steps 20 --seq 512

MFU counts 6 * parameters + 12 * layers * width * sequence FLOPs per trained token (forward and
backward, attention included) and divides the achieved FLOP/s by the best float32 matmul FLOP/s of
this machine, timed in the same process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from motionbook_lib.lm import M0Config, MotionVocab, add_motion_tokens, build_m0, generate_codes, train_text_tokenizer
from motionbook_lib.lm.modeling_m0 import SIZE_PRESETS


def matmul_peak(n: int = 1024, repeats: int = 10) -> float:
    """Best float32 matmul FLOP/s over ``repeats`` products of two n x n matrices."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def train_throughput(model: torch.nn.Module, vocab_size: int, batch: int, seq: int, steps: int) -> float:
    """Trained tokens per second (best of ``steps`` timed steps after one warm-up)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, vocab_size, (batch, seq))
    model.train()
    best = float("inf")
    for i in range(steps + 1):
        t = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:
            best = min(best, time.perf_counter() - t)
    return batch * seq / best


def generation_throughput(model, tok, vocab: MotionVocab, steps: int, use_cache: bool) -> float:
    """Motion tokens generated per second for one motion of exactly ``steps`` token steps."""
    model.eval()
    generate_codes(model, tok, vocab, "a person walks", steps, steps, do_sample=False, use_cache=use_cache)
    t = time.perf_counter()
    codes = generate_codes(model, tok, vocab, "a person walks", steps, steps, do_sample=False, use_cache=use_cache)
    return np.asarray(codes).size / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"], choices=sorted(SIZE_PRESETS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="timed training steps (best is kept)")
    parser.add_argument("--gen-steps", type=int, default=25, help="token steps of 6 codes to generate")
    parser.add_argument("--codebook-bits", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab = MotionVocab(2**args.codebook_bits, 6)
    tok = train_text_tokenizer(["a person walks forward and waves", "someone jumps twice"] * 50, vocab_size=300)
    add_motion_tokens(tok, vocab)
    peak = matmul_peak()
    threads = torch.get_num_threads()
    print(f"matmul peak (float32, 1024^3, best of 10): {peak / 1e9:.1f} GFLOP/s; torch threads {threads}")
    print(f"{'size':<12} {'params':>11} {'train tok/s':>12} {'MFU':>7} {'gen tok/s cache':>16} {'no cache':>9} "
          f"{'ratio':>6}")  # fmt: skip
    for size in args.sizes:
        model = build_m0(M0Config(size=size, max_positions=max(1024, args.seq)), tok)
        n_params = sum(p.numel() for p in model.parameters())
        _, layers, _, width = SIZE_PRESETS[size]
        tps = train_throughput(model, len(tok), args.batch, args.seq, args.steps)
        flops_per_token = 6 * n_params + 12 * layers * width * args.seq
        mfu = tps * flops_per_token / peak
        cached = generation_throughput(model, tok, vocab, args.gen_steps, True)
        uncached = generation_throughput(model, tok, vocab, args.gen_steps, False)
        print(f"{size:<12} {n_params:>11,} {tps:>12,.0f} {mfu:>7.1%} {cached:>16,.0f} {uncached:>9,.0f} "
              f"{cached / uncached:>5.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
