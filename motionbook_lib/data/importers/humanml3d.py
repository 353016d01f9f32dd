"""Import the HumanML3D layout into a motion store (D135 by IK from the joint positions).

Expected folder (the official release layout)::

    new_joints/<id>.npy      (T, 22, 3) joints, metres, Y up, 20 fps
    new_joint_vecs/<id>.npy  (T-1, 263) HumanML3D features (not needed here)
    texts/<id>.txt           one caption a line: caption#word/POS ...#start#end
    train.txt val.txt test.txt   ids of each official split
    Mean.npy Std.npy         263-feature statistics (not needed here)

Each ``new_joints`` file gives one sample with its whole-clip captions (``start`` = ``end`` = 0)
and one more sample per distinct (start, end) pair of sub-clip captions, frames
``int(start * 20):int(end * 20)``, id ``<id>_f<first>-<last>``, as the official loaders do.
Samples keep the split of their file from ``train/val/test.txt`` (an id in none of them falls back
to the store's hash split, counted in the report notes).

HumanML3D holds joint positions, not SMPL rotations: the body shape is fitted to the bone
lengths and the rotations come from swing IK (:mod:`motionbook_lib.data.importers.ik`); the
report records the joint error of the fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionbook_lib.data.cards import CardText
from motionbook_lib.data.importers.common import Converted, SkipFile, Skipped, atomic_write_text, run_import
from motionbook_lib.data.importers.ik import ik_from_positions
from motionbook_lib.data.store import DEFAULT_SHARD_FRAMES
from motionbook_lib.motion import Motion
from motionbook_lib.skeleton import NUM_JOINTS

__all__ = ["HUMANML3D_CARD", "HumanML3DConfig", "import_humanml3d", "make_demo_humanml3d", "parse_text_file"]

H3D_FPS = 20.0
SPLIT_FILES = ("train", "val", "test")

HUMANML3D_CARD = CardText(
    title="HumanML3D (imported)",
    summary=(
        "Motions of the HumanML3D text-to-motion dataset (Guo et al. 2022, built from AMASS and HumanAct12), "
        "imported from its `new_joints` joint positions and `texts` captions. Each file gives one motion with its "
        "whole-clip captions and one more per captioned sub-clip (start/end seconds in the text file). "
        "The official train / val / test lists are kept: the Splits table below counts them (its hash rule "
        "sentence does not apply to this store)."
    ),
    source=(
        "HumanML3D release folder (`new_joints/*.npy`, `texts/*.txt`, `train.txt`/`val.txt`/`test.txt`), "
        "converted by `motionbook_lib.data.importers.humanml3d`. Rotations are not in HumanML3D: the body shape "
        "(10 SMPL-X betas) is fitted to the bone lengths and joint rotations come from swing IK; "
        "`import_report.json` beside the store records the joint error of the fit per motion."
    ),
    licence=(
        "HumanML3D's annotations are released under its own terms and its motions derive from AMASS, whose licence "
        "(non-commercial research, no redistribution) applies: do not share or upload this store, its shards or "
        "features derived from it; each user must obtain AMASS and HumanML3D themselves. The motionbook code that "
        "converts it is Apache-2.0."
    ),
    known_limits=[
        "Rotations come from positions: the twist of each limb about its own bone is unknown and set to the "
        "minimal twist relative to the parent; wrists, toes and head keep their parent's orientation.",
        "HumanML3D joints are retargeted to one reference skeleton; the fitted SMPL-X shape reproduces its bone "
        "lengths only approximately (see `ik_joint_error` in `import_report.json`).",
        "Heights are kept as HumanML3D stores them: the lowest joint centre of a clip is at y = 0, so feet sit a few "
        "centimetres lower than on the synthetic corpus, whose soles touch y = 0.",
        "Mirrored clips (ids starting with M) are separate motions, as in HumanML3D.",
    ],
    build_command="python -m motionbook_lib.data import --format humanml3d HUMANML3D_DIR --out STORE",
)


@dataclass
class HumanML3DConfig:
    """Settings that change what is stored (recorded in the store; a resume needs the same)."""

    min_frames: int = 40  # official loaders drop shorter samples
    max_frames: int | None = None  # official loaders drop >= 200; None keeps everything
    sub_clips: bool = True  # import start/end captions as their own samples
    fit_shape: bool = True  # fit betas to bone lengths (else the neutral body)
    betas_bound: float = 3.0


def parse_text_file(path: Path) -> tuple[list[tuple[str, list[str], float, float]], list[int]]:
    """Lines of a HumanML3D text file -> ([(caption, tokens, start_s, end_s)], bad line numbers)."""
    rows: list[tuple[str, list[str], float, float]] = []
    bad: list[int] = []
    for k, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split("#")
        try:
            caption, tokens = parts[0].strip(), parts[1].split()
            start, end = float(parts[2]), float(parts[3])
        except (IndexError, ValueError):
            bad.append(k)
            continue
        start = 0.0 if np.isnan(start) else start
        end = 0.0 if np.isnan(end) else end
        if not caption:
            bad.append(k)
            continue
        rows.append((caption, tokens, start, end))
    return rows, bad


def _read_splits(root: Path) -> dict[str, str]:
    split_of: dict[str, str] = {}
    for s in SPLIT_FILES:
        f = root / f"{s}.txt"
        if f.exists():
            for line in f.read_text().split():
                split_of.setdefault(line.strip(), s)
    return split_of


def _load_joints(path: Path, field: str) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise SkipFile("malformed", field, f"not a readable .npy array ({err})") from None
    if x.ndim != 3 or x.shape[1:] != (NUM_JOINTS, 3) or not np.issubdtype(x.dtype, np.floating):
        raise SkipFile("malformed", field, f"expected float (T, {NUM_JOINTS}, 3) joints, got {x.dtype} {x.shape}")
    if x.shape[0] < 2:
        raise SkipFile("too short", field, f"{x.shape[0]} frame(s)")
    if not np.isfinite(x).all():
        bad = np.unique(np.nonzero(~np.isfinite(x))[0])
        raise SkipFile("NaN", field, f"{len(bad)} frame(s) hold NaN/inf (first: frame {int(bad[0])})")
    return x.astype(np.float64)


class _Converter:
    def __init__(self, root: Path, config: HumanML3DConfig, split_of: dict[str, str]) -> None:
        self.root, self.config, self.split_of = root, config, split_of

    def __call__(self, path: Path) -> list[Converted | Skipped]:
        cfg = self.config
        mid = path.stem
        text_path = self.root / "texts" / f"{mid}.txt"
        text_field = f"texts/{mid}.txt"
        if not text_path.exists():
            raise SkipFile("missing text", text_field, "no caption file for this motion")
        rows, bad = parse_text_file(text_path)
        if not rows:
            detail = f"no usable caption line (malformed lines: {bad})" if bad else "empty caption file"
            raise SkipFile("missing text" if not bad else "malformed", text_field, detail)
        joints = _load_joints(path, f"new_joints/{path.name}")  # (T, 22, 3)
        T = joints.shape[0]
        groups: dict[tuple[int, int], tuple[list[str], list[str]]] = {}
        for caption, tokens, start, end in rows:
            key = (0, T) if start == 0 and end == 0 else (int(start * H3D_FPS), int(end * H3D_FPS))
            if key != (0, T) and not cfg.sub_clips:
                continue
            caps, toks = groups.setdefault(key, ([], []))
            caps.append(caption)
            toks.append(" ".join(tokens))
        out: list[Converted | Skipped] = []
        split = self.split_of.get(mid)
        ik = None
        for (f0, f1), (caps, toks) in sorted(groups.items(), key=lambda kv: (kv[0] != (0, T), kv[0])):
            sid = mid if (f0, f1) == (0, T) else f"{mid}_f{f0}-{f1}"
            f1c = min(f1, T)
            n = f1c - f0
            if n < cfg.min_frames or (cfg.max_frames is not None and n > cfg.max_frames):
                why = "too short" if n < cfg.min_frames else "too long"
                limits = f"min {cfg.min_frames}, max {cfg.max_frames}"
                out.append(Skipped(sid, why, f"frames {f0}:{f1}", f"{max(n, 0)} frames ({limits})"))
                continue
            if ik is None:
                ik = ik_from_positions(joints, fit_shape=cfg.fit_shape, betas_bound=cfg.betas_bound)
            err = ik.joint_error[f0:f1c]
            meta = {
                "caption": caps,
                "tokens": toks,
                "source": "humanml3d",
                "h3d_id": mid,
                "frames": [f0, f1c],
            }
            if split is not None:
                meta["split"] = split
            motion = Motion(ik.local_rot[f0:f1c], ik.root_pos[f0:f1c], ik.betas, H3D_FPS, meta)
            stats = {"ik_mean_m": round(float(err.mean()), 6), "ik_max_m": round(float(err.max()), 6)}
            out.append(Converted(sid, motion, stats))
        if bad:
            out.append(Skipped(mid, "malformed", text_field, f"ignored malformed caption line(s) {bad}"))
        return out


def import_humanml3d(
    path: str | os.PathLike,
    out: str | os.PathLike,
    config: HumanML3DConfig | None = None,
    strict: bool = False,
    progress: bool = True,
    shard_frames: int = DEFAULT_SHARD_FRAMES,
    drop_static: bool = False,
) -> dict:
    """Import a HumanML3D folder into a new store at ``out``; returns the import report.

    Re-running after an interruption resumes. ``strict`` turns every bad file (malformed, NaN,
    missing text) into an :class:`~motionbook_lib.data.importers.common.ImportFailed` naming the
    file and field; too short samples are always just skipped.
    """
    root = Path(path)
    joints_dir = root / "new_joints"
    if not joints_dir.is_dir():
        raise FileNotFoundError(
            f"{joints_dir} not found: PATH must be a HumanML3D folder holding new_joints/ and texts/"
        )
    cfg = config or HumanML3DConfig()
    files = sorted(f for f in joints_dir.glob("*.npy") if not f.name.startswith("."))
    split_of = _read_splits(root)
    notes = [
        "D135 comes from IK on the joint positions (fitted betas, minimal twist); see ik_joint_error.",
        f"official split lists found: {[s for s in SPLIT_FILES if (root / f'{s}.txt').exists()]}",
    ]
    unsplit = sum(1 for f in files if f.stem not in split_of)
    if unsplit:
        notes.append(f"{unsplit} file(s) in no split list: split assigned by the store's id hash")
    return run_import(
        fmt="humanml3d",
        root=root,
        files=files,
        out=out,
        convert=_Converter(root, cfg, split_of),
        config=cfg,
        card=HUMANML3D_CARD,
        strict=strict,
        progress=progress,
        shard_frames=shard_frames,
        notes=notes,
        drop_static=drop_static,
    )


# ---------------------------------------------------------------------------------------------- demo data


def _tokens(caption: str) -> str:
    return " ".join(f"{w}/OTHER" for w in caption.lower().replace(".", " ").replace(",", " ").split())


def make_demo_humanml3d(folder: str | os.PathLike, n: int = 8, seed: int = 0, sub_clips: bool = True) -> Path:
    """Write a tiny HumanML3D-layout folder from the synthetic corpus (no download needed).

    Motion ``i`` is ``synthetic.generate_motion(i)``: its FK joints, put on the floor, at the origin
    and facing +Z as HumanML3D does (:func:`preprocess_h3d263`), in ``new_joints/<id>.npy``; its
    263 features in ``new_joint_vecs``; its captions in ``texts`` (plus, when ``sub_clips``, one
    ``start#end`` caption for one of its segments of at least 2 s, preferring one that does not
    start the clip); splits ``i % 4``: 0, 1 train,
    2 val, 3 test; ``Mean.npy``/``Std.npy`` over the train features. Ids are ``000000``...
    """
    from motionbook_lib.data.synthetic import SyntheticConfig, generate_motion
    from motionbook_lib.features.humanml3d import extract_h3d263, preprocess_h3d263

    root = Path(folder)
    for sub in ("new_joints", "new_joint_vecs", "texts"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cfg = SyntheticConfig(seed=seed)
    splits: dict[str, list[str]] = {s: [] for s in SPLIT_FILES}
    train_feats = []
    for i in range(n):
        mid = f"{i:06d}"
        m = generate_motion(i, cfg)
        joints = m.joints().double()  # (T, 22, 3)
        pos = preprocess_h3d263(joints).numpy().astype(np.float32)
        vecs = extract_h3d263(joints).numpy().astype(np.float32)  # (T-1, 263)
        _save_npy(root / "new_joints" / f"{mid}.npy", pos)
        _save_npy(root / "new_joint_vecs" / f"{mid}.npy", vecs)
        lines = [f"{c}#{_tokens(c)}#0.0#0.0" for c in m.meta.get("caption", [])]
        segs = [s for s in m.meta.get("params", []) if s["frames"][1] - s["frames"][0] >= 40]
        segs = [s for s in segs if tuple(s["frames"]) != (0, m.n_frames)]
        if sub_clips and segs:
            seg = max(segs, key=lambda s: (s["frames"][0] > 0, s["frames"][1] - s["frames"][0]))
            f0, f1 = seg["frames"]
            cap = f"a person does a {str(seg['label']).replace('_', ' ')}"
            lines.append(f"{cap}#{_tokens(cap)}#{f0 / H3D_FPS:g}#{f1 / H3D_FPS:g}")
        atomic_write_text(root / "texts" / f"{mid}.txt", "\n".join(lines) + "\n")
        split = ("train", "train", "val", "test")[i % 4]
        splits[split].append(mid)
        if split == "train":
            train_feats.append(vecs)
    for s, ids in splits.items():
        atomic_write_text(root / f"{s}.txt", "".join(f"{x}\n" for x in ids))
    atomic_write_text(root / "train_val.txt", "".join(f"{x}\n" for x in splits["train"] + splits["val"]))
    allf = np.concatenate(train_feats) if train_feats else np.zeros((1, 263), np.float32)
    _save_npy(root / "Mean.npy", allf.mean(0))
    _save_npy(root / "Std.npy", allf.std(0))
    return root


def _save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
    os.replace(tmp, path)
