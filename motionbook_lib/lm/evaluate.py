"""Held-out language-model loss of M0 on text-to-motion examples of a store split.

Every motion of the split (cropped to ``max_frames``, whole token steps) becomes one example with a text-to-motion
template of the model's training stage (stage 1: ``align_t2m``; stage 2: one of the ``t2m_*`` templates) and one of
its captions, both chosen from ``(seed, motion position)``, so the number is deterministic and comparable between
models that share the motion and text tokenizers (e.g. the cells of a scaling sweep). Two means are reported:

- ``loss``: cross entropy per predicted token over the whole sequence (prompt, motion and EOS), as in training;
- ``motion_loss``: only the positions whose target is a motion token ``<motion_id_k>`` or the closing ``</mot>``.

:func:`conditioning_gap` measures whether M0 reads its caption at all: the motion-token loss of each motion with
a caption of *another* motion minus the loss with its own caption (nats per motion token). A model that ignores
the text scores 0; the larger the gap, the more the caption tells the model about the motion.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.lm.dataset import collate_examples, encode_example
from motionbook_lib.lm.pipeline import PIPELINE_FILE, M0Pipeline
from motionbook_lib.lm.templates import build_example, templates_for
from motionbook_lib.lm.text_tokenizer import motion_token_ids
from motionbook_lib.lm.train import FINAL_DIR, tokenize_corpus
from motionbook_lib.training import read_json

__all__ = ["conditioning_gap", "m0_eval_loss", "t2m_eval_examples"]


def _load(model: str | os.PathLike | M0Pipeline) -> tuple[M0Pipeline, int | None]:
    """The pipeline and, when loaded from a folder, the stage it was trained at."""
    if isinstance(model, M0Pipeline):
        return model, None
    folder = Path(model)
    if not (folder / PIPELINE_FILE).exists() and (folder / FINAL_DIR / PIPELINE_FILE).exists():
        folder = folder / FINAL_DIR  # a training folder: use its final model
    pipe = M0Pipeline.from_pretrained(folder)
    return pipe, read_json(folder / PIPELINE_FILE).get("stage")


def _derangement(n: int, seed: int) -> np.ndarray:
    """A permutation of 0..n-1 with no fixed point (n >= 2), fixed by ``seed``: a random n-cycle (Sattolo)."""
    rng = np.random.default_rng([seed, 23])
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))  # j < i: never leaves i in place
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def t2m_eval_examples(
    pipe: M0Pipeline,
    store: MotionStore,
    split: str = "val",
    max_frames: int = 196,
    stage: int = 2,
    seed: int = 0,
    shuffle_captions: bool = False,
) -> list[tuple[str, str]]:
    """(prompt, answer) text-to-motion pairs, one per tokenizable motion of ``split``.

    With ``shuffle_captions`` each motion is paired with the caption of another motion of the split (a fixed
    derangement), everything else (template, motion, which caption of the other motion) unchanged.
    """
    rows = store.split(split)
    if len(rows) == 0:
        raise ValueError(f"split {split!r} of {store.path} is empty: nothing to evaluate")
    corpus = tokenize_corpus(store, pipe.motion_tokenizer, split, max_frames)
    templates = templates_for("t2m", stage=stage)
    seconds_per_step = pipe.motion_tokenizer.config.alpha / pipe.fps
    if shuffle_captions and len(corpus) < 2:
        raise ValueError(f"split {split!r} of {store.path} needs at least 2 motions to shuffle captions")
    source = _derangement(len(corpus), seed) if shuffle_captions else np.arange(len(corpus))
    pairs = []
    for i in range(len(corpus)):
        rng = np.random.default_rng([seed, i, 11])
        row = int(corpus.index[i])
        captions = store.captions(int(corpus.index[source[i]])) or [""]
        template = templates[int(rng.integers(len(templates)))]
        caption = captions[int(rng.integers(len(captions)))]
        codes = corpus.motion_codes(i)  # (S, P)
        pairs.append(build_example(template, codes, pipe.vocab, caption, store.part_captions(row),
                                   len(codes) * seconds_per_step, rng))  # fmt: skip
    return pairs


@torch.no_grad()
def _example_losses(pipe: M0Pipeline, pairs: list[tuple[str, str]], batch_size: int) -> np.ndarray:
    """(N, 6) per example: summed cross entropy and count over all predicted tokens, over motion tokens, and over
    the first token step's motion tokens (the first ``tokens_per_step`` motion targets)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model, tok = pipe.model, pipe.tokenizer
    was_training = model.training
    model.eval()
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    _, end, motion_ids = motion_token_ids(tok, pipe.vocab)
    is_motion = torch.zeros(len(tok), dtype=torch.bool)
    is_motion[torch.tensor([*motion_ids, end])] = True
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        batch = collate_examples([encode_example(tok, p, a, max_length=context or 10**9) for p, a in chunk],
                                 tok.pad_token_id)  # fmt: skip
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)  # (B, L)
        logits = model(input_ids=ids, attention_mask=mask).logits
        logits = logits[:, :-1].float().cpu()  # (B, L-1, V): position t predicts token t+1
        target = batch["labels"][:, 1:]  # (B, L-1)
        valid = target != -100
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target.clamp(min=0), reduction="none")
        motion = valid & is_motion[target.clamp(min=0)]
        zero = torch.zeros_like(ce)
        first = motion & (motion.long().cumsum(1) <= pipe.vocab.tokens_per_step)  # (B, L-1) first step's codes
        out.append(torch.stack([torch.where(valid, ce, zero).sum(1), valid.sum(1),
                                torch.where(motion, ce, zero).sum(1), motion.sum(1),
                                torch.where(first, ce, zero).sum(1), first.sum(1)], 1).double())  # fmt: skip
    if was_training:
        model.train()
    return torch.cat(out).numpy()


