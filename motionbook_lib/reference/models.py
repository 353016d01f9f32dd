"""The checked-in reference models: export a finished reference run into ``models/reference/`` and load it.

    from motionbook_lib.reference import load
    ref = load()                     # ref.m0 (M0Pipeline), ref.tokenizer, ref.evaluator, ref.card (text)
    ref.m0.generate_motion("a person walks forward", seconds=4, guidance_scale=ref.guidance_scale)
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionbook_lib.atomic import write_folder
from motionbook_lib.paths import project_root

__all__ = ["DEFAULT_DIR", "ReferenceModels", "export_models", "load", "reference_dir"]

#: Where the reference models live in the project.
DEFAULT_DIR = Path("models") / "reference"
#: The most the checked-in folder may weigh (plain git, no LFS).
MAX_BYTES = 40 * 2**20


def reference_dir(folder: str | os.PathLike | None = None) -> Path:
    """``folder`` or the project's ``models/reference``."""
    return Path(folder) if folder is not None else project_root() / DEFAULT_DIR


@dataclass
class ReferenceModels:
    """The reference M0 (with its motion tokenizer), the evaluator, and the run's card and results."""

    m0: Any
    tokenizer: Any
    evaluator: Any
    guidance_scale: float
    results: dict[str, Any]
    card: str
    folder: Path


def load(folder: str | os.PathLike | None = None) -> ReferenceModels:
    """Load the reference models (default ``models/reference``); a clear error when they are not there."""
    from motionbook_lib.eval import Evaluator
    from motionbook_lib.lm import M0Pipeline

    root = reference_dir(folder)
    for part in ("m0", "evaluator", "results.json", "MODEL_CARD.md"):
        if not (root / part).exists():
            raise FileNotFoundError(
                f"{root / part} is missing: the reference models are made by `python -m motionbook_lib.reference "
                f"train` and exported with `python -m motionbook_lib.reference export --out {root}`"
            )
    results = json.loads((root / "results.json").read_text(encoding="utf-8"))
    m0 = M0Pipeline.from_pretrained(root / "m0")
    return ReferenceModels(
        m0=m0,
        tokenizer=m0.motion_tokenizer,
        evaluator=Evaluator.from_pretrained(root / "evaluator").eval(),
        guidance_scale=float(results["config"]["guidance_scale"]),
        results=results,
        card=(root / "MODEL_CARD.md").read_text(encoding="utf-8"),
        folder=root,
    )


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def export_models(run_dir: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy a finished run's stage-2 M0 (its motion tokenizer inside), evaluator, ``results.json`` and
    ``MODEL_CARD.md`` into ``dest`` (default ``models/reference``), atomically; refuses more than 40 MB."""
    from motionbook_lib.reference.card import write_card

    run = Path(run_dir)
    summary_file = run / "results.json"
    if not summary_file.is_file():
        raise FileNotFoundError(f"{summary_file} is missing: run `python -m motionbook_lib.reference train` first")
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    m0_dir, ev_dir = Path(summary["models"]["m0_stage2"]), Path(summary["models"]["evaluator"])
    out = reference_dir(dest)

    def fill(tmp: Path) -> None:
        shutil.copytree(m0_dir, tmp / "m0", ignore=shutil.ignore_patterns("*.tmp"))
        shutil.copytree(ev_dir, tmp / "evaluator", ignore=shutil.ignore_patterns("*.tmp"))
        shutil.copy2(summary_file, tmp / "results.json")
        write_card(run, tmp / "MODEL_CARD.md")
        size = _size(tmp)
        if size > MAX_BYTES:
            raise ValueError(f"the reference models weigh {size / 2**20:.1f} MB, more than {MAX_BYTES / 2**20:.0f} MB")

    return write_folder(out, fill)
