"""Corpus statistics for exploration notebooks: lengths, labels, captions, joint speeds."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import torch

from motionbook_lib.data.store import MotionStore, open_or_build_store  # noqa: F401  (notebooks: explore.open_or_build_store)
from motionbook_lib.skeleton import JOINT_NAMES

_WORD = re.compile(r"[a-z']+")


def motion_table(store: MotionStore) -> pd.DataFrame:
    """One row per motion: id, split, seconds, labels, first caption, words in it."""
    man = store.manifest
    seconds = store.lengths / man["fps"].to_numpy(dtype=np.float64)
    captions = [c[0] if len(c) else "" for c in man["caption"]]
    return pd.DataFrame(
        {
            "id": man["id"],
            "split": man["split"],
            "seconds": seconds,
            "labels": [list(x) for x in man["labels"]],
            "caption": captions,
            "caption_words": [len(_WORD.findall(c.lower())) for c in captions],
        }
    )


def label_cooccurrence(store: MotionStore) -> pd.DataFrame:
    """(L, L) counts of motions carrying both labels; the diagonal counts motions with the label."""
    sets = [sorted(set(x)) for x in store.manifest["labels"]]
    labels = sorted({label for s in sets for label in s})
    pos = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for s in sets:
        idx = [pos[x] for x in s]
        m[np.ix_(idx, idx)] += 1
    return pd.DataFrame(m, index=labels, columns=labels)


def part_label_table(store: MotionStore) -> pd.DataFrame:
    """One row per motion, one column per body part: the part-level action label."""
    return pd.DataFrame([json.loads(x) for x in store.manifest["part_labels"]])


def part_cooccurrence(store: MotionStore, part_a: str, part_b: str) -> pd.DataFrame:
    """Counts of (label of part_a, label of part_b) over motions: how body parts combine."""
    t = part_label_table(store)
    for p in (part_a, part_b):
        if p not in t.columns:
            raise ValueError(f"unknown body part {p!r}; parts in this store: {list(t.columns)}")
    return pd.crosstab(t[part_a], t[part_b])


def vocabulary(store: MotionStore, include_parts: bool = True) -> Counter[str]:
    """Word counts over every caption paraphrase (and part caption)."""
    words: Counter[str] = Counter()
    for caps in store.manifest["caption"]:
        for c in caps:
            words.update(_WORD.findall(c.lower()))
    if include_parts:
        for text in store.manifest["part_captions"]:
            for lines in json.loads(text).values():
                for c in lines:
                    words.update(_WORD.findall(c.lower()))
    return words


def part_caption_samples(store: MotionStore, index: int) -> pd.DataFrame:
    """The hierarchical text of one motion: whole body first, then each part, every paraphrase."""
    rows = [{"level": "whole body", "text": c} for c in store.captions(index)]
    for part, lines in store.part_captions(index).items():
        rows += [{"level": part, "text": c} for c in lines]
    return pd.DataFrame(rows)


def joints_of(store: MotionStore, index: int) -> torch.Tensor:
    """(T, 22, 3) joints of one stored motion, by FK with its own body shape."""
    return store.motion(index).joints()


def joint_speed_stats(store: MotionStore, max_motions: int = 200, seed: int = 0) -> pd.DataFrame:
    """Per joint: mean, median and 95th-percentile speed (m/s) over a random sample of motions."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(store))[:max_motions]
    speeds: list[np.ndarray] = []
    for i in idx:
        motion = store.motion(int(i))
        j, fps = motion.joints().numpy(), motion.fps
        speeds.append(np.linalg.norm(np.diff(j, axis=0), axis=-1) * fps)  # (T-1, 22)
    s = np.concatenate(speeds) if speeds else np.zeros((0, len(JOINT_NAMES)))
    return pd.DataFrame(
        {
            "joint": JOINT_NAMES,
            "mean_m_s": s.mean(0) if len(s) else np.nan,
            "median_m_s": np.median(s, 0) if len(s) else np.nan,
            "p95_m_s": np.quantile(s, 0.95, axis=0) if len(s) else np.nan,
        }
    )


def find_motions(store: MotionStore, text: str = "", label: str | None = None) -> np.ndarray:
    """Indices of motions whose captions contain ``text`` (case-insensitive) and carry ``label``."""
    man = store.manifest
    needle = text.lower().strip()
    hits = []
    for i, (caps, labels) in enumerate(zip(man["caption"], man["labels"], strict=True)):
        if label is not None and label not in labels:
            continue
        if needle and not any(needle in c.lower() for c in caps):
            continue
        hits.append(i)
    return np.asarray(hits, dtype=np.int64)
