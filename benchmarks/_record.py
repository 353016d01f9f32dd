"""What every benchmark leaves behind: ``results/benchmarks/<name>.json``.

Each file holds the exact command, the date, the machine (CPU, cores, memory, library versions), the
torch thread count and the numbers the script printed, so every benchmark figure in the README can be
traced to a file and a command (``benchmarks/readme_tables.py`` renders the README tables from these
files and ``tests/test_benchmark_results.py`` checks the README still shows them).
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionbook_lib.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "results" / "benchmarks"


def _memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 1)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine a number was measured on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def command(argv: list[str] | None = None) -> str:
    """The command line that ran this script, with the script path relative to the project root."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve()
    try:
        argv[0] = str(script.relative_to(ROOT))
    except ValueError:
        argv[0] = str(script)
    return "python " + " ".join(shlex.quote(a) for a in argv)


def record(name: str, numbers: dict[str, Any], *, folder: Path | None = None, argv: list[str] | None = None) -> Path:
    """Write ``<folder>/<name>.json`` atomically (default folder: ``results/benchmarks``) and say where."""
    out = (folder or RESULTS_DIR) / f"{name}.json"
    payload = {
        "benchmark": name,
        "command": command(argv),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "torch_threads": torch.get_num_threads(),
        "numbers": numbers,
    }
    write_json(out, payload)
    print(f"results written: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return out
