"""The reference recipe: one resumable command from the built-in corpus to checked, documented models.

    python -m motionbook_lib.reference train --out runs/reference --scale cpu     # resumable; Ctrl-C and rerun
    python -m motionbook_lib.reference card --run runs/reference                   # MODEL_CARD.md from results

Steps (each skipped when its output exists, each trainer resumes from its last checkpoint):

1. build (or reuse) the built-in corpus of ``n_motions`` motions (``data/synthetic-<n>-seed<seed>``);
2. train the 2D-LFQ motion tokenizer;
3. train the text-motion evaluator (frozen MiniLM text side) on the same store;
4. train M0 stage 1 (text-motion alignment) then stage 2 (instruction tuning), with caption dropout so that
   generation can use classifier-free guidance;
5. evaluate (``eval/*.json``): the tokenizer on the test split (MPJPE, root path, skating, kinematic claims of its
   reconstructions next to the ground truth's), M0's conditioning gap, the kinematic prompt check
   (:data:`~motionbook_lib.eval.claims.PROMPTS` x seeds, with the other-prompt baseline), the body-part instruction
   check (:data:`~motionbook_lib.eval.claims.PART_PROMPTS`), the text-to-motion table scored by the evaluator (M0's
   motions decoded with foot locking), and captioning (``m2t``: BLEU-4, ROUGE-L, the evaluator's R@k of the captions
   against the real captions', and the kinematic claims of the captions checked on their motions);
6. ``results.json`` gathers every number; ``MODEL_CARD.md`` is written from it.

Every trainer goes through ``accelerate``, so the same command uses a GPU when there is one; ``--scale gpu``
documents bigger settings.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionbook_lib.atomic import write_json
from motionbook_lib.data.store import MotionStore, open_or_build_store

__all__ = ["SCALES", "ReferenceConfig", "corpus_fingerprint", "part_check", "prompt_check", "run_reference", "scaled"]

#: Version of the recipe's outputs; bump when the steps change what they write.
RECIPE_VERSION = 3

#: Stage 2's task mix (weights of the template draw): text-to-motion first, so that instruction tuning keeps the
#: text conditioning stage 1 taught (drawn uniformly over the 52 templates, the motion-only continuation and
#: in-betweening tasks are 29% of stage 2 and the conditioning gap fell to zero).
STAGE2_TASK_WEIGHTS: dict[str, float] = {"t2m": 4.0, "m2t": 2.0, "part_t2m": 2.0, "continuation": 1.0,
                                         "inbetween": 1.0}  # fmt: skip


@dataclass
class ReferenceConfig:
    """Sizes and settings of one reference run (see :data:`SCALES`)."""

    n_motions: int = 4000
    corpus_seed: int = 0
    threads: int = 2
    # motion tokenizer (2D-LFQ)
    tok_bits: int = 8
    tok_width: int = 96
    tok_depth: int = 2
    tok_steps: int = 4000
    tok_batch: int = 32
    tok_window: int = 64
    tok_lr: float = 2e-3
    tok_w_global_joints: float = 1.0  # global joints after FK with the decoded root: pelvis height (sit, jump)
    tok_w_foot_contact: float = 1.0  # horizontal foot steps where the target's feet are planted (skating)
    # evaluator
    eval_steps: int = 600
    eval_batch: int = 64
    # M0
    m0_size: str = "mini"
    stage1_steps: int = 4000
    stage2_steps: int = 1500
    m0_batch: int = 16
    m0_lr: float = 1e-3
    max_frames: int = 200  # the corpus's longest clip (10 s at 20 fps): no caption loses its last segment to a crop
    text_vocab_size: int = 1000
    caption_dropout: float = 0.1
    # share of the answer's motion tokens the model reads replaced by random ones (labels stay true): the history
    # no longer predicts the next token by itself, so the model must read the caption (T2M-GPT's corruption)
    code_corruption: float = 0.5
    stage2_task_weights: dict[str, float] | None = field(default_factory=lambda: dict(STAGE2_TASK_WEIGHTS))
    # evaluation
    guidance_scale: float = 3.0
    prompt_seeds: int = 3
    prompt_seconds: float = 5.0
    table_repeats: int = 20
    mm_captions: int = 10
    mm_generations: int = 3
    m2t_motions: int = 0  # test motions captioned for the motion-to-text scores; 0 = all
    m2t_batch: int = 32  # R-precision batch of the captions (32 in the protocol)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Named sizes: ``smoke`` runs in a minute (tests), ``cpu`` fits about 2.5 h on 2 cores, ``gpu`` is the bigger
#: run to make with an accelerator.
SCALES: dict[str, ReferenceConfig] = {
    "smoke": ReferenceConfig(n_motions=120, tok_width=16, tok_depth=1, tok_bits=4, tok_steps=20, tok_batch=8,
                             tok_window=32, eval_steps=10, eval_batch=16, m0_size="tiny", stage1_steps=10,
                             stage2_steps=5, m0_batch=4, max_frames=48, text_vocab_size=300, prompt_seeds=1,
                             prompt_seconds=2.0, table_repeats=2, mm_captions=2, mm_generations=2, m2t_batch=4,
                             threads=1),
    "cpu": ReferenceConfig(),
    "gpu": ReferenceConfig(n_motions=100_000, tok_bits=14, tok_width=256, tok_depth=3, tok_steps=50_000,
                           tok_batch=256, eval_steps=20_000, eval_batch=256, m0_size="gpt2-medium",
                           stage1_steps=50_000, stage2_steps=20_000, m0_batch=64, max_frames=196,
                           mm_captions=100, mm_generations=30, threads=0),
}  # fmt: skip


def corpus_fingerprint(seed: int = 0, n: int = 16) -> str:
    """The built-in generator's fingerprint for ``seed``
    (:func:`motionbook_lib.data.synthetic.generator_fingerprint`): a model card says which corpus its models were
    trained on, and a test tells when the reference must be retrained."""
    from motionbook_lib.data.synthetic import generator_fingerprint

    return generator_fingerprint(seed, n)


def _cached(path: Path, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The JSON at ``path``, or ``make()`` written there (atomically) first: a finished step is never redone."""
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    value = make()
    write_json(path, value)
    return value


