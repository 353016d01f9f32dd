"""Planning a clip from behaviours and generating motions, corpora and the generator's fingerprint."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from motionbook_lib.data.synthetic.actions import (
    _b_bow,
    _b_crouch,
    _b_dance,
    _b_jump,
    _b_kick,
    _b_knee_raise,
    _b_lunge,
    _b_sit_stand,
    _b_squat,
    _b_stand,
    _b_stretch,
)
from motionbook_lib.data.synthetic.body import _Body, _Ctx, _sample_betas, _Seg, _standing_state, _Track
from motionbook_lib.data.synthetic.captions import _captions
from motionbook_lib.data.synthetic.config import ACTION_FAMILIES, PART_NAMES, SyntheticConfig
from motionbook_lib.data.synthetic.locomotion import _b_locomotion, _b_side_step, _b_turn
from motionbook_lib.data.synthetic.overlays import _ON_LOCOMOTION, _OVERLAY_MIN, _add_overlay
from motionbook_lib.data.synthetic.solve import _solve
from motionbook_lib.motion import Motion

# ---------------------------------------------------------------- plan and generate

_BUILDERS = {
    "walk": lambda c, b: _b_locomotion(c, "walk", b),
    "jog": lambda c, b: _b_locomotion(c, "jog", b),
    "run": lambda c, b: _b_locomotion(c, "run", b),
    "walk_backward": lambda c, b: _b_locomotion(c, "walk_backward", b),
    "walk_circle": lambda c, b: _b_locomotion(c, "walk_circle", b),
    "side_step": _b_side_step,
    "turn": _b_turn,
    "jump": _b_jump,
    "squat": _b_squat,
    "lunge": _b_lunge,
    "bow": _b_bow,
    "sit_stand": _b_sit_stand,
    "crouch": _b_crouch,
    "stretch": _b_stretch,
    "dance": _b_dance,
    "kick": _b_kick,
    "knee_raise": _b_knee_raise,
}


def _choose(rng: np.random.Generator, names: list[str], weights: list[float]) -> str:
    w = np.asarray(weights, dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _plan_segments(ctx: _Ctx, cfg: SyntheticConfig) -> list[_Seg]:
    rng = ctx.rng
    n_seg = int(rng.choice(3, p=np.asarray(cfg.segment_weights) / sum(cfg.segment_weights))) + 1
    fams = [f for f in ACTION_FAMILIES if cfg.family_weights.get(f, 0) > 0]
    segs: list[_Seg] = []
    used = 0.0
    for _k in range(n_seg):
        budget = cfg.max_seconds - used
        if budget < 1.5:
            break
        fam = _choose(rng, fams, [cfg.family_weights[f] for f in fams])
        acts = [a for a in ACTION_FAMILIES[fam] if cfg.action_weights.get(a, 1.0) > 0]
        if not acts:
            continue
        act = _choose(rng, acts, [cfg.action_weights.get(a, 1.0) for a in acts])
        seg: _Seg | None
        if fam == "arms":
            if budget < _OVERLAY_MIN[act]:
                continue
            seg = _b_stand(ctx, rng.uniform(_OVERLAY_MIN[act], min(budget, 5.0)))
            _add_overlay(ctx, seg, act, whole=True)
        else:
            seg = _BUILDERS[act](ctx, budget)
            if seg is None:
                continue
            if act in ("walk", "walk_backward", "walk_circle", "side_step", "turn") and rng.random() < cfg.overlay_prob:
                _add_overlay(ctx, seg, _ON_LOCOMOTION[int(rng.integers(len(_ON_LOCOMOTION)))], whole=False)
        segs.append(seg)
        used += seg.tr.n / ctx.fps
        ctx.state = seg.end
    if not segs or used < cfg.min_seconds:
        seg = _b_stand(ctx, max(cfg.min_seconds - used, 0.0) + 0.25)
        if segs and seg.tr.n / ctx.fps < 1.0:
            seg.params["quiet"] = True
        segs.append(seg)
    return segs


def _concat(body: _Body, segs: list[_Seg]) -> _Track:
    n = sum(s.tr.n for s in segs)
    out = _Track.__new__(_Track)
    out.n = n
    for name in (
        "pxz",
        "y_plan",
        "soft",
        "yaw",
        "pel",
        "spine",
        "neck",
        "ankle",
        "fyaw",
        "fpitch",
        "contact",
        "flocal",
        "flocal_w",
        "fclear",
        "knee_min",
        "arm",
        "pole",
        "wrist",
        "ov_arm",
        "ov_pole",
        "ov_wrist",
        "ov_w",
    ):
        setattr(out, name, np.concatenate([getattr(s.tr, name) for s in segs], axis=0))
    return out


def _plain(x: object) -> object:
    """numpy scalars -> Python numbers, recursively (meta stays JSON-friendly)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def generate_motion(index: int, config: SyntheticConfig | None = None) -> Motion:
    """Motion number ``index`` of the synthetic corpus (deterministic in (config.seed, index), 2-10 s).

    ``meta`` holds ``caption`` (4 whole-body paraphrases), ``part_captions`` (torso, left_arm,
    right_arm, left_leg, right_leg -> >= 2 paraphrases), ``labels`` (action labels in order),
    ``part_labels`` (part -> label of its longest-lasting action), ``params`` (one dict per segment:
    action, label, frames [start, end), its parameters, and ``overlay`` for an arm action), ``source``,
    ``index`` and ``seed``.
    """
    cfg = SyntheticConfig() if config is None else config
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    rng = np.random.default_rng([cfg.seed, index])
    betas = _sample_betas(rng, cfg)
    body = _Body(betas)
    yaw0 = rng.uniform(-np.pi, np.pi)
    ctx = _Ctx(body, rng, cfg.fps, _standing_state(body, np.zeros(2), yaw0))
    segs = _plan_segments(ctx, cfg)
    tr = _concat(body, segs)
    R, root = _solve(body, tr)
    captions, part_caps = _captions(rng, segs)
    labels: list[str] = []
    params: list[dict] = []
    start = 0
    dur_by_part: dict[str, dict[str, int]] = {p: {} for p in PART_NAMES}
    for seg in segs:
        for lab in [seg.label] + ([seg.overlay["label"]] if seg.overlay else []):
            if lab not in labels and not seg.params.get("quiet"):
                labels.append(lab)
        d = {"action": seg.action, "label": seg.label, "frames": [start, start + seg.tr.n], **_plain(seg.params)}
        if seg.overlay:
            ov = dict(seg.overlay)
            ov["frames_full"] = [ov["frames_full"][0] + start, ov["frames_full"][1] + start]
            d["overlay"] = _plain(ov)
        params.append(d)
        for p in PART_NAMES:
            lab = seg.part_labels[p]
            dur_by_part[p][lab] = dur_by_part[p].get(lab, 0) + seg.tr.n
        start += seg.tr.n
    part_labels = {p: max(v.items(), key=lambda kv: kv[1])[0] for p, v in dur_by_part.items()}
    meta = {
        "caption": captions,
        "part_captions": part_caps,
        "labels": labels,
        "part_labels": part_labels,
        "params": params,
        "source": "synthetic",
        "index": int(index),
        "seed": int(cfg.seed),
    }
    return Motion(
        torch.from_numpy(R.astype(np.float32)), torch.from_numpy(root.astype(np.float32)), betas, cfg.fps, meta
    )


def generate_corpus(n: int, config: SyntheticConfig | None = None, start: int = 0) -> Iterator[Motion]:
    """Motions ``start .. start + n - 1`` of the corpus, one at a time."""
    cfg = SyntheticConfig() if config is None else config
    for i in range(start, start + n):
        yield generate_motion(i, cfg)


def generator_fingerprint(seed: int = 0, n: int = 16) -> str:
    """``sha256:<16 hex>`` of the first ``n`` motions this generator makes for ``seed`` (D135 features and
    captions): it changes exactly when the generator's output does. Stores built from the generator record it,
    so a stale built-in corpus is rebuilt, and the reference models' card records the corpus they were trained on."""
    import hashlib
    import json

    h = hashlib.sha256()
    for i in range(n):
        m = generate_motion(i, SyntheticConfig(seed=seed))
        h.update(np.ascontiguousarray(m.to_d135().numpy(), dtype=np.float32).tobytes())
        h.update(json.dumps(m.meta.get("caption"), sort_keys=True).encode())
    return "sha256:" + h.hexdigest()[:16]
