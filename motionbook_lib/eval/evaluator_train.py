"""Resumable contrastive training of the evaluator (:func:`train_evaluator`; see :mod:`motionbook_lib.eval.evaluator`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from motionbook_lib.atomic import write_json as atomic_write_json
from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.eval.evaluator_config import (
    CKPT_FORMAT,
    CURVE_FIELDS,
    EVAL_FILE,
    FINAL_DIR,
    MODEL_FILE,
    VOCAB_FILE,
    EvaluatorConfig,
    EvaluatorTrainConfig,
)
from motionbook_lib.eval.modeling_evaluator import Evaluator, _captioned, build_vocab, evaluate_retrieval
from motionbook_lib.metrics_log import append_metrics, truncate_metrics
from motionbook_lib.training import (
    CKPT_DIR,
    STATE_FILE,
    EpochBatchSampler,
    latest_checkpoint,
    lr_factor,
    optimizer_from_files,
    read_json,
    set_rng_state,
    write_checkpoint,
    write_json,
)

__all__ = ["EvaluatorTrainResult", "train_evaluator"]

# ----------------------------------------------------------------------------------------------
# training


@dataclass
class EvaluatorTrainResult:
    out_dir: Path
    model_dir: Path  # folder loadable with Evaluator.from_pretrained
    step: int
    resumed_from: int | None
    losses: dict[int, float] = field(default_factory=dict)  # step -> loss, steps run by this call
    metrics: dict[str, float] = field(default_factory=dict)  # retrieval metrics, e.g. {"val/R@1": ...}
    text_encoder_name: str = ""
    train_seconds: float = 0.0  # optimisation loop (no evaluation, no caption precomputation)
    setup_seconds: float = 0.0  # model loading and caption precomputation


def _store_fingerprint(store: MotionStore) -> dict[str, Any]:
    counts = store.info.get("counts", {})
    return {"motions": len(store), "frames": counts.get("frames")}


def _check_resume(state_file: Path, state: dict, expected: dict, checkpoint: bool = True) -> None:
    """``state`` (a checkpoint's trainer state, or with ``checkpoint=False`` a run's train_config.json) was made
    with ``expected``'s settings, else a ValueError naming the file and the fields that differ."""
    if checkpoint and state.get("format") != CKPT_FORMAT:
        raise ValueError(f"{state_file}: not an evaluator training checkpoint (format {state.get('format')!r})")
    diffs = [k for k in ("evaluator_config", "steps", "store") if state.get(k) != expected[k]]
    saved = state.get("train_config", {})
    diffs += [f"train_config.{k}" for k in CURVE_FIELDS if saved.get(k) != expected["train_config"][k]]
    if diffs:
        raise ValueError(
            f"{state_file}: checkpoint was made with other settings ({', '.join(diffs)} differ); "
            "use another out_dir or the same settings to resume"
        )


def _negative_mask(evaluator: Evaluator, captions: list[str], feats: torch.Tensor) -> torch.Tensor:
    """(B, B) bool: off-diagonal pairs whose captions are near-duplicates (masked as negatives)."""
    b = len(captions)
    if evaluator.pretrained_text:
        f = F.normalize(feats.detach().float(), dim=-1)
        same = f @ f.T > evaluator.config.negative_threshold
    else:
        ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
        code = torch.tensor([ids[c] for c in captions], device=feats.device)
        same = code[:, None] == code[None, :]
    return same & ~torch.eye(b, dtype=torch.bool, device=same.device)


