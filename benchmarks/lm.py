"""M0 throughput: training tokens/s, the share of this machine's matmul rate that training achieves,
and generation tokens/s with and without the KV cache.

    python benchmarks/lm.py --threads 2           # tiny/small presets, a few seconds each, CPU
    python benchmarks/lm.py --sizes small base --steps 20 --seq 512

FLOPs per trained token are counted as nanoGPT does: ``6 * N + 12 * layers * width * sequence``
(forward and backward, attention included), where N counts the parameters that do matmuls: every
parameter except the token- and position-embedding tables (a lookup costs no FLOPs), plus the LM
head's matrix (tied to the token embedding in GPT-2, but a real matmul). The achieved FLOP/s is
divided by the best float32 matmul rate of a 1024^3 product timed in the same process: an *achieved
matmul rate*, not the hardware's peak, so the share reads "how close training runs to this machine's
own best matmul", not MFU against a datasheet. Writes ``results/benchmarks/lm.json``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _record import record  # benchmarks/_record.py: results/benchmarks/<name>.json

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


def matmul_parameters(model: torch.nn.Module) -> int:
    """Parameters that take part in matmuls: all but the token/position embedding tables, plus the LM head."""
    lookups = {id(model.get_input_embeddings().weight)}
    for name, p in model.named_parameters():
        if name.endswith(("wpe.weight", "position_embeddings.weight", "embed_positions.weight")):
            lookups.add(id(p))
    n = sum(p.numel() for p in model.parameters() if id(p) not in lookups)  # parameters() lists tied ones once
    head = model.get_output_embeddings()
    if head is not None and id(head.weight) in lookups:
        n += head.weight.numel()  # tied head: its matmul still costs FLOPs
    return n


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
    parser.add_argument("--name", default="lm", help="results file: results/benchmarks/<name>.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab = MotionVocab(2**args.codebook_bits, 6)
    tok = train_text_tokenizer(["a person walks forward and waves", "someone jumps twice"] * 50, vocab_size=300)
    add_motion_tokens(tok, vocab)
    start_peak = matmul_peak(repeats=20)
    rows = []
    for size in args.sizes:
        model = build_m0(M0Config(size=size, max_positions=max(1024, args.seq)), tok)
        _, layers, _, width = SIZE_PRESETS[size]
        n_matmul = matmul_parameters(model)
        tps = train_throughput(model, len(tok), args.batch, args.seq, args.steps)
        cached = generation_throughput(model, tok, vocab, args.gen_steps, True)
        uncached = generation_throughput(model, tok, vocab, args.gen_steps, False)
        rows.append(
            {
                "size": size,
                "parameters": sum(p.numel() for p in model.parameters()),
                "matmul_parameters": n_matmul,
                "flops_per_token": 6 * n_matmul + 12 * layers * width * args.seq,
                "train_tokens_per_s": round(tps),
                "gen_tokens_per_s_cache": round(cached),
                "gen_tokens_per_s_no_cache": round(uncached),
                "kv_cache_ratio": round(cached / uncached, 2),
            }
        )
    # the machine's achieved matmul rate: the best of a measurement before and after the models (another
    # process on the machine during one of them would otherwise lower the denominator)
    peak = max(start_peak, matmul_peak(repeats=20))
    print(f"achieved matmul rate (float32, 1024^3, best of 2 x 20): {peak / 1e9:.1f} GFLOP/s; "
          f"torch threads {torch.get_num_threads()}")  # fmt: skip
    print(f"{'size':<12} {'params':>11} {'matmul params':>14} {'train tok/s':>12} {'of matmul rate':>15} "
          f"{'gen tok/s cache':>16} {'no cache':>9} {'ratio':>6}")  # fmt: skip
    for r in rows:
        r["share_of_matmul_rate"] = round(r["train_tokens_per_s"] * r["flops_per_token"] / peak, 4)
        print(f"{r['size']:<12} {r['parameters']:>11,} {r['matmul_parameters']:>14,} {r['train_tokens_per_s']:>12,} "
              f"{r['share_of_matmul_rate']:>15.1%} {r['gen_tokens_per_s_cache']:>16,} "
              f"{r['gen_tokens_per_s_no_cache']:>9,} {r['kv_cache_ratio']:>5.1f}x")  # fmt: skip
    record(args.name, {"matmul_rate_gflops": round(peak / 1e9, 2), "batch": args.batch, "seq": args.seq,
                       "gen_steps": args.gen_steps, "rows": rows})  # fmt: skip


if __name__ == "__main__":
    main()
