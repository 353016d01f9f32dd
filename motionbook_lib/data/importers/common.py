"""What every importer shares: the streaming, resumable import loop, skip reasons, the import
report, resampling to 20 fps and the Z-up -> Y-up turn.

An import reads the source files one at a time, in sorted order, and streams each converted motion
into a :class:`~motionbook_lib.data.store.StoreWriter`, so a folder of thousands of files never
sits in memory. After each file a line goes to ``<store>/import_log.jsonl``; an interrupted import
run again with the same arguments reuses every file whose motions are in the writer's committed
shards (``StoreWriter.resumed_ids``) and converts the rest, giving the store an uninterrupted run
would have written. A bad file is skipped with its reason (or, with ``strict``, stops the import
with an error naming the file and the field; the writer is aborted, no ``store.json`` is written).
At the end the folder gets ``import_report.json`` and ``DATA_CARD.md``, both written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionbook_lib.atomic import write_text as atomic_write_text
from motionbook_lib.data.cards import CardText, write_card
from motionbook_lib.data.quality import HELD_POSE_SHARE, STATIC_SPEED, static_share
from motionbook_lib.data.store import DEFAULT_SHARD_FRAMES, STORE_JSON, MotionStore, StoreWriter
from motionbook_lib.motion import Motion
from motionbook_lib.rotations import quaternion_to_matrix
from motionbook_lib.skeleton import DEFAULT_FPS

__all__ = [
    "CARD_NAME",
    "LOG_NAME",
    "REPORT_NAME",
    "SKIP_REASONS",
    "Z_UP_TO_Y_UP",
    "Converted",
    "ImportFailed",
    "SkipFile",
    "Skipped",
    "atomic_write_text",
    "find_files",
    "resample",
    "run_import",
]

REPORT_NAME = "import_report.json"
CARD_NAME = "DATA_CARD.md"
LOG_NAME = "import_log.jsonl"
#: Why a file or a sample was not imported. "too short" / "too long" / "static" (a held pose, with ``drop_static``)
#: are filters, the others bad input.
SKIP_REASONS: tuple[str, ...] = (
    "too short", "too long", "static", "NaN", "missing text", "malformed", "unknown joints"
)  # fmt: skip
FILTERS: tuple[str, ...] = ("too short", "too long", "static")
#: Column-vector rotation taking AMASS's Z-up world to Y-up the way HumanML3D does:
#: swap y and z, then negate x, i.e. (x, y, z) -> (-x, z, y).
Z_UP_TO_Y_UP = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


class ImportFailed(ValueError):
    """Strict mode: a bad input file, with the file and field in the message."""


class NothingImported(ValueError):
    """Every input file failed or was filtered out: no store is made."""


class SkipFile(Exception):
    """Raised by a converter: the whole file is skipped."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}")
        super().__init__(f"{field}: {detail}")
        self.reason, self.field, self.detail = reason, field, detail


@dataclass
class Skipped:
    """One sample of a file that was not imported (e.g. a too short HumanML3D sub-clip)."""

    id: str
    reason: str
    field: str
    detail: str


@dataclass
class Converted:
    """One motion ready for the store, with JSON-able numbers for the report (e.g. IK error)."""

    id: str
    motion: Motion
    stats: dict = field(default_factory=dict)


Converter = Callable[[Path], list["Converted | Skipped"]]


def find_files(path: str | os.PathLike, suffixes: Sequence[str]) -> tuple[Path, list[Path]]:
    """(root, files): ``path`` itself if it is a file, else every file below it with one of
    ``suffixes`` (case-insensitive), sorted by relative path."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    if p.is_file():
        return p.parent, [p]
    sfx = tuple(s.lower() for s in suffixes)
    files = [f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(sfx) and not f.name.startswith(".")]
    return p, sorted(files, key=lambda f: f.relative_to(p).as_posix())


# ---------------------------------------------------------------------------------------------- resampling


def _slerp(q0: torch.Tensor, q1: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of (..., 4) unit quaternions; ``w`` broadcasts as (..., 1)."""
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    s = torch.sin(theta)
    near = s < 1e-6
    safe = torch.where(near, torch.ones_like(s), s)
    a = torch.where(near, 1 - w, torch.sin((1 - w) * theta) / safe)
    b = torch.where(near, w, torch.sin(w * theta) / safe)
    q = a * q0 + b * q1
    return q / q.norm(dim=-1, keepdim=True)


