"""Train a motion tokenizer on a motion store with ``accelerate`` (CPU, one GPU or many, same code).

Layout of a training folder (``out_dir``)::

    out_dir/
      metrics.jsonl                 loss terms, lr, grad norm, MPJPE (mm), codebook use (records in the
                                    format of motionbook_lib.runs.log_metric, appended)
      checkpoints/step-00000200/    config.json, model.safetensors, normalizer.safetensors (a loadable
                                    tokenizer), optimizer.safetensors + optimizer.json, rng-rank<r>.safetensors
                                    + .json per process, trainer_state.json (written last)
      final/                        the trained tokenizer (MotionTokenizer.from_pretrained) + eval.json
      tensorboard/                  event files, when the ``tensorboard`` package is installed

A checkpoint is written into ``.step-XXXXXXXX.tmp`` and renamed, so a folder named ``step-*`` is always
complete. Everything is safetensors + JSON (no pickle): model, AdamW moments, the LR schedule, the
step, the data position (epoch, batch in epoch) and every random generator the run touches (torch,
CUDA, numpy, Python), one file per process. Calling :func:`train_tokenizer` again with the same
``out_dir`` resumes from the newest checkpoint and reproduces the uninterrupted run's losses exactly
(same device and process count); metric lines logged after that checkpoint by the killed run are dropped.

Batches: every epoch draws a permutation of the training clips from ``(seed, epoch)``; a global batch
of ``batch_size * processes`` clips is cut from it and each process takes its slice, so the data
order does not depend on how the run was interrupted. ``steps`` counts optimizer steps.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from motionbook_lib.data.store import MotionDataset, MotionStore, collate_motions, open_store
from motionbook_lib.features.d135 import D135_ROOT_VEL, d135_to_joints
from motionbook_lib.metrics_log import append_metrics, drop_metrics, truncate_metrics
from motionbook_lib.tokenizer.config import TokenizerConfig, TrainConfig
from motionbook_lib.tokenizer.losses import (
    codebook_usage,
    features_to_global_joints,
    features_to_joints,
    masked_mean,
    mpjpe_mm,
    root_path_error_m,
    tokenizer_losses,
)
from motionbook_lib.tokenizer.modeling_tokenizer import MotionTokenizer
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

__all__ = [
    "EpochBatchSampler",
    "TrainResult",
    "evaluate_tokenizer",
    "global_motion_metrics",
    "latest_checkpoint",
    "train_tokenizer",
]

FINAL_DIR = "final"
CKPT_FORMAT = "motionbook.tokenizer-checkpoint"
#: seconds of each clip over which evaluate_tokenizer measures the global motion (root path, skating)
PATH_SECONDS = 4.0
#: root speed (m/s) above which a frame counts as moving backwards / sideways for the velocity-sign metrics
MOVING_SPEED = 0.2
#: TrainConfig fields that shape the loss curve: a resume must keep them.
CURVE_FIELDS = (
    "batch_size",
    "window",
    "lr",
    "weight_decay",
    "betas",
    "warmup_ratio",
    "min_lr_ratio",
    "grad_clip",
    "seed",
    "mixed_precision",
)


@dataclass
class TrainResult:
    out_dir: Path
    model_dir: Path  # out_dir / "final": MotionTokenizer.from_pretrained(model_dir)
    step: int
    resumed_from: int | None  # checkpoint step this call started from (None: from scratch)
    losses: dict[int, float] = field(default_factory=dict)  # step -> total loss, steps run by this call
    metrics: dict[str, float] = field(default_factory=dict)  # final evaluation
    train_seconds: float = 0.0
    steps_per_second: float = 0.0
    tensorboard: bool = False


# ----------------------------------------------------------------------------------------------
# data order


# ----------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def evaluate_tokenizer(
    model: MotionTokenizer,
    store: MotionStore | str | os.PathLike,
    split: str = "test",
    window: int = 64,
    batch_size: int = 32,
    max_batches: int = 0,
    path_seconds: float | None = PATH_SECONDS,
) -> dict[str, float]:
    """Reconstruction quality and codebook use on the first ``window`` frames of each clip of ``split``.

    Returns ``mse`` (normalized features, the per-channel-mean predictor scores about 1), ``mse_mean``
    (that predictor's score on the same windows), ``mpjpe_mm`` (pelvis-relative, neutral body),
    ``utilization`` (share of the codebook used) and ``perplexity`` (exp of the code entropy), plus
    ``windows`` evaluated.

    With ``path_seconds`` (default 4 s; None skips it) a second pass over the first ``path_frames``
    frames of each clip (``path_seconds`` at the store's fps, rounded up to a multiple of alpha) measures
    the global motion, which the pelvis-relative MPJPE cannot see (see :func:`global_motion_metrics`):
    ``root_path_m``, ``global_mpjpe_mm``, ``foot_skate`` / ``foot_skate_gt`` / ``foot_skate_ratio``,
    ``vel_sign_backward`` / ``vel_sign_sideways`` and their frame counts, and ``path_frames``.
    """
    if window % model.config.alpha:
        raise ValueError(f"window={window} must be a multiple of alpha={model.config.alpha}")
    ds = MotionDataset(store, split, window=window, crop="start", normalize=True)
    if len(ds) == 0:
        raise ValueError(f"split {split!r} of the store has no motions to evaluate on")
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_motions)
    was_training = model.training
    model.eval()
    alpha = model.config.alpha
    sums = {"se": 0.0, "se0": 0.0, "cells": 0.0, "mpjpe": 0.0, "frames": 0.0, "windows": 0.0}
    tokens = []
    try:
        for b, batch in enumerate(loader):
            if max_batches and b >= max_batches:
                break
            x = batch["features"].to(model.device)  # (B, W, 135)
            mask = batch["mask"].to(model.device)  # (B, W)
            out = model(x)
            n = float(mask.sum()) * x.shape[-1]
            sums["se"] += float(masked_mean((out.recon - x) ** 2, mask)) * n
            sums["se0"] += float(masked_mean(x**2, mask)) * n
            sums["cells"] += n
            j_rec = features_to_joints(out.recon, model.feat_mean, model.feat_std)
            j_gt = features_to_joints(x, model.feat_mean, model.feat_std)
            sums["mpjpe"] += float(mpjpe_mm(j_rec, j_gt, mask)) * float(mask.sum())
            sums["frames"] += float(mask.sum())
            sums["windows"] += x.shape[0]
            tokens.append(out.tokens[mask[:, ::alpha]].cpu())  # valid steps: (N, ...) tokens
    finally:
        model.train(was_training)
    usage = codebook_usage(torch.cat(tokens), model.config.codebook_size, levels=model.config.quantizer == "rvq")
    metrics = {
        "mse": sums["se"] / sums["cells"],
        "mse_mean": sums["se0"] / sums["cells"],
        "mpjpe_mm": sums["mpjpe"] / sums["frames"],
        **usage,
        "windows": sums["windows"],
    }
    if path_seconds is not None:
        metrics.update(global_motion_metrics(model, ds.store, split, path_seconds, batch_size, max_batches))
    return metrics


@torch.no_grad()
def global_motion_metrics(
    model: MotionTokenizer,
    store: MotionStore | str | os.PathLike,
    split: str = "test",
    seconds: float = PATH_SECONDS,
    batch_size: int = 32,
    max_batches: int = 0,
) -> dict[str, float]:
    """How well reconstructions keep the motion in the world, on the first ``seconds`` of each clip.

    Raw features are normalized with the model's own statistics; reconstruction and target are decoded
    by FK (neutral body) with the root integrated from the same start. Returns:

    - ``root_path_m``: mean over valid frames of the XZ distance between the two root paths (m);
    - ``global_mpjpe_mm``: mean joint position error of those global joints (mm, not pelvis-relative);
    - ``foot_skate`` / ``foot_skate_gt``: mean horizontal foot speed in contact (m/s,
      :func:`motionbook_lib.data.quality.foot_skating`, pooled over contact samples) of the
      reconstructions and of the targets, and ``foot_skate_ratio`` = their quotient;
    - ``foot_skate_locked``, ``foot_skate_ratio_locked``, ``root_path_m_locked``: the same for the reconstructions
      after foot locking at decode (:func:`motionbook_lib.tokenizer.foot_lock.lock_feet`, what M0's pipeline does);
    - ``vel_sign_backward``: share of the frames whose target root moves backwards (heading-frame
      velocity z < -``MOVING_SPEED``) where the reconstruction's also points backwards;
      ``vel_sign_sideways``: the same for sideways frames (|x| > ``MOVING_SPEED`` and |x| > |z|) and the sign of x;
      NaN when no such frame (``vel_sign_*_frames`` counts them);
    - ``path_frames``: the window length used (``seconds`` x fps, rounded up to a multiple of alpha).
    """
    from motionbook_lib.data.quality import foot_skating
    from motionbook_lib.tokenizer.foot_lock import lock_feet

    store = open_store(store)
    fps = store.fps(store.split(split))
    alpha = model.config.alpha
    frames = max(alpha, -(-round(seconds * fps) // alpha) * alpha)
    ds = MotionDataset(store, split, window=frames, crop="start", normalize=False)
    if len(ds) == 0:
        raise ValueError(f"split {split!r} of the store has no motions to evaluate on")
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_motions)
    mean, std = model.feat_mean, model.feat_std
    moving = MOVING_SPEED / fps  # m/frame
    s = dict.fromkeys(("path", "global", "frames", "skate", "skate_n", "skate_gt", "skate_gt_n", "back", "back_n",
                       "side", "side_n", "path_locked", "skate_locked", "skate_locked_n"), 0.0)  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        for b, batch in enumerate(loader):
            if max_batches and b >= max_batches:
                break
            mask = batch["mask"].to(model.device)  # (B, F)
            raw = batch["features"].to(model.device)  # (B, F, 135) raw D135, zero-padded
            x = (raw - mean) / std * mask[..., None]  # normalized, padding at 0 as in training
            rec = model(x).recon
            g_rec = features_to_global_joints(rec, mean, std)  # (B, F, 22, 3)
            g_gt = features_to_global_joints(x, mean, std)
            valid = float(mask.sum())
            s["path"] += float(root_path_error_m(g_rec, g_gt, mask)) * valid
            s["global"] += float(mpjpe_mm(g_rec, g_gt, mask)) * valid
            s["frames"] += valid
            for i, n in enumerate(mask.sum(1).tolist()):
                n = int(n)
                locked = d135_to_joints(lock_feet((rec[i, :n] * std + mean).cpu(), fps=fps).float())  # (n, 22, 3)
                for key, g in (("skate", g_rec[i, :n]), ("skate_gt", g_gt[i, :n]), ("skate_locked", locked)):
                    fs = foot_skating(g.double().cpu().numpy(), fps)
                    s[key] += fs["mean_speed"] * fs["n_contact"]
                    s[key + "_n"] += fs["n_contact"]
                s["path_locked"] += float(root_path_error_m(locked, g_gt[i, :n].cpu())) * n
            v_gt = (x * std + mean)[..., D135_ROOT_VEL]  # (B, F, 2) heading-frame root velocity
            v_rec = (rec * std + mean)[..., D135_ROOT_VEL]
            back = mask & (v_gt[..., 1] < -moving)
            side = mask & (v_gt[..., 0].abs() > moving) & (v_gt[..., 0].abs() > v_gt[..., 1].abs())
            s["back"] += float((back & (v_rec[..., 1] < 0)).sum())
            s["back_n"] += float(back.sum())
            s["side"] += float((side & (v_rec[..., 0].sign() == v_gt[..., 0].sign())).sum())
            s["side_n"] += float(side.sum())
    finally:
        model.train(was_training)
    skate = s["skate"] / s["skate_n"] if s["skate_n"] else 0.0
    skate_gt = s["skate_gt"] / s["skate_gt_n"] if s["skate_gt_n"] else 0.0
    skate_locked = s["skate_locked"] / s["skate_locked_n"] if s["skate_locked_n"] else 0.0
    return {
        "root_path_m": s["path"] / s["frames"],
        "root_path_m_locked": s["path_locked"] / s["frames"],
        "foot_skate_locked": skate_locked,
        "foot_skate_ratio_locked": skate_locked / skate_gt if skate_gt > 0 else float("nan"),
        "global_mpjpe_mm": s["global"] / s["frames"],
        "foot_skate": skate,
        "foot_skate_gt": skate_gt,
        "foot_skate_ratio": skate / skate_gt if skate_gt > 0 else float("nan"),
        "vel_sign_backward": s["back"] / s["back_n"] if s["back_n"] else float("nan"),
        "vel_sign_backward_frames": s["back_n"],
        "vel_sign_sideways": s["side"] / s["side_n"] if s["side_n"] else float("nan"),
        "vel_sign_sideways_frames": s["side_n"],
        "path_frames": float(frames),
    }


# ----------------------------------------------------------------------------------------------
# training


def _store_fingerprint(store: MotionStore) -> dict[str, Any]:
    counts = store.info.get("counts", {})
    return {"motions": len(store), "frames": counts.get("frames")}


def _check_resume(state_file: Path, state: dict, expected: dict) -> None:
    """ValueError naming ``state_file`` when the checkpoint was made with other settings."""
    if state.get("format") != CKPT_FORMAT:
        raise ValueError(f"{state_file}: not a tokenizer training checkpoint (format {state.get('format')!r})")
    diffs = []
    for key in ("tokenizer_config", "steps", "num_processes", "store"):
        if state.get(key) != expected[key]:
            diffs.append(key)
    saved_train = state.get("train_config", {})
    diffs += [f"train_config.{k}" for k in CURVE_FIELDS if saved_train.get(k) != expected["train_config"][k]]
    if diffs:
        raise ValueError(
            f"{state_file}: checkpoint was made with other settings ({', '.join(diffs)} differ); "
            "use another out_dir or the same settings to resume"
        )


def train_tokenizer(
    config: TokenizerConfig,
    store_path: str | os.PathLike | MotionStore,
    out_dir: str | os.PathLike,
    steps: int,
    train: TrainConfig | None = None,
    *,
    resume: bool = True,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train (or resume) a tokenizer for ``steps`` optimizer steps; returns the trained model's folder.

    Args:
        config: the tokenizer to train.
        store_path: a motion store (folder or :class:`MotionStore`); its train split and normalizer are used.
        out_dir: training folder (see the module docstring); resumed when it holds a checkpoint.
        steps: total optimizer steps of the run (a resumed run must use the same number).
        train: optimisation settings (default :class:`TrainConfig`).
        resume: False refuses to start over an existing checkpoint instead of resuming it.
        progress: show a tqdm bar (main process only).
        callback: ``callback(step, terms)`` after every step (terms: float loss terms); an exception
            raised there stops the run like a crash would.

    The model is initialised after ``torch.manual_seed(train.seed)`` (the global generator is seeded),
    and ``train.cpu_threads`` > 0 sets ``torch.set_num_threads`` for the process.
    """
    from accelerate import Accelerator
    from accelerate.utils import is_tensorboard_available
    from tqdm.auto import tqdm

    train = train or TrainConfig()
    if not isinstance(config, TokenizerConfig):
        raise ValueError(f"config must be a TokenizerConfig, got {type(config).__name__}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if train.window % config.alpha:
        raise ValueError(f"train.window={train.window} must be a multiple of alpha={config.alpha}")
    store = open_store(store_path)
    out = Path(out_dir)
    if train.cpu_threads:
        torch.set_num_threads(train.cpu_threads)

    use_tb = is_tensorboard_available()
    accelerator = Accelerator(
        mixed_precision=train.mixed_precision,
        log_with="tensorboard" if use_tb else None,
        project_dir=str(out),
        cpu=not torch.cuda.is_available(),  # so several CPU processes run as DDP over gloo
    )
    main = accelerator.is_main_process
    world, rank = accelerator.num_processes, accelerator.process_index

    # -- data
    dataset = MotionDataset(store, "train", window=train.window, crop="random", normalize=True, seed=train.seed)
    sampler = EpochBatchSampler(len(dataset), train.batch_size, world, rank, seed=train.seed)
    if sampler.batches_per_epoch == 0:
        raise ValueError(
            f"the train split has {len(dataset)} clips, fewer than one global batch of "
            f"{train.batch_size * world}; lower batch_size or use a bigger store"
        )
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_motions,
        num_workers=train.num_workers,
        generator=torch.Generator().manual_seed(train.seed),
    )  # keeps the global RNG untouched

    # -- model, optimizer, schedule
    torch.manual_seed(train.seed)
    model = MotionTokenizer(config, store.normalizer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, betas=train.betas, weight_decay=train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps, train.warmup_ratio, train.min_lr_ratio)
    )

    expected = {
        "tokenizer_config": config.to_dict(),
        "train_config": train.to_dict(),
        "steps": steps,
        "num_processes": world,
        "store": _store_fingerprint(store),
    }
    step, epoch, batch_in_epoch, resumed_from = 0, 0, 0, None
    ckpt = latest_checkpoint(out)
    if ckpt is not None:
        state = read_json(ckpt / STATE_FILE)
        if not resume:
            raise ValueError(
                f"{ckpt / STATE_FILE}: {out} already holds a checkpoint; pass resume=True or another out_dir"
            )
        _check_resume(ckpt / STATE_FILE, state, expected)
        model.load_weights(ckpt / "model.safetensors")
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        resumed_from = step
    model, optimizer = accelerator.prepare(model, optimizer)
    net = accelerator.unwrap_model(model)
    if ckpt is not None:
        optimizer.load_state_dict(
            optimizer_from_files(load_file(str(ckpt / "optimizer.safetensors")), read_json(ckpt / "optimizer.json"))
        )
        scheduler.load_state_dict(state["scheduler"])
        rng_file = ckpt / f"rng-rank{rank}.safetensors"
        set_rng_state(load_file(str(rng_file)), read_json(rng_file.with_suffix(".json")))

    if main:
        out.mkdir(parents=True, exist_ok=True)
        for stale in (out / CKPT_DIR).glob(".step-*.tmp") if (out / CKPT_DIR).exists() else []:
            shutil.rmtree(stale, ignore_errors=True)
        truncate_metrics(out / "metrics.jsonl", step)
        if step == steps:  # a finished run (or one killed after its last step): the final evaluation is logged again
            drop_metrics(out / "metrics.jsonl", step, "val/")
        write_json(out / "train_config.json", {**expected, "store_path": str(store.path)})
    if use_tb:
        hparams = {
            k: v
            for k, v in {**config.to_dict(), **train.to_dict(), "steps": steps}.items()
            if isinstance(v, int | float | str | bool)
        }
        accelerator.init_trackers("tensorboard", config=hparams)
    elif main and progress:
        print("[tokenizer] tensorboard is not installed: metrics go to metrics.jsonl only", file=sys.stderr)
    accelerator.wait_for_everyone()

    def save_checkpoint() -> None:
        state = {"format": CKPT_FORMAT, **expected, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                 "scheduler": scheduler.state_dict()}  # fmt: skip
        write_checkpoint(out, step, accelerator, net._write, optimizer, state, train.keep_checkpoints)

    def run_eval() -> dict[str, float]:
        split = train.eval_split if len(store.split(train.eval_split)) else "train"
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):  # evaluation never shifts the training randomness
            return evaluate_tokenizer(net, store, split, train.window, train.batch_size, train.eval_batches)

    def log(values: dict[str, float], at: int) -> None:
        if main:
            append_metrics(out, values, at)
        if use_tb:
            accelerator.log(values, step=at)

    # -- the loop
    losses: dict[int, float] = {}
    bar = tqdm(
        total=steps,
        initial=step,
        disable=not (progress and accelerator.is_local_main_process),
        desc=f"tokenizer {config.quantizer}",
        unit="step",
    )
    t0, t_eval, first_step = time.perf_counter(), 0.0, step
    alpha = config.alpha
    while step < steps:
        sampler.set_position(epoch, batch_in_epoch)
        dataset.set_epoch(epoch)
        for batch in loader:
            model.train()
            x = batch["features"].to(accelerator.device)  # (B, W, 135)
            mask = batch["mask"].to(accelerator.device)  # (B, W)
            with accelerator.autocast():
                out_ = model(x)
            loss, terms = tokenizer_losses(
                config, x, out_.recon, out_.commit, out_.entropy, net.feat_mean, net.feat_std, mask
            )
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), train.grad_clip) if train.grad_clip else None
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            batch_in_epoch += 1
            if batch_in_epoch == sampler.batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
            losses[step] = float(terms["loss"])
            bar.update(1)
            if step % train.log_every == 0 or step == steps:
                values = {f"train/{k}": float(v) for k, v in accelerator.reduce(terms, "mean").items()}
                values["train/lr"] = scheduler.get_last_lr()[0]
                if grad_norm is not None:
                    values["train/grad_norm"] = float(grad_norm)
                usage = codebook_usage(
                    out_.tokens[mask[:, ::alpha]], config.codebook_size, levels=config.quantizer == "rvq"
                )
                values.update({f"train/{k}": v for k, v in usage.items()})
                log(values, step)
                bar.set_postfix(loss=f"{values['train/loss']:.4f}", mpjpe=f"{values['train/mpjpe_mm']:.1f}mm")
            if train.eval_every and step % train.eval_every == 0 and step < steps:
                te = time.perf_counter()
                log({f"val/{k}": v for k, v in run_eval().items()}, step)
                t_eval += time.perf_counter() - te
            if (train.ckpt_every and step % train.ckpt_every == 0) or step == steps:
                save_checkpoint()
            if callback is not None:
                callback(step, {k: float(v) for k, v in terms.items()})
            if step >= steps:
                break
    bar.close()
    train_seconds = time.perf_counter() - t0 - t_eval
    metrics = run_eval()
    log({f"val/{k}": v for k, v in metrics.items()}, step)
    final = out / FINAL_DIR
    if main:
        net.save_pretrained(final)
        write_json(final / "eval.json", {"step": step, "split": train.eval_split, **metrics})
    accelerator.wait_for_everyone()
    if use_tb:
        accelerator.end_training()
    done = step - first_step
    return TrainResult(
        out,
        final,
        step,
        resumed_from,
        losses,
        metrics,
        train_seconds,
        done / train_seconds if done and train_seconds > 0 else 0.0,
        use_tb,
    )
