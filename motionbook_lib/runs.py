"""Notebook runs: execute parameterised notebooks with papermill and keep a record of every run.

Layout of a runs folder::

    runs/
      runs.parquet                  one row per execution (see ``RUN_COLUMNS``)
      <run_id>/
        <notebook name>.ipynb       the executed notebook (partially executed when it failed)
        params.json                 the parameters passed by the caller (without ``run_dir``)
        metrics.jsonl               written by the notebook through :func:`log_metric`
        figures/                    written by the notebook through :func:`save_figure`

``run_id`` is ``<notebook stem>-<10 hex digits>`` where the digits are the start of the sha256 of the
canonical JSON of ``{"notebook": <file name>, "params": <caller's params>}``.  The notebook *content* is
deliberately not part of it: editing a notebook and running it again with the same parameters overwrites
the same run folder (the history of executions stays in ``runs.parquet``).  Parameters left at the
notebook's defaults are not part of the id either, so ``{}`` and ``{"lr": <the default>}`` are two runs.

Every notebook gets an extra injected parameter ``run_dir`` (a string, absolute path of its run folder)
so it can call ``log_metric(run_dir, ...)`` and ``save_figure(run_dir, ...)``.  Notebooks are executed
with the notebook's own folder as working directory, like Jupyter does.

Command line: ``python -m motionbook_lib.runs {execute,pipeline,list} ...`` (see ``--help``).

The ``metrics.jsonl`` format lives in :mod:`motionbook_lib.metrics_log` and the checks a committed notebook must
pass in :mod:`motionbook_lib.notebook_checks`; this module runs notebooks and keeps their records.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from motionbook_lib.atomic import write_text
from motionbook_lib.metrics_log import METRICS_FILE, jsonable, log_metric, read_lines, read_metrics
from motionbook_lib.notebook_checks import (
    ALLOWED_NOTEBOOK_IMPORTS,
    check_parameter_types,
    notebook_hygiene,
    parameter_names,
    parameter_types,
)

__all__ = [
    "RUN_COLUMNS",
    "RunRecord",
    "ALLOWED_NOTEBOOK_IMPORTS",
    "execute_notebook",
    "list_runs",
    "log_metric",
    "main",
    "make_run_id",
    "notebook_hygiene",
    "parameter_names",
    "parameter_types",
    "read_metrics",
    "save_figure",
]

#: Columns of ``runs/runs.parquet``, in order.
RUN_COLUMNS: tuple[str, ...] = (
    "run_id",
    "notebook",
    "params_json",
    "started_at",
    "duration_s",
    "status",
    "error",
    "n_metrics",
    "git_commit",
)

#: Parameter injected into every notebook by the runner; callers may not pass it.
RUN_DIR_PARAM = "run_dir"
DEFAULT_KERNEL = "python3"
FIGURES_DIR = "figures"
PARAMS_FILE = "params.json"
INDEX_FILE = "runs.parquet"


@dataclass(frozen=True)
class RunRecord:
    """Outcome of one :func:`execute_notebook` call (also one row of ``runs.parquet``)."""

    run_id: str
    notebook: Path
    run_dir: Path
    output_notebook: Path
    params: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    duration_s: float = 0.0
    status: str = "ok"
    error: str = ""
    n_metrics: int = 0
    git_commit: str = ""

    @property
    def ok(self) -> bool:
        """True when the notebook ran to the end without an error."""
        return self.status == "ok"

    def row(self) -> dict[str, Any]:
        """The ``runs.parquet`` row of this record."""
        return {
            "run_id": self.run_id,
            "notebook": self.notebook.as_posix(),
            "params_json": _canonical_json(self.params),
            "started_at": self.started_at,
            "duration_s": float(self.duration_s),
            "status": self.status,
            "error": self.error,
            "n_metrics": int(self.n_metrics),
            "git_commit": self.git_commit,
        }


# --------------------------------------------------------------------------------------------------
# atomic file helpers


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Exclusive advisory lock (POSIX ``flock``) so concurrent runs do not lose index rows."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no locking
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move folder ``src`` to ``dst``, replacing an existing ``dst``.

    POSIX cannot rename onto a non-empty folder, so the old folder is first renamed aside (two renames,
    each atomic; ``dst`` is missing only between them) and deleted afterwards.
    """
    old: Path | None = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# helpers for notebooks


