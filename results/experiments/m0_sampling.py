"""Experiment of 2026-12-08: the kinematic prompt check of the checked-in reference M0 (models/reference) under
other sampling settings (temperature, top-k, guidance scale), with the other-prompt baseline.

    python results/experiments/m0_sampling.py THREADS 'TEMP,TOPK,GUIDANCE' ['TEMP,TOPK,GUIDANCE' ...]

TOPK 0 means no top-k cut. Prints one JSON line per setting.
"""

import json
import sys
import time

import torch

from motionbook_lib.eval.claims import PROMPTS
from motionbook_lib.reference import load
from motionbook_lib.reference.recipe import prompt_check

torch.set_num_threads(int(sys.argv[1]))
ref = load()
pipe = ref.m0
base = pipe.generate_motion


for setting in sys.argv[2:]:
    temp, topk, guidance = setting.split(",")
    kw = {"temperature": float(temp), "top_k": int(topk) or None}

    def gen(text, seconds=None, seed=None, guidance_scale=1.0, _kw=kw):
        return base(text, seconds=seconds, seed=seed, guidance_scale=guidance_scale, **_kw)

    pipe.generate_motion = gen
    t0 = time.perf_counter()
    pc = prompt_check(pipe, PROMPTS, 3, 5.0, float(guidance))
    print(json.dumps({"temperature": float(temp), "top_k": int(topk), "guidance": float(guidance),
                      "own": pc["own"]["rate"], "baseline": pc["other_prompt_baseline"]["rate"],
                      "per_kind": pc["own"]["per_kind"], "seconds": time.perf_counter() - t0}), flush=True)
