"""Held-out language-model loss of M0 on text-to-motion examples of a store split.

Every motion of the split (cropped to ``max_frames``, whole token steps) becomes one example with a text-to-motion
template of the model's training stage (stage 1: ``align_t2m``; stage 2: one of the ``t2m_*`` templates) and one of
its captions, both chosen from ``(seed, motion position)``, so the number is deterministic and comparable between
models that share the motion and text tokenizers (e.g. the cells of a scaling sweep). Two means are reported:

- ``loss``: cross entropy per predicted token over the whole sequence (prompt, motion and EOS), as in training;
- ``motion_loss``: only the positions whose target is a motion token ``<motion_id_k>`` or the closing ``</mot>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionbook_lib.data.store import MotionStore
from motionbook_lib.lm.dataset import collate_examples, encode_example
from motionbook_lib.lm.pipeline import PIPELINE_FILE, M0Pipeline
from motionbook_lib.lm.templates import build_example, templates_for
from motionbook_lib.lm.text_tokenizer import motion_token_ids
from motionbook_lib.lm.train import FINAL_DIR, tokenize_corpus
from motionbook_lib.training import read_json

__all__ = ["m0_eval_loss", "t2m_eval_examples"]


def _load(model: str | os.PathLike | M0Pipeline) -> tuple[M0Pipeline, int | None]:
    """The pipeline and, when loaded from a folder, the stage it was trained at."""
    if isinstance(model, M0Pipeline):
        return model, None
    folder = Path(model)
    if not (folder / PIPELINE_FILE).exists() and (folder / FINAL_DIR / PIPELINE_FILE).exists():
        folder = folder / FINAL_DIR  # a training folder: use its final model
    pipe = M0Pipeline.from_pretrained(folder)
    return pipe, read_json(folder / PIPELINE_FILE).get("stage")


def t2m_eval_examples(
    pipe: M0Pipeline, store: MotionStore, split: str = "val", max_frames: int = 196, stage: int = 2, seed: int = 0
) -> list[tuple[str, str]]:
    """(prompt, answer) text-to-motion pairs, one per tokenizable motion of ``split``."""
    rows = store.split(split)
    if len(rows) == 0:
        raise ValueError(f"split {split!r} of {store.path} is empty: nothing to evaluate")
    corpus = tokenize_corpus(store, pipe.motion_tokenizer, split, max_frames)
    templates = templates_for("t2m", stage=stage)
    seconds_per_step = pipe.motion_tokenizer.config.alpha / pipe.fps
    pairs = []
    for i in range(len(corpus)):
        rng = np.random.default_rng([seed, i, 11])
        row = int(corpus.index[i])
        captions = store.captions(row) or [""]
        template = templates[int(rng.integers(len(templates)))]
        caption = captions[int(rng.integers(len(captions)))]
        codes = corpus.motion_codes(i)  # (S, P)
        pairs.append(build_example(template, codes, pipe.vocab, caption, store.part_captions(row),
                                   len(codes) * seconds_per_step, rng))  # fmt: skip
    return pairs


@torch.no_grad()
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
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pipe, trained_stage = _load(model_dir_or_pipeline)
    stage = int(stage if stage is not None else (trained_stage or 2))
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    store = store if isinstance(store, MotionStore) else MotionStore(store)
    pairs = t2m_eval_examples(pipe, store, split, max_frames, stage, seed)
    model, tok = pipe.model, pipe.tokenizer
    was_training = model.training
    model.eval()
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    _, end, motion_ids = motion_token_ids(tok, pipe.vocab)
    is_motion = torch.zeros(len(tok), dtype=torch.bool)
    is_motion[torch.tensor([*motion_ids, end])] = True
    total, total_motion, n, n_motion = 0.0, 0.0, 0, 0
    device = next(model.parameters()).device
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
        total += float(ce[valid].sum())
        total_motion += float(ce[motion].sum())
        n += int(valid.sum())
        n_motion += int(motion.sum())
    if was_training:
        model.train()
    return {
        "loss": total / n,
        "motion_loss": total_motion / n_motion if n_motion else float("nan"),
        "tokens": n,
        "motion_tokens": n_motion,
        "examples": len(pairs),
        "split": split,
        "stage": stage,
    }