def m0_eval_loss(
    model_dir_or_pipeline: str | os.PathLike | M0Pipeline,
    store: str | os.PathLike | MotionStore,
    split: str = "val",
    max_frames: int = 196,
    batch_size: int = 16,
    seed: int = 0,
    stage: int | None = None,
) -> dict[str, Any]:
    """Mean per-token cross entropy (nats) of M0 on the text-to-motion examples of ``split``.

    Args:
        model_dir_or_pipeline: an :class:`M0Pipeline`, its folder (``final/``) or a training folder holding ``final/``.
        store: the motion store (folder or :class:`MotionStore`).
        split: the store split to evaluate ("val" by default).
        max_frames: motions are cropped to this many frames (use the training value).
        batch_size: examples per forward pass (the result does not depend on it).
        seed: picks each example's template and caption.
        stage: template set (1: ``align_t2m``, 2: ``t2m_*``); default: the stage the model was trained at
            (read from its folder), else 2.

    Returns:
        ``{"loss", "motion_loss", "tokens", "motion_tokens", "examples", "split", "stage"}``.
    """
    pipe, stage, store = _setup(model_dir_or_pipeline, store, stage)
    pairs = t2m_eval_examples(pipe, store, split, max_frames, stage, seed)
    sums = _example_losses(pipe, pairs, batch_size).sum(0)
    return {
        "loss": float(sums[0] / sums[1]),
        "motion_loss": float(sums[2] / sums[3]) if sums[3] else float("nan"),
        "tokens": int(sums[1]),
        "motion_tokens": int(sums[3]),
        "examples": len(pairs),
        "split": split,
        "stage": stage,
    }


def conditioning_gap(
    model_dir_or_pipeline: str | os.PathLike | M0Pipeline,
    store: str | os.PathLike | MotionStore,
    split: str = "val",
    max_frames: int = 196,
    batch_size: int = 16,
    seed: int = 0,
    stage: int | None = None,
    max_examples: int | None = None,
) -> dict[str, Any]:
    """How much the caption helps M0 predict its motion: motion-token loss with another motion's caption minus
    the loss with the motion's own caption (0: the model ignores the text).

    Both losses use the same motions, templates and motion tokens (:func:`t2m_eval_examples` with and without
    ``shuffle_captions``); arguments as :func:`m0_eval_loss`. Returns, each with a 95% interval over examples
    (``<key>_ci95``):

    - ``gap``: nats per motion token. Small even for a model that reads its text well: once the first steps
      are out, the motion's own past predicts the rest, so the caption's information is spread thin.
    - ``gap_per_motion``: nats per motion (the information the caption gives about the whole motion).
    - ``gap_first_step``: nats per token over the first token step, where the caption matters most.

    plus ``motion_loss_own``, ``motion_loss_other``, ``examples``, ``motion_tokens``, ``split``, ``stage``.
    ``max_examples`` keeps the first that many motions of the split (a cheaper estimate during training).
    A caption of another motion can describe the same action (templated corpora repeat actions), so every gap
    is a lower bound of how much the model reads the text.
    """
    pipe, stage, store = _setup(model_dir_or_pipeline, store, stage)
    keep = slice(None, max_examples)
    own = _example_losses(pipe, t2m_eval_examples(pipe, store, split, max_frames, stage, seed)[keep], batch_size)
    other = _example_losses(pipe, t2m_eval_examples(pipe, store, split, max_frames, stage, seed, True)[keep],
                            batch_size)  # fmt: skip
    if not np.array_equal(own[:, 3], other[:, 3]):
        raise RuntimeError("conditioning_gap: the two example sets predict different motion tokens")
    n = own[:, 3]  # (N,) motion tokens per example
    out = {}
    for key, col in (("gap", 2), ("gap_first_step", 4)):
        count = own[:, col + 1]
        diff = other[:, col] - own[:, col]  # (N,) summed loss differences
        value = float(diff.sum() / count.sum())
        resid = diff - value * count  # ratio-estimator residuals
        out[key] = value
        out[f"{key}_ci95"] = _ci95(resid) / float(count.mean())
    diff = other[:, 2] - own[:, 2]
    out["gap_per_motion"], out["gap_per_motion_ci95"] = float(diff.mean()), _ci95(diff - diff.mean())
    return {
        **out,
        "motion_loss_own": float(own[:, 2].sum() / n.sum()),
        "motion_loss_other": float(other[:, 2].sum() / n.sum()),
        "examples": len(n),
        "motion_tokens": int(n.sum()),
        "split": split,
        "stage": stage,
    }


def _ci95(resid: np.ndarray) -> float:
    """Half width of a 95% interval of a mean whose per-example residuals are ``resid``."""
    return float(1.96 * resid.std(ddof=1) / np.sqrt(len(resid))) if len(resid) > 1 else float("nan")


def _setup(
    model: str | os.PathLike | M0Pipeline, store: str | os.PathLike | MotionStore, stage: int | None
) -> tuple[M0Pipeline, int, MotionStore]:
    pipe, trained_stage = _load(model)
    stage = int(stage if stage is not None else (trained_stage or 2))
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    store = open_store(store)
    return pipe, stage, store
