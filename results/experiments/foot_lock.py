"""Experiment of 2026-12-08 (results: 2026-12-08-foot-lock.json): foot locking at decode
(motionbook_lib.tokenizer.foot_lock.lock_feet) on tokenizer reconstructions and on the reference M0's prompt check.

    python results/experiments/foot_lock.py tokenizer TOKENIZER_FOLDER N_TEST_CLIPS   # skating, root path, jitter
    python results/experiments/foot_lock.py prompts                                    # models/reference M0, g3

The tokenizer part scores the first 4 s of each test clip on the neutral body, as evaluate_tokenizer does.
"""

import json
import sys

import numpy as np
import torch

from motionbook_lib.data.quality import foot_skating
from motionbook_lib.data.store import MotionStore
from motionbook_lib.eval.claims import PROMPTS
from motionbook_lib.eval.table import posed_joints
from motionbook_lib.reference import load
from motionbook_lib.reference.recipe import prompt_check
from motionbook_lib.tokenizer import MotionTokenizer
from motionbook_lib.tokenizer.foot_lock import lock_feet

torch.set_num_threads(1)
if sys.argv[1] == "tokenizer":
    store = MotionStore("data/synthetic-4000-seed0")
    tok = MotionTokenizer.from_pretrained(sys.argv[2]).eval()
    rows = [int(r) for r in store.split("test")][: int(sys.argv[3])]
    acc = {k: [0.0, 0] for k in ("gt", "raw", "locked")}
    path = {"raw": [], "locked": []}
    jit = {k: [] for k in acc}
    for r in rows:
        f = store.features(r)
        f = f[: len(f) // 4 * 4]
        with torch.no_grad():
            rec = np.asarray(tok.reconstruct(f), dtype=np.float32)[:80]
        f = f[:80]
        clips = {"gt": f, "raw": rec, "locked": lock_feet(torch.from_numpy(rec)).numpy()}
        jg = posed_joints(f, None)
        for k, x in clips.items():
            j = posed_joints(x, None)
            fs = foot_skating(j, 20.0)
            acc[k][0] += fs["mean_speed"] * fs["n_contact"]
            acc[k][1] += fs["n_contact"]
            jit[k].append(np.abs(np.diff(j, 3, axis=0)).mean())
            if k != "gt":
                path[k].append(np.linalg.norm(j[:, 0, [0, 2]] - jg[:, 0, [0, 2]], axis=-1).mean())
    gt = acc["gt"][0] / acc["gt"][1]
    for k in ("raw", "locked"):
        sk = acc[k][0] / acc[k][1]
        print(json.dumps({"decode": k, "skate_m_s": sk, "skate_ratio": sk / gt, "root_path_m": float(np.mean(path[k])),
                          "jitter_ratio": float(np.mean(jit[k]) / np.mean(jit["gt"]))}))  # fmt: skip
else:
    pipe = load().m0
    for lock in (False, True):
        pipe.foot_lock = lock
        pc = prompt_check(pipe, PROMPTS, 3, 5.0, 3.0)
        print(json.dumps({"foot_lock": lock, "own": pc["own"]["rate"], "baseline": pc["other_prompt_baseline"]["rate"],
                          "per_kind": pc["own"]["per_kind"]}))  # fmt: skip