def resample(
    quat: torch.Tensor, trans: torch.Tensor, src_fps: float, dst_fps: float = DEFAULT_FPS
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample a clip to ``dst_fps``: slerp for rotations, linear for translations.

    Args:
        quat: (T, J, 4) unit quaternions (w, x, y, z).
        trans: (T, K, 3) translations (K may be 1).
    Returns:
        (T', J, 3, 3) rotation matrices and (T', K, 3) translations, float64, with frames at
        times k / dst_fps for every k whose time lies within the clip. An integer ratio of
        rates picks frames exactly (120 -> 20 fps keeps every 6th).
    """
    if not (src_fps > 0 and dst_fps > 0):
        raise ValueError(f"frame rates must be positive, got {src_fps} -> {dst_fps}")
    q = quat.double()
    tr = trans.double()
    T = q.shape[0]
    n = int(np.floor((T - 1) * dst_fps / src_fps + 1e-6)) + 1
    t = torch.arange(n, dtype=torch.float64) * (src_fps / dst_fps)
    i0 = torch.floor(t + 1e-6).long().clamp(0, T - 1)
    w = (t - i0).clamp(0.0, 1.0)
    w = torch.where(w < 1e-6, torch.zeros_like(w), w)
    i1 = (i0 + 1).clamp(max=T - 1)
    q_out = _slerp(q[i0], q[i1], w[:, None, None])
    t_out = tr[i0] * (1 - w)[:, None, None] + tr[i1] * w[:, None, None]
    return quaternion_to_matrix(q_out), t_out


# ---------------------------------------------------------------------------------------------- the loop


def _read_log(path: Path, resumed: set[str]) -> dict[str, dict]:
    """Log entries (by file) whose motions are all in committed shards."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by the interruption
        if isinstance(entry, dict) and entry.get("ids") and set(entry["ids"]) <= resumed:
            done[entry["file"]] = entry
    return done


def _summary(entries: list[dict], key_mean: str, key_max: str) -> dict | None:
    rows = [s for e in entries for s in e.get("samples", []) if key_mean in s]
    if not rows:
        return None
    frames = np.array([s["frames"] for s in rows], float)
    means = np.array([s[key_mean] for s in rows], float)
    maxes = np.array([s[key_max] for s in rows], float)
    worst = int(np.argmax(maxes))
    return {
        "mean_m": round(float((means * frames).sum() / frames.sum()), 9),
        "max_m": round(float(maxes.max()), 9),
        "p95_of_sample_max_m": round(float(np.quantile(maxes, 0.95)), 9),
        "worst_id": rows[worst]["id"],
    }


def run_import(
    *,
    fmt: str,
    root: Path,
    files: Sequence[Path],
    out: str | os.PathLike,
    convert: Converter,
    config: Any,
    card: CardText,
    strict: bool = False,
    progress: bool = True,
    shard_frames: int = DEFAULT_SHARD_FRAMES,
    notes: list[str] | None = None,
    drop_static: bool = False,
) -> dict:
    """Stream ``convert(file)`` for every file into a store at ``out``; returns the import report.

    With ``drop_static`` a motion that is a held pose (:func:`motionbook_lib.data.quality.is_held_pose`) is skipped
    with reason ``static`` (a filter, like too short: never an error under ``strict``).

    ``config`` (a dataclass) is recorded in ``store.json['build']``; a resume must use the same one.
    """
    out = Path(out)
    if (out / STORE_JSON).exists():
        raise FileExistsError(f"{out / STORE_JSON} exists: {out} already holds a complete store; choose another --out")
    if not files:
        raise FileNotFoundError(f"{root}: no {fmt} input files found; nothing was written to {out}")
    created = not out.exists() or not any(out.iterdir())  # this call's folder: a failed import leaves nothing
    info = {"importer": fmt, "path": str(root.resolve()), "config": asdict(config)}
    writer = StoreWriter(out, shard_frames=shard_frames, source=fmt, info=info)
    log_path = out / LOG_NAME
    done = _read_log(log_path, writer.resumed_ids)
    entries: list[dict] = []
    skipped: list[dict] = []
    n_resumed = 0
    from tqdm.auto import tqdm

    bar = tqdm(files, unit="file", desc=f"import {fmt}", disable=not progress, smoothing=0.05)
    try:
        with open(log_path, "a") as log:
            for f in bar:
                rel = f.relative_to(root).as_posix()
                if rel in done:
                    entries.append(done[rel])
                    skipped.extend(done[rel].get("skipped", []))
                    n_resumed += 1
                    continue
                try:
                    items = convert(f)
                except SkipFile as s:
                    if strict and s.reason not in FILTERS:
                        raise ImportFailed(f"{f}: {s.field}: {s.detail}") from None
                    skipped.append({"file": rel, "id": None, "reason": s.reason, "field": s.field, "detail": s.detail})
                    continue
                entry: dict = {"file": rel, "ids": [], "samples": [], "skipped": []}
                for it in items:
                    if isinstance(it, Skipped):
                        if strict and it.reason not in FILTERS:
                            raise ImportFailed(f"{f}: {it.field}: {it.detail}")
                        rec = {"file": rel, "id": it.id, "reason": it.reason, "field": it.field, "detail": it.detail}
                        entry["skipped"].append(rec)
                        skipped.append(rec)
                        continue
                    if drop_static:
                        with torch.no_grad():
                            share = static_share(it.motion.joints(), float(it.motion.fps))
                        if share >= HELD_POSE_SHARE:
                            rec = {"file": rel, "id": it.id, "reason": "static", "field": "joints",
                                   "detail": f"held pose: {share:.0%} of its frames static (every joint slower than "
                                   f"{STATIC_SPEED:g} m/s)"}  # fmt: skip
                            entry["skipped"].append(rec)
                            skipped.append(rec)
                            continue
                    writer.add(it.id, it.motion)
                    entry["ids"].append(it.id)
                    entry["samples"].append({"id": it.id, "frames": it.motion.n_frames, **it.stats})
                entries.append(entry)
                log.write(json.dumps(entry) + "\n")
                log.flush()
        if writer.count == 0:
            by_reason = Counter(s["reason"] for s in skipped)
            raise NothingImported(
                f"{root}: none of the {len(files)} {fmt} file(s) gave a motion ("
                + (", ".join(f"{r} {n}" for r, n in by_reason.items()) or "no motions in them")
                + f"); nothing was written to {out}"
            )
        writer.close()
    except BaseException as err:
        writer.abort()
        if created and isinstance(err, ImportFailed | NothingImported):
            shutil.rmtree(out, ignore_errors=True)  # a strict failure or an empty import leaves no folder behind
        raise
    finally:
        bar.close()
    report = _report(fmt, root, out, config, files, entries, skipped, n_resumed, notes or [])
    atomic_write_text(out / REPORT_NAME, json.dumps(report, indent=2) + "\n")
    write_card(MotionStore(out, verify=False), out / CARD_NAME, card)
    log_path.unlink(missing_ok=True)
    return report


def _report(
    fmt: str,
    root: Path,
    out: Path,
    config: Any,
    files: Sequence[Path],
    entries: list[dict],
    skipped: list[dict],
    n_resumed: int,
    notes: list[str],
) -> dict:
    by_reason = Counter(s["reason"] for s in skipped)
    report = {
        "format": fmt,
        "source": str(root.resolve()),
        "store": str(out.resolve()),
        "config": asdict(config),
        "counts": {
            "files": len(files),
            "files_imported": sum(1 for e in entries if e["ids"]),
            "files_skipped": sum(1 for s in skipped if s["id"] is None),
            "files_resumed": n_resumed,
            "motions": sum(len(e["ids"]) for e in entries),
            "frames": sum(s["frames"] for e in entries for s in e["samples"]),
            "skipped": len(skipped),
            "skipped_by_reason": {r: by_reason.get(r, 0) for r in SKIP_REASONS},
        },
        "notes": notes,
        "skipped": skipped,
        "files": [{"file": e["file"], "samples": e["samples"]} for e in entries],
    }
    ik = _summary(entries, "ik_mean_m", "ik_max_m")
    if ik:
        report["ik_joint_error"] = ik
    check = _summary(entries, "smplx_mean_m", "smplx_max_m")
    if check:
        report["fk_vs_smplx_joint_error"] = check
    return report
