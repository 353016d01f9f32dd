"""Experiment of 2026-12-07 (results: 2026-12-07-conditioning-and-skating.json): one M0 stage on the v1 reference
tokenizer's codes, with code corruption, then its conditioning gap and the kinematic prompt check.

    python results/experiments/m0_code_corruption.py OUT STEPS CORRUPTION ['{"stage": 2, "init_from": ...}']
"""

import json
import sys

import torch

from motionbook_lib.data.store import MotionStore
from motionbook_lib.eval.claims import PROMPTS
from motionbook_lib.lm import M0Config, M0Pipeline, M0TrainConfig, train_m0
from motionbook_lib.lm.evaluate import conditioning_gap
from motionbook_lib.reference.recipe import prompt_check

torch.set_num_threads(1)
out, steps, corruption = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
store = MotionStore("data/synthetic-4000-seed0")
cfg = M0TrainConfig(stage=extra.pop("stage", 1), batch_size=16, lr=1e-3, max_frames=200, seed=0, cpu_threads=1,
                    log_every=25, ckpt_every=200, text_vocab_size=1000, caption_dropout=0.1, gap_every=200,
                    code_corruption=corruption, model=M0Config(size="mini", max_positions=1024), **extra)  # fmt: skip
r = train_m0(cfg, store, "runs/reference-v1/tokenizer/final", out, steps, progress=False)
g = conditioning_gap(r.model_dir, store, "val", 200)
print("GAP", json.dumps({k: g[k] for k in ("gap", "gap_first_step", "gap_per_motion", "motion_loss_own")}), flush=True)
pipe = M0Pipeline.from_pretrained(r.model_dir)
for scale in (1.0, 3.0):
    pc = prompt_check(pipe, PROMPTS, 3, 5.0, scale)
    print("PC", scale, pc["own"]["rate"], pc["other_prompt_baseline"]["rate"], json.dumps(pc["own"]["per_kind"]))