def _throughput(result: Any) -> float:
    """Training tokens/s of an M0 stage: this call's, or, when the stage was already finished (nothing trained
    now), the last rate its training logged in ``metrics.jsonl``."""
    if result.tokens_per_second:
        return float(result.tokens_per_second)
    from motionbook_lib.metrics_log import read_metrics

    m = read_metrics(result.out_dir)
    rates = m[m["name"] == "train/tokens_per_s"]["value"] if len(m) else []
    return float(rates.iloc[-1]) if len(rates) else 0.0


def _rate_summary(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "rate": r["rate"],
        "claims": r["claims"],
        "held": r["held"],
        "per_kind": {k: v["rate"] for k, v in sorted(r["per_kind"].items())},
    }


def evaluate_tokenizer_claims(store: MotionStore, tokenizer: Any, split: str = "test", limit: int = 300) -> dict:
    """Kinematic claims of the split's captions on the ground truth and on the tokenizer's reconstructions."""
    from motionbook_lib.eval.claims import claim_rate
    from motionbook_lib.eval.table import posed_joints

    rows = [int(r) for r in store.split(split)][:limit]
    alpha = int(tokenizer.config.alpha)
    captions, real, recon = [], [], []
    for r in rows:
        f = store.features(r)
        f = f[: len(f) // alpha * alpha]
        betas = store.betas(r)
        with torch.no_grad():
            rec = np.asarray(tokenizer.reconstruct(f), dtype=np.float32)
        captions.append(list(store.captions(r)))
        real.append(posed_joints(f, betas))
        recon.append(posed_joints(rec, betas))
    fps = store.fps(rows)
    return {
        "split": split,
        "motions": len(rows),
        "ground_truth": _rate_summary(claim_rate(captions, real, fps)),
        "reconstruction": _rate_summary(claim_rate(captions, recon, fps)),
    }


def prompt_check(
    pipe: Any, prompts: list[str], seeds: int, seconds: float, guidance_scale: float = 1.0
) -> dict[str, Any]:
    """Generate each prompt with ``seeds`` seeds and check its claims on the joints; the baseline checks each
    prompt on the motions generated for the next prompt (what chance looks like for these claims)."""
    from motionbook_lib.eval.claims import claim_rate

    captions, joints = [], []
    for seed in range(seeds):
        for p in prompts:
            out = pipe.generate_motion(p, seconds=seconds, seed=seed, guidance_scale=guidance_scale)
            captions.append(p)
            joints.append(np.asarray(out["joints"], dtype=np.float64))
    own = claim_rate(captions, joints, pipe.fps)
    shifted = [captions[(i + 1) % len(captions)] for i in range(len(captions))]
    other = claim_rate(shifted, joints, pipe.fps)
    return {
        "prompts": len(prompts),
        "seeds": seeds,
        "seconds": seconds,
        "guidance_scale": guidance_scale,
        "own": _rate_summary(own),
        "other_prompt_baseline": _rate_summary(other),
    }


def part_check(pipe: Any, prompts: list[dict], seeds: int, seconds: float) -> dict[str, Any]:
    """Body-part instructions (:data:`~motionbook_lib.eval.claims.PART_PROMPTS`): generate each from its part lines
    and whole-body line (the part_t2m task) with ``seeds`` seeds, then check on the joints the named part's claim
    (``part``) and the whole-body line's (``whole``). Each baseline checks the claims of the next prompt on this
    prompt's motions (what the claims score on a motion not made for them)."""
    from motionbook_lib.eval.claims import check_caption, claim_rate

    joints, items = [], []
    for seed in range(seeds):
        for p in prompts:
            out = pipe.generate_from_parts(p["parts"], caption=p["caption"], seconds=seconds, seed=seed)
            joints.append(np.asarray(out["joints"], dtype=np.float64))
            items.append(p)
    result: dict[str, Any] = {"prompts": len(prompts), "seeds": seeds, "seconds": seconds}
    for key in ("part", "whole"):
        own = [p[key] for p in items]
        other = [own[(i + 1) % len(own)] for i in range(len(own))]
        result[key] = _rate_summary(claim_rate(own, joints, pipe.fps))
        result[f"{key}_other_prompt_baseline"] = _rate_summary(claim_rate(other, joints, pipe.fps))
    both = [all(r.holds for key in ("part", "whole") for r in check_caption(p[key], j, pipe.fps))
            for p, j in zip(items, joints, strict=True)]  # fmt: skip
    result["both_hold"] = float(np.mean(both)) if both else float("nan")
    return result


def run_reference(
    out: str | os.PathLike,
    config: ReferenceConfig,
    *,
    scale: str | None = None,
    command: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) every step of the recipe into ``out``; returns the results (also ``out/results.json``).
    ``scale`` names the :data:`SCALES` entry ``config`` came from and ``command`` the command line that ran it
    (both recorded for the model card)."""
    from motionbook_lib.eval import EvaluatorConfig, EvaluatorTrainConfig, train_evaluator
    from motionbook_lib.eval.captioning import m2t_scores
    from motionbook_lib.eval.claims import PARAPHRASES, PART_PROMPTS, PROMPTS
    from motionbook_lib.eval.table import t2m_table
    from motionbook_lib.lm import M0Config, M0Pipeline, M0TrainConfig, train_m0
    from motionbook_lib.lm.evaluate import conditioning_gap
    from motionbook_lib.tokenizer import (
        MotionTokenizer,
        TokenizerConfig,
        TrainConfig,
        evaluate_tokenizer,
        train_tokenizer,
    )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recorded = out / "reference_config.json"
    if recorded.is_file():
        have = json.loads(recorded.read_text(encoding="utf-8"))
        if have != config.to_dict():
            diff = sorted(k for k in config.to_dict() if have.get(k) != config.to_dict()[k])
            raise ValueError(f"{recorded}: this folder was made with other settings ({', '.join(diff)}); "
                             "use another --out or the same --scale")  # fmt: skip
    else:
        write_json(recorded, config.to_dict())
    if config.threads:
        torch.set_num_threads(config.threads)
    timings_file = out / "timings.json"
    timings: dict[str, float] = json.loads(timings_file.read_text()) if timings_file.is_file() else {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        log(f"[reference] {name} ...")
        value = fn()
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        write_json(timings_file, timings)
        return value

    store = timed("corpus", lambda: open_or_build_store(None, n=config.n_motions, seed=config.corpus_seed))
    threads = config.threads or 0

    tok_cfg = TokenizerConfig(quantizer="lfq2d", codebook_bits=config.tok_bits, width=config.tok_width,
                              depth=config.tok_depth, w_global_joints=config.tok_w_global_joints,
                              w_foot_contact=config.tok_w_foot_contact)  # fmt: skip
    tok_train = TrainConfig(batch_size=config.tok_batch, window=config.tok_window, lr=config.tok_lr,
                            seed=config.corpus_seed, cpu_threads=threads, log_every=25, ckpt_every=250,
                            eval_every=max(config.tok_steps // 4, 1))  # fmt: skip
    tok = timed("tokenizer", lambda: train_tokenizer(tok_cfg, store, out / "tokenizer", config.tok_steps, tok_train,
                                                     progress=progress))  # fmt: skip
    ev_train = EvaluatorTrainConfig(batch_size=config.eval_batch, cpu_threads=threads, ckpt_every=200)
    evaluator = timed("evaluator", lambda: train_evaluator(EvaluatorConfig(), store, out / "evaluator",
                                                           config.eval_steps, ev_train, progress=progress))  # fmt: skip
    common = dict(batch_size=config.m0_batch, lr=config.m0_lr, max_frames=config.max_frames,
                  seed=config.corpus_seed, cpu_threads=threads, log_every=25, ckpt_every=200,
                  text_vocab_size=config.text_vocab_size, caption_dropout=config.caption_dropout,
                  code_corruption=config.code_corruption,
                  gap_every=max(min(config.stage1_steps, config.stage2_steps) // 4, 1),  # the gap, in metrics.jsonl
                  model=M0Config(size=config.m0_size, max_positions=1024))  # fmt: skip
    s1 = timed("m0_stage1", lambda: train_m0(M0TrainConfig(stage=1, **common), store, tok.model_dir,
                                             out / "m0-stage1", config.stage1_steps, progress=progress))  # fmt: skip
    s2 = timed("m0_stage2", lambda: train_m0(M0TrainConfig(stage=2, init_from=str(s1.model_dir),
                                                           task_weights=config.stage2_task_weights, **common), store,
                                             tok.model_dir, out / "m0-stage2", config.stage2_steps,
                                             progress=progress))  # fmt: skip

    ev_dir = out / "eval"
    mtok = MotionTokenizer.from_pretrained(tok.model_dir).eval()
    pipe = M0Pipeline.from_pretrained(s2.model_dir)
    results: dict[str, Any] = {}

    def evaluation(name: str, make: Callable[[], dict[str, Any]]) -> None:
        results[name] = timed(f"eval_{name}", lambda: _cached(ev_dir / f"{name}.json", make))

    evaluation("tokenizer", lambda: {
        "metrics": evaluate_tokenizer(mtok, store, "test", window=config.tok_window, batch_size=config.tok_batch),
        "claims": evaluate_tokenizer_claims(store, mtok, "test"),
    })  # fmt: skip
    evaluation("conditioning_gap_stage1", lambda: conditioning_gap(s1.model_dir, store, "val", config.max_frames))
    evaluation("conditioning_gap_stage2", lambda: conditioning_gap(s2.model_dir, store, "val", config.max_frames))
    seeds, seconds = config.prompt_seeds, config.prompt_seconds
    for g in sorted({1.0, config.guidance_scale}):
        evaluation(f"prompt_check_g{g:g}", lambda g=g: prompt_check(pipe, PROMPTS, seeds, seconds, g))
    evaluation("paraphrase_check", lambda: prompt_check(pipe, PARAPHRASES, seeds, seconds, config.guidance_scale))
    evaluation("part_check", lambda: part_check(pipe, PART_PROMPTS, seeds, seconds))
    evaluation("t2m_table", lambda: t2m_table(
        store, evaluator.model_dir, tokenizer=tok.model_dir, m0=s2.model_dir, repeats=config.table_repeats,
        mm_captions=config.mm_captions, mm_generations=config.mm_generations, guidance_scale=config.guidance_scale,
        progress=progress).to_dict())  # fmt: skip
    evaluation("m2t", lambda: m2t_scores(pipe, store, evaluator.model_dir, "test", limit=config.m2t_motions or None,
                                         batch_size=config.m2t_batch, repeats=config.table_repeats,
                                         progress=progress))  # fmt: skip
    summary = {
        "recipe_version": RECIPE_VERSION,
        "scale": scale,
        "command": command,
        "config": config.to_dict(),
        "corpus": {"path": str(store.path), "motions": len(store),
                   "splits": {s: len(store.split(s)) for s in ("train", "val", "test")},
                   "generator_fingerprint": corpus_fingerprint(config.corpus_seed)},
        "models": {"tokenizer": str(tok.model_dir), "evaluator": str(evaluator.model_dir),
                   "m0_stage1": str(s1.model_dir), "m0_stage2": str(s2.model_dir)},
        "machine": {"platform": platform.platform(), "cores": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"},
        "timings_s": timings,
        "m0_tokens_per_s": {"stage1": _throughput(s1), "stage2": _throughput(s2)},
        "results": results,
    }  # fmt: skip
    write_json(out / "results.json", summary)
    return summary


def scaled(name: str, **overrides: Any) -> ReferenceConfig:
    """The named scale with some fields changed."""
    if name not in SCALES:
        raise ValueError(f"unknown scale {name!r}; expected one of {', '.join(SCALES)}")
    return replace(SCALES[name], **overrides)