def save_figure(run_dir: str | os.PathLike[str], fig: Any, name: str) -> Path:
    """Write a plotly figure to ``run_dir/figures/<name>.html`` and return the path.

    The HTML loads ``plotly.min.js`` from the same folder (``include_plotlyjs="directory"``), which is
    written once per figures folder, so each figure file stays small and works offline.
    """
    stem = Path(str(name)).name
    if stem.endswith(".html"):
        stem = stem[: -len(".html")]
    if not stem or stem.startswith("."):
        raise ValueError(f"invalid figure name {name!r}")
    fig_dir = Path(run_dir) / FIGURES_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    js = fig_dir / "plotly.min.js"
    if not js.exists():
        from plotly.offline import get_plotlyjs

        write_text(js, get_plotlyjs())
    out = fig_dir / f"{stem}.html"
    write_text(out, fig.to_html(include_plotlyjs="directory", full_html=True))
    return out


# --------------------------------------------------------------------------------------------------
# running


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)


def make_run_id(notebook: str | os.PathLike[str], parameters: dict[str, Any] | None = None) -> str:
    """``<stem>-<10 hex>``: stable for the same notebook *file name* and the same parameters.

    The notebook's folder and content are not hashed (edits keep the id); ``run_dir`` is never part
    of the parameters.
    """
    path = Path(notebook)
    payload = {"notebook": path.name, "params": jsonable(dict(parameters or {}))}
    digest = hashlib.sha256(_canonical_json(payload).encode("utf-8")).hexdigest()[:10]
    return f"{path.stem}-{digest}"


def _validate_parameters(notebook: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    known = parameter_names(notebook)
    if RUN_DIR_PARAM in parameters:
        raise ValueError(f"{RUN_DIR_PARAM!r} is set by the runner and cannot be passed as a parameter")
    unknown = sorted(k for k in parameters if k not in known)
    if unknown:
        listed = ", ".join(k for k in known if k != RUN_DIR_PARAM) or "(none)"
        raise ValueError(
            f"unknown parameter(s) for {notebook}: {', '.join(map(str, unknown))}; known parameters: {listed}"
        )
    try:
        clean = jsonable(parameters)
        _canonical_json(clean)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"parameters for {notebook} must be JSON values: {exc}") from exc
    check_parameter_types(notebook, clean)
    return clean


def _git_commit(cwd: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _describe_failure(notebook: Path, exc: BaseException) -> str:
    """One readable line (plus the error) for a failed execution."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"notebook {notebook} failed at In [{exc.exec_count}]: {exc.ename}: {exc.evalue}"
    if isinstance(exc, CellTimeoutError):
        return f"notebook {notebook} timed out: {exc}".strip()
    if isinstance(exc, DeadKernelError):
        return f"notebook {notebook}: the kernel died: {exc}"
    return f"notebook {notebook} failed: {type(exc).__name__}: {exc}"


def _fix_injected_run_dir(output_nb: Path, staging: Path, final: Path) -> None:
    """Show the final run folder (not the staging one) in the executed notebook's injected cell."""
    import nbformat

    if not output_nb.exists():
        return
    try:
        nb = nbformat.read(str(output_nb), as_version=4)
    except Exception:  # a half-written notebook is still useful as is
        return
    changed = False
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []) and str(staging) in cell.source:
            cell.source = cell.source.replace(str(staging), str(final))
            changed = True
    if changed:
        write_text(output_nb, nbformat.writes(nb))


