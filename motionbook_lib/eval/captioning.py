"""Motion -> text scores: how well a model's captions describe the motions they were made for.

For the motions of a split, :func:`m2t_scores` asks a captioner (an :class:`~motionbook_lib.lm.M0Pipeline`, or any
callable from (T, 135) features to a caption) for one caption each and reports:

- **BLEU-4** (corpus level, all of the motion's reference captions as references) and **ROUGE-L** (F-measure
  against the best-matching reference, averaged over motions), computed by ``torchmetrics`` on lowercased words
  without punctuation, as motion-captioning papers (TM2T, MotionGPT) report them;
- **retrieval** by the text-motion evaluator: R@1/2/3 and MM-Dist of the generated captions against their own
  motions, next to the same for the real captions (the HumanML3D protocol: batches of 32, ``repeats`` shuffles,
  mean and 95% interval), and their ratio, the issue's target being R@1 >= 0.6 x the real captions';
- **kinematic claims** (:mod:`motionbook_lib.eval.claims`) of each generated caption checked on the joints of
  its motion, next to the real captions' rate (the checker's ceiling) and the rate of each generated caption
  checked on another motion (what a caption that ignores its motion scores).

An empty caption is kept (it matches nothing): a captioner that says nothing scores 0, never skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from motionbook_lib.data.store import MotionStore

__all__ = ["bleu_rouge", "m2t_scores", "normalize_caption"]


def normalize_caption(text: str) -> str:
    """Lowercase words without punctuation: ``"The person waves."`` -> ``"the person waves"``."""
    return " ".join(re.findall(r"[a-z0-9']+", str(text).lower()))


def bleu_rouge(generated: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU-4 and mean ROUGE-L F of ``generated[i]`` against the captions ``references[i]``."""
    from torchmetrics.text import BLEUScore, ROUGEScore

    if len(generated) != len(references) or not generated:
        raise ValueError(f"generated ({len(generated)}) and references ({len(references)}) must be equally long and "
                         "not empty")  # fmt: skip
    if any(not refs for refs in references):
        raise ValueError("every motion needs at least one reference caption")
    gen = [normalize_caption(g) for g in generated]
    refs = [[normalize_caption(r) for r in rs] for rs in references]
    bleu = float(BLEUScore(n_gram=4)(gen, refs))
    rouge = ROUGEScore(rouge_keys="rougeL", accumulate="best")
    scores = [float(rouge(g, r)["rougeL_fmeasure"]) if g else 0.0 for g, r in zip(gen, refs, strict=True)]
    return {"BLEU-4": bleu, "ROUGE-L": float(np.mean(scores))}


def _retrieval(
    evaluator: Any, texts: list[str], motion_emb: np.ndarray, batch: int, repeats: int, seed: int
) -> dict[str, Any]:
    from motionbook_lib.eval.metrics import t2m_metrics
    from motionbook_lib.eval.table import _encode_texts

    text_emb = _encode_texts(evaluator, [t if t.strip() else "." for t in texts])  # (N, E)
    # FID, Diversity need a generated motion set; here only the texts change, so only R@k and MM-Dist are kept
    m = t2m_metrics(text_emb, motion_emb, motion_emb, batch_size=batch, repeats=repeats, diversity_pairs=2, seed=seed)
    return {k: {"mean": m[k].mean, "ci95": m[k].ci95} for k in ("R@1", "R@2", "R@3", "MM-Dist")}


def _rate(r: dict[str, Any]) -> dict[str, Any]:
    """Rate (None when no caption made a checkable claim), claims and parsed captions of a claim_rate result."""
    rate = r["rate"] if r["claims"] else None
    return {"rate": rate, "claims": r["claims"], "held": r["held"], "parsed_captions": r["parsed"]}


def m2t_scores(
    captioner: Any | Callable[[np.ndarray], str],
    store: MotionStore,
    evaluator: Any,
    split: str = "test",
    limit: int | None = None,
    batch_size: int = 32,
    repeats: int = 20,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Caption the motions of ``split`` (the first ``limit`` rows) and score the captions (see the module doc).

    ``captioner``: an object with ``describe_motion(features) -> str`` or a callable doing the same;
    ``evaluator``: a trained :class:`~motionbook_lib.eval.evaluator.Evaluator` or its folder. A split with fewer
    than ``batch_size`` motions is retrieved in one smaller batch, with a
    :class:`~motionbook_lib.eval.table.SmallSplitWarning` and a note in the result (R@k is then not comparable).
    """
    from tqdm.auto import tqdm

    from motionbook_lib.eval.claims import claim_rate
    from motionbook_lib.eval.table import _encode_motions, _load_evaluator, posed_joints, retrieval_batch

    describe = getattr(captioner, "describe_motion", captioner)
    if not callable(describe):
        raise TypeError(f"captioner must have describe_motion(features) or be callable, got {type(captioner).__name__}")
    ev, _ = _load_evaluator(evaluator)
    rows = [int(r) for r in store.split(split) if store.captions(int(r))]
    rows = rows[:limit] if limit else rows
    if len(rows) < 3:
        raise ValueError(f"split {split!r} of {store.path} has {len(rows)} captioned motions; retrieval needs >= 3")
    batch, note = retrieval_batch(len(rows), batch_size, split)
    feats = [store.features(r) for r in rows]
    references = [[str(c) for c in store.captions(r)] for r in rows]
    generated = [str(describe(f)) for f in tqdm(feats, desc="captioning", disable=not progress)]
    joints = [posed_joints(f, store.betas(r)) for f, r in zip(feats, rows, strict=True)]
    fps = store.fps(rows)
    motion_emb = _encode_motions(ev, feats)  # (N, E)
    real_first = [refs[0] for refs in references]
    gen_ret = _retrieval(ev, generated, motion_emb, batch, repeats, seed)
    real_ret = _retrieval(ev, real_first, motion_emb, batch, repeats, seed)
    shifted = [generated[(i + 1) % len(generated)] for i in range(len(generated))]
    own, real, other = (claim_rate(c, joints, fps) for c in (generated, real_first, shifted))
    r1_gen, r1_real = gen_ret["R@1"]["mean"], real_ret["R@1"]["mean"]
    return {
        "split": split,
        "motions": len(rows),
        **bleu_rouge(generated, references),
        "retrieval": {"batch_size": batch, "repeats": repeats, "note": note, "generated": gen_ret, "real": real_ret,
                      "r1_ratio": r1_gen / r1_real if r1_real else None},
        "claims": {"generated": _rate(own), "real": _rate(real), "other_motion_baseline": _rate(other)},
        "empty_captions": sum(not g.strip() for g in generated),
        "examples": [{"id": str(store.ids[r]), "generated": g, "reference": refs[0]}
                     for r, g, refs in list(zip(rows, generated, references, strict=True))[:12]],
    }  # fmt: skip
