"""The ``metrics.jsonl`` format every run folder shares: one JSON object per line,
``{"name", "value", "step", "time", ...}``.

Notebooks log a value now and then with :func:`log_metric` (rewrites the file atomically); trainers append a
step's values in one write with :func:`append_metrics`, and on resume cut the lines a crash left after the last
checkpoint with :func:`truncate_metrics`. :func:`read_metrics` reads any of them back as a DataFrame.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from motionbook_lib.atomic import write_bytes, write_text

__all__ = [
    "METRICS_FILE",
    "append_metrics",
    "drop_metrics",
    "jsonable",
    "log_metric",
    "read_lines",
    "read_metrics",
    "truncate_metrics",
]

#: The metrics file of a run folder.
METRICS_FILE = "metrics.jsonl"


def jsonable(value: Any) -> Any:
    """Turn numpy / torch scalars and small arrays into plain Python values."""
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    tolist = getattr(value, "tolist", None)  # numpy arrays/scalars, torch tensors
    if callable(tolist):
        return jsonable(tolist())
    item = getattr(value, "item", None)
    if callable(item):
        return jsonable(item())
    raise TypeError(f"cannot store a {type(value).__name__} as JSON: {value!r}")


def log_metric(
    run_dir: str | os.PathLike[str], name: str, value: Any, step: int | None = None, **extra: Any
) -> dict[str, Any]:
    """Append one metric as a JSON line to ``run_dir/metrics.jsonl`` and return the record.

    The record is ``{"name", "value", "step", "time", **extra}``; numpy/torch scalars are converted.
    The file is rewritten atomically on every call (fine for per-epoch logging, not per-step in a hot
    loop).  Non-finite floats are written as ``NaN``/``Infinity`` (Python's ``json`` reads them back).
    """
    path = Path(run_dir) / METRICS_FILE
    record: dict[str, Any] = {
        "name": str(name),
        "value": jsonable(value),
        "step": None if step is None else int(step),
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    record.update({k: jsonable(v) for k, v in extra.items()})
    line = json.dumps(record, sort_keys=False) + "\n"
    existing = path.read_bytes() if path.exists() else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    write_bytes(path, existing + line.encode("utf-8"))
    return record


def read_metrics(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Metrics logged in ``run_dir`` as a DataFrame (empty with ``name/value/step/time`` if none)."""
    path = Path(run_dir) / METRICS_FILE
    rows = [json.loads(line) for line in read_lines(path)]
    if not rows:
        return pd.DataFrame(columns=["name", "value", "step", "time"])
    return pd.DataFrame(rows)


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of ``path`` (none when it does not exist)."""
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_metrics(run_dir: str | os.PathLike, values: dict[str, float], step: int) -> None:
    """Append one :func:`log_metric` record per value to ``run_dir/metrics.jsonl``.

    Same records as ``log_metric`` (``name``, ``value``, ``step``, ``time``), but appended in one write
    instead of rewriting the whole file for each value, which a long run could not afford.
    """
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    lines = "".join(
        json.dumps({"name": k, "value": float(v), "step": int(step), "time": now}) + "\n" for k, v in values.items()
    )
    with open(Path(run_dir) / METRICS_FILE, "a", encoding="utf-8") as fh:
        fh.write(lines)


def _keep_metrics(path: Path, keep_record: Callable[[dict], bool]) -> None:
    """Rewrite ``path`` atomically with the metric lines ``keep_record`` accepts; lines that are not JSON (cut
    short by a crash) are dropped, and a file missing its final newline is rewritten."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    keep = []
    for ln in lines:
        try:
            record = json.loads(ln)
        except ValueError:
            continue
        if keep_record(record):
            keep.append(ln)
    if len(keep) != len(lines) or not path.read_bytes().endswith(b"\n"):
        write_text(path, "".join(ln + "\n" for ln in keep))


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metric lines logged after ``step`` (by a run that died before its next checkpoint) and any
    line cut short by the crash."""
    _keep_metrics(path, lambda record: (record.get("step") or 0) <= step)


def drop_metrics(path: Path, step: int, prefix: str) -> None:
    """Drop the metric lines of ``step`` whose name starts with ``prefix`` (e.g. a finished run's final ``val/``
    evaluation, which a rerun logs again), rewriting the file atomically."""
    _keep_metrics(path, lambda r: not (r.get("step") == step and str(r.get("name", "")).startswith(prefix)))
