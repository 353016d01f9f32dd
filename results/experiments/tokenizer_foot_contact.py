"""Experiment of 2026-12-07 (results: 2026-12-07-conditioning-and-skating.json): the reference 2D-LFQ tokenizer
trained with another foot-contact weight, then its test metrics and the claims of its reconstructions.

    python results/experiments/tokenizer_foot_contact.py OUT STEPS '{"w_foot_contact": 20.0}'
"""

import json
import sys

import torch

from motionbook_lib.data.store import MotionStore
from motionbook_lib.reference.recipe import evaluate_tokenizer_claims
from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig, TrainConfig, evaluate_tokenizer, train_tokenizer

torch.set_num_threads(1)
out, steps, extra = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
store = MotionStore("data/synthetic-4000-seed0")
cfg = TokenizerConfig(quantizer="lfq2d", codebook_bits=8, width=96, depth=2, w_global_joints=1.0, **extra)
tc = TrainConfig(batch_size=32, window=64, lr=2e-3, seed=0, cpu_threads=1, log_every=25, ckpt_every=250,
                 eval_every=500)  # fmt: skip
r = train_tokenizer(cfg, store, out, steps, tc, progress=False)
tok = MotionTokenizer.from_pretrained(r.model_dir).eval()
m = evaluate_tokenizer(tok, store, "test", window=64, batch_size=32)
print("TOK", json.dumps({k: m[k] for k in ("mpjpe_mm", "root_path_m", "foot_skate_ratio", "global_mpjpe_mm")}))
c = evaluate_tokenizer_claims(store, tok, "test")
print("CLAIMS", c["reconstruction"]["rate"], json.dumps(c["reconstruction"]["per_kind"]))