def train_evaluator(
    config: EvaluatorConfig,
    store: str | os.PathLike | MotionStore,
    out_dir: str | os.PathLike,
    steps: int,
    train_config: EvaluatorTrainConfig | None = None,
    *,
    progress: bool = True,
    resume: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> EvaluatorTrainResult:
    """Train (or resume, or return) an evaluator on the store's train split for ``steps`` steps.

    Args:
        config: the evaluator.
        store: a motion store (folder or :class:`MotionStore`); train split, captions and normalizer.
        out_dir: training folder (module docstring); resumed from its newest checkpoint; a finished
            run (``final/eval.json`` at ``steps``) returns at once.
        steps: total optimizer steps (a resume must use the same number).
        train_config: optimisation settings (default :class:`EvaluatorTrainConfig`).
        progress: tqdm bars.
        resume: False refuses to start over an existing checkpoint.
        callback: ``callback(step, terms)`` after every step; an exception there stops the run like a crash.
    """
    from tqdm.auto import tqdm

    train = train_config or EvaluatorTrainConfig()
    if not isinstance(config, EvaluatorConfig):
        raise ValueError(f"config must be an EvaluatorConfig, got {type(config).__name__}")
    if not isinstance(train, EvaluatorTrainConfig):
        raise ValueError(f"train_config must be an EvaluatorTrainConfig, got {type(train).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    store = open_store(store)
    out = Path(out_dir)
    expected = {"evaluator_config": config.to_dict(), "train_config": train.to_dict(), "steps": steps,
                "store": _store_fingerprint(store)}  # fmt: skip

    # -- a finished run, or a checkpoint to resume
    ckpt = latest_checkpoint(out)
    state: dict[str, Any] = {}
    final, done = out / FINAL_DIR, out / FINAL_DIR / EVAL_FILE

    def finished() -> EvaluatorTrainResult | None:
        if not (done.is_file() and (final / MODEL_FILE).is_file()):
            return None
        summary = read_json(done)
        if summary.get("step") != steps:
            return None
        return EvaluatorTrainResult(out, final, steps, steps, {}, dict(summary.get("metrics", {})),
                                    str(summary.get("text_encoder_name", "")))  # fmt: skip

    if ckpt is not None:
        state = read_json(ckpt / STATE_FILE)
        if not resume:
            raise ValueError(
                f"{ckpt / STATE_FILE}: {out} already holds a checkpoint; pass resume=True or another out_dir"
            )
        _check_resume(ckpt / STATE_FILE, state, expected)
        if state["step"] == steps and (result := finished()) is not None:
            return result
    elif (out / "train_config.json").is_file() and done.is_file():
        # a finished run whose checkpoints were deleted (e.g. a results folder kept small): its recorded
        # settings must match, then its final model is the answer
        _check_resume(out / "train_config.json", read_json(out / "train_config.json"), expected, checkpoint=False)
        if (result := finished()) is not None:
            return result

    t_setup = time.perf_counter()
    if train.cpu_threads:
        torch.set_num_threads(train.cpu_threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if train.device == "auto" else train.device)
    rows, caps = _captioned(store, "train", train.max_captions)
    if len(rows) < train.batch_size:
        raise ValueError(
            f"the train split of {store.path} has {len(rows)} captioned motions, fewer than one batch of "
            f"{train.batch_size}; lower batch_size or use a bigger store"
        )
    eval_split = train.eval_split
    if len(_captioned(store, eval_split)[0]) < 3:
        eval_split = "train"
    vocab = None
    if config.text_kind == "scratch":
        vocab = (
            Evaluator._read_vocab(ckpt / VOCAB_FILE)
            if ckpt is not None
            else build_vocab([c for cs in caps for c in cs], config.scratch_min_count)
        )

    torch.manual_seed(train.seed)
    model = Evaluator(config, store.normalizer, vocab).to(device)
    backbone = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("text.")]
    own = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("text.")]
    groups = [{"params": own, "lr": train.lr}]
    if backbone and model.pretrained_text:
        groups.append({"params": backbone, "lr": train.backbone_lr})
    else:
        groups[0]["params"] = own + backbone  # scratch text encoder: trained at the main lr
    optimizer = torch.optim.AdamW(groups, weight_decay=train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps, train.warmup_ratio, train.min_lr_ratio)
    )
    step, epoch, batch_in_epoch, resumed_from = 0, 0, 0, None
    if ckpt is not None:
        model.load_weights(ckpt / MODEL_FILE)
        optimizer.load_state_dict(
            optimizer_from_files(load_file(str(ckpt / "optimizer.safetensors")), read_json(ckpt / "optimizer.json"))
        )
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(load_file(str(ckpt / "rng-rank0.safetensors")), read_json(ckpt / "rng-rank0.json"))
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        resumed_from = step

    out.mkdir(parents=True, exist_ok=True)
    if (out / CKPT_DIR).exists():
        for stale in (out / CKPT_DIR).glob(".step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    truncate_metrics(out / "metrics.jsonl", step)
    write_json(out / "train_config.json", {**expected, "store_path": str(store.path),
                                           "text_encoder_name": model.text_encoder_name})  # fmt: skip
    model.cache_text([c for cs in caps for c in cs], train.text_batch_size, progress)
    setup_seconds = time.perf_counter() - t_setup

    single = SimpleNamespace(is_main_process=True, process_index=0, wait_for_everyone=lambda: None)

    def save_checkpoint() -> None:
        ckpt_state = {"format": CKPT_FORMAT, **expected, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                      "scheduler": scheduler.state_dict()}  # fmt: skip
        write_checkpoint(out, step, single, model._write, optimizer, ckpt_state, train.keep_checkpoints)

    def run_eval() -> dict[str, float]:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            res = evaluate_retrieval(model, store, eval_split, train.eval_batch_size)
        return {f"{eval_split}/{k}": v for k, v in res.items()}

    sampler = EpochBatchSampler(len(rows), train.batch_size, seed=train.seed)
    losses: dict[int, float] = {}
    bar = tqdm(total=steps, initial=step, disable=not progress, desc=f"evaluator ({config.text_kind})", unit="step")
    t0, t_eval = time.perf_counter(), 0.0
    temp = float(config.temperature)
    while step < steps:
        sampler.set_position(epoch, batch_in_epoch)
        for batch in sampler:
            model.train()
            rng = np.random.default_rng([train.seed, step])  # this step's captions and crops
            texts, clips = [], []
            for j in batch:
                texts.append(caps[j][int(rng.integers(len(caps[j])))])
                feat = store.features(int(rows[j]))  # (T, 135)
                w = min(feat.shape[0], config.max_frames)
                s = int(rng.integers(feat.shape[0] - w + 1))
                clips.append(feat[s : s + w])
            t_emb, feats = model.embed_text(texts)  # (B, E), (B, H)
            x, lengths = model.normalize_motions(clips)  # (B, T, 135), (B,)
            m_emb = model.embed_motion(x, lengths)  # (B, E)
            logits = t_emb @ m_emb.T / temp  # (B, B) text i vs motion j
            masked = _negative_mask(model, texts, feats)
            logits = logits.masked_fill(masked, float("-inf"))
            target = torch.arange(len(batch), device=device)
            loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip) if train.grad_clip else None
            optimizer.step()
            scheduler.step()
            step += 1
            batch_in_epoch += 1
            if batch_in_epoch == sampler.batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
            terms = {"loss": float(loss.detach()), "acc": float((logits.argmax(1) == target).float().mean()),
                     "masked_negatives": float(masked.float().mean())}  # fmt: skip
            losses[step] = terms["loss"]
            bar.update(1)
            if step % train.log_every == 0 or step == steps:
                values = {f"train/{k}": v for k, v in terms.items()}
                values["train/lr"] = scheduler.get_last_lr()[0]
                if grad_norm is not None:
                    values["train/grad_norm"] = float(grad_norm)
                append_metrics(out, values, step)
                bar.set_postfix(loss=f"{terms['loss']:.3f}", acc=f"{terms['acc']:.2f}")
            if train.eval_every and step % train.eval_every == 0 and step < steps:
                te = time.perf_counter()
                append_metrics(out, run_eval(), step)
                t_eval += time.perf_counter() - te
            if (train.ckpt_every and step % train.ckpt_every == 0) or step == steps:
                save_checkpoint()
            if callback is not None:
                callback(step, terms)
            if step >= steps:
                break
    bar.close()
    train_seconds = time.perf_counter() - t0 - t_eval
    metrics = run_eval()
    append_metrics(out, metrics, step)
    final = model.save_pretrained(out / FINAL_DIR)
    atomic_write_json(final / EVAL_FILE, {"step": step, "split": eval_split, "metrics": metrics,
                                          "text_encoder_name": model.text_encoder_name,
                                          "train_seconds": train_seconds}, sort_keys=True)  # fmt: skip
    model.clear_text_cache()
    return EvaluatorTrainResult(out, final, step, resumed_from, losses, metrics, model.text_encoder_name,
                                train_seconds, setup_seconds)  # fmt: skip