def _append_index(runs_dir: Path, row: dict[str, Any]) -> None:
    """Append a row to ``runs_dir/runs.parquet`` (read, concat, write temp file, ``os.replace``)."""
    index = runs_dir / INDEX_FILE
    with _locked(runs_dir / ".runs.lock"):
        new = _typed(pd.DataFrame([row], columns=list(RUN_COLUMNS)))
        if index.exists():
            new = pd.concat([_typed(pd.read_parquet(index)), new], ignore_index=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{INDEX_FILE}.", suffix=".tmp", dir=runs_dir)
        os.close(fd)
        try:
            new.to_parquet(tmp, index=False)
            os.chmod(tmp, 0o644)
            os.replace(tmp, index)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for col in RUN_COLUMNS:
        if col not in df.columns:
            df[col] = 0 if col in ("duration_s", "n_metrics") else ""
    df = df[list(RUN_COLUMNS)].copy()
    df["duration_s"] = df["duration_s"].astype("float64")
    df["n_metrics"] = df["n_metrics"].astype("int64")
    for col in RUN_COLUMNS:
        if col not in ("duration_s", "n_metrics"):
            df[col] = df[col].fillna("").astype(str)
    return df


def list_runs(runs_dir: str | os.PathLike[str] = Path("runs")) -> pd.DataFrame:
    """All recorded runs (oldest first); an empty frame with ``RUN_COLUMNS`` if there are none."""
    index = Path(runs_dir) / INDEX_FILE
    if not index.exists():
        return _typed(pd.DataFrame(columns=list(RUN_COLUMNS)))
    return _typed(pd.read_parquet(index))


def execute_notebook(
    notebook: Path,
    parameters: dict[str, Any] | None = None,
    runs_dir: Path = Path("runs"),
    cell_timeout: int = 600,
    kernel_name: str | None = None,
    *,
    progress_bar: bool = True,
) -> RunRecord:
    """Execute ``notebook`` with papermill into ``runs_dir/<run_id>/`` and record it in ``runs.parquet``.

    ``parameters`` override the notebook's ``parameters`` cell; ``run_dir`` is always injected as well.
    Before anything runs, each must have the type its default shows in that cell (see :func:`parameter_types`;
    an int is fine for a float, a ``None`` default takes anything): otherwise a ``ValueError`` names it.
    Each cell may run at most ``cell_timeout`` seconds.  The kernel defaults to ``python3``, which
    jupyter_client starts with the running interpreter (``sys.executable``), i.e. the venv's Python.
    The notebook runs in a staging folder that then replaces ``runs_dir/<run_id>`` (previous contents
    of that folder are dropped).  On failure a ``"failed"`` row is recorded, the partially executed
    notebook is kept in the run folder, and ``RuntimeError`` is raised.
    """
    import papermill as pm

    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook not found: {notebook}")
    if cell_timeout is None or cell_timeout <= 0:
        raise ValueError(f"cell_timeout must be a positive number of seconds, got {cell_timeout!r}")
    params = _validate_parameters(notebook, dict(parameters or {}))
    run_id = make_run_id(notebook, params)

    runs_dir = Path(runs_dir).absolute()
    runs_dir.mkdir(parents=True, exist_ok=True)
    final_dir = runs_dir / run_id
    staging = runs_dir / f".{run_id}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    output_nb = staging / notebook.name
    write_text(staging / PARAMS_FILE, json.dumps(params, indent=2, sort_keys=True) + "\n")

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    error = ""
    failure: BaseException | None = None
    print(f"[motionbook] running {notebook} -> {final_dir}", flush=True)
    try:
        pm.execute_notebook(
            str(notebook),
            str(output_nb),
            parameters={**params, RUN_DIR_PARAM: str(staging)},
            kernel_name=kernel_name or DEFAULT_KERNEL,
            language="python",
            execution_timeout=int(cell_timeout),
            progress_bar=progress_bar,
            cwd=str(notebook.resolve().parent),
        )
    except Exception as exc:
        failure = exc
        error = _describe_failure(notebook, exc)
    except BaseException:  # KeyboardInterrupt & co: drop the staging folder, record nothing
        shutil.rmtree(staging, ignore_errors=True)
        raise
    duration = time.perf_counter() - t0

    _fix_injected_run_dir(output_nb, staging, final_dir)
    n_metrics = len(read_lines(staging / METRICS_FILE))
    _replace_dir(staging, final_dir)
    record = RunRecord(
        run_id=run_id,
        notebook=notebook,
        run_dir=final_dir,
        output_notebook=final_dir / notebook.name,
        params=params,
        started_at=started_at,
        duration_s=round(duration, 3),
        status="failed" if failure else "ok",
        error=error,
        n_metrics=n_metrics,
        git_commit=_git_commit(notebook.resolve().parent),
    )
    _append_index(runs_dir, record.row())
    if failure is not None:
        kept = f"; partially executed notebook: {record.output_notebook}" if record.output_notebook.exists() else ""
        raise RuntimeError(error + kept) from failure
    print(f"[motionbook] ok: {run_id} ({record.duration_s:.1f}s, {n_metrics} metrics)", flush=True)
    return record


# --------------------------------------------------------------------------------------------------
# command line


def _parse_value(text: str) -> Any:
    """``-p`` values: JSON when they parse (``3``, ``0.1``, ``true``, ``[1,2]``, ``null``), else a string."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text
    return value


def _cli_parameters(notebook: Path, pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``-p KEY VALUE`` pairs as parameters: VALUE as JSON when it parses, kept as text for a parameter whose default
    is a string (so ``-p query 123`` is the text "123"). Types are checked by :func:`execute_notebook`."""
    types = parameter_types(notebook) if notebook.is_file() else {}
    return {key: value if types.get(key, (None,))[0] is str else _parse_value(value) for key, value in pairs}


def _format_runs(df: pd.DataFrame) -> str:
    if df.empty:
        return "no runs recorded"
    shown = df[["run_id", "status", "started_at", "duration_s", "n_metrics", "params_json", "error"]].copy()
    shown["error"] = shown["error"].map(lambda s: s if len(s) <= 60 else s[:57] + "...")
    return shown.to_string(index=False)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motionbook_lib.runs", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="runs folder (default: runs)")
        p.add_argument("--cell-timeout", type=int, default=600, help="seconds per cell (default: 600)")
        p.add_argument("--kernel", default=None, help=f"kernel name (default: {DEFAULT_KERNEL})")

    ex = sub.add_parser("execute", help="execute one notebook")
    ex.add_argument("notebook", type=Path)
    ex.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="parameter (VALUE parsed as JSON when possible, else a string; checked against the type of the "
        "parameter's default in the notebook's parameters cell before anything runs); repeatable",
    )
    common(ex)

    pipe = sub.add_parser("pipeline", help="execute notebooks in order with their defaults")
    pipe.add_argument("notebooks", type=Path, nargs="+")
    common(pipe)

    ls = sub.add_parser("list", help="print the table of past runs")
    ls.add_argument("--runs-dir", type=Path, default=Path("runs"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    args = _build_parser().parse_args(argv)
    if args.command == "list":
        print(_format_runs(list_runs(args.runs_dir)))
        return 0

    if args.command == "execute":
        try:
            params = _cli_parameters(args.notebook, args.parameter)
            record = execute_notebook(args.notebook, params, args.runs_dir, args.cell_timeout, args.kernel)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except RuntimeError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        print(f"run {record.run_id}: {record.status} -> {record.run_dir}")
        return 0

    # pipeline
    done: list[RunRecord] = []
    total = len(args.notebooks)
    failed_msg = ""
    for i, nb in enumerate(args.notebooks, start=1):
        print(f"[{i}/{total}] {nb}", flush=True)
        try:
            done.append(execute_notebook(nb, None, args.runs_dir, args.cell_timeout, args.kernel))
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            failed_msg = f"{nb}: {exc}"
            break
    print("\npipeline summary:")
    for rec in done:
        print(f"  ok      {rec.notebook}  {rec.run_id}  {rec.duration_s:.1f}s  {rec.n_metrics} metrics")
    if failed_msg:
        print(f"  FAILED  {failed_msg}")
        skipped = total - len(done) - 1
        if skipped:
            print(f"  skipped {skipped} notebook(s) after the failure")
        return 1
    print(f"all {total} notebook(s) ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
