"""Codebook-size sweep: train (or reuse) one tokenizer per (quantizer, bits) and tabulate MPJPE and usage.

Layout of a sweep folder::

    sweep_dir/
      results.parquet           one row per cell (see :data:`RESULT_COLUMNS`), rewritten atomically
                                after every cell
      <quantizer>-<bits>/       a train_tokenizer folder (checkpoints/, final/, metrics.jsonl, ...)
        analysis.json           the cell's evaluation (written once; reused with the same eval settings)

A cell whose ``final/`` model exists is complete and is never trained again, whatever the sweep's
settings now say (delete the folder to retrain it). A cell that fails (an exception while training
or evaluating) is recorded with ``status="failed"`` and its error, and the sweep goes on; the next
call retries it (resuming from its last checkpoint, if any).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from motionbook_lib.analysis.codebook import tokenize_split, usage_summary
from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.grid import Cell, run_grid
from motionbook_lib.tokenizer import (
    MotionTokenizer,
    TokenizerConfig,
    TrainConfig,
    evaluate_tokenizer,
    train_tokenizer,
)
from motionbook_lib.training import write_json

__all__ = ["PAPER_BITS", "RESULTS_FILE", "RESULT_COLUMNS", "SweepConfig", "cell_dir", "read_results", "run_sweep"]

RESULTS_FILE = "results.parquet"
ANALYSIS_FILE = "analysis.json"
#: the paper's sweep: 2^8 .. 2^16 codes.
PAPER_BITS: tuple[int, ...] = tuple(range(8, 17))
RESULT_COLUMNS: tuple[str, ...] = (
    "quantizer",
    "bits",
    "codebook_size",
    "status",  # "ok" or "failed"
    "error",
    "reused",  # True: the cell's model existed before this call (not trained)
    "steps",
    "mpjpe_mm",
    "mse",
    "utilization",  # share of the codebook used on the eval split (RVQ: mean over levels)
    "perplexity",
    "entropy_bits",  # pooled code histogram (RVQ: level 0)
    "normalized_entropy",
    "dead",
    "zipf_slope",
    "label_nmi",  # normalized mutual information between code and action label
    "train_seconds",
    "run_dir",
)


@dataclass
class SweepConfig:
    """The grid and the per-cell model / training settings of a codebook-size sweep."""

    quantizers: Sequence[str] = ("lfq2d", "vq", "rvq")
    bits: Sequence[int] = PAPER_BITS
    steps: int = 2000
    # model (shared by every cell)
    width: int = 64
    depth: int = 2
    code_dim: int = 64
    num_quantizers: int = 4
    # training
    batch_size: int = 32
    window: int = 64
    lr: float = 2e-3
    seed: int = 0
    cpu_threads: int = 0
    ckpt_every: int = 0  # 0: four checkpoints per run (steps // 4)
    keep_checkpoints: int = 5  # kept so usage_over_checkpoints can follow the run
    # evaluation
    eval_split: str = "test"  # falls back to "val", then "train", when empty
    eval_window: int = 64
    extra: dict[str, Any] = field(default_factory=dict)  # more TokenizerConfig fields

    def tokenizer_config(self, quantizer: str, bits: int) -> TokenizerConfig:
        return TokenizerConfig(
            quantizer=quantizer,
            codebook_bits=int(bits),
            width=self.width,
            depth=self.depth,
            code_dim=self.code_dim,
            num_quantizers=self.num_quantizers,
            **self.extra,
        )

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            batch_size=self.batch_size,
            window=self.window,
            lr=self.lr,
            seed=self.seed,
            cpu_threads=self.cpu_threads,
            ckpt_every=self.ckpt_every or max(1, self.steps // 4),
            keep_checkpoints=self.keep_checkpoints,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["quantizers"], d["bits"] = list(self.quantizers), [int(b) for b in self.bits]
        return d


def cell_dir(sweep_dir: str | os.PathLike, quantizer: str, bits: int) -> Path:
    """``<sweep_dir>/<quantizer>-<bits>``."""
    return Path(sweep_dir) / f"{quantizer}-{int(bits)}"


def _is_complete(cell: Path) -> bool:
    return (cell / "final" / "config.json").is_file() and (cell / "final" / "model.safetensors").is_file()


def _write_results(path: Path, df: pd.DataFrame) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def read_results(sweep_dir: str | os.PathLike) -> pd.DataFrame:
    """The sweep's ``results.parquet`` (an empty table with :data:`RESULT_COLUMNS` when absent)."""
    path = Path(sweep_dir) / RESULTS_FILE
    if not path.is_file():
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    return pd.read_parquet(path)


def _eval_split(store: MotionStore, split: str) -> str:
    for name in (split, "val", "train"):
        if len(store.split(name)):
            return name
    raise ValueError("the store has no motions to evaluate on")


def _analyse(cell: Path, store: MotionStore, config: SweepConfig, train_seconds: float | None) -> dict[str, Any]:
    """Evaluate the cell's final model, or reuse its ``analysis.json`` made with the same eval settings."""
    file = cell / ANALYSIS_FILE
    split = _eval_split(store, config.eval_split)
    key = {"split": split, "window": config.eval_window, "motions": len(store)}
    if file.is_file():
        old = json.loads(file.read_text())
        if old.get("key") == key:
            return old
        train_seconds = old.get("train_seconds") if train_seconds is None else train_seconds
    model = MotionTokenizer.from_pretrained(cell / "final")
    metrics = evaluate_tokenizer(model, store, split, window=config.eval_window)
    usage = usage_summary(tokenize_split(model, store, split, config.eval_window), model.config.quantizer == "rvq")
    steps = None
    if (cell / "final" / "eval.json").is_file():
        steps = json.loads((cell / "final" / "eval.json").read_text()).get("step")
    result = {"key": key, "metrics": metrics, "usage": usage, "train_seconds": train_seconds, "steps": steps}
    write_json(file, result)
    return result


def run_sweep(
    sweep_dir: str | os.PathLike,
    store: MotionStore | str | os.PathLike,
    config: SweepConfig | None = None,
    *,
    progress: bool = True,
    trainer: Callable[..., Any] = train_tokenizer,
) -> pd.DataFrame:
    """Train or reuse every (quantizer, bits) cell and return (and write) ``results.parquet``.

    Args:
        sweep_dir: the sweep folder (see the module docstring).
        store: motion store (folder or :class:`MotionStore`): train split to train, ``eval_split`` to evaluate.
        config: the grid and settings (default :class:`SweepConfig`, the paper's 2^8..2^16 grid).
        progress: a tqdm bar over the cells.
        trainer: the training function (``train_tokenizer``; tests pass a spy).

    Rows of cells outside this call's grid that are already in ``results.parquet`` are kept.
    """
    config = config or SweepConfig()
    root = Path(sweep_dir)
    root.mkdir(parents=True, exist_ok=True)
    store = open_store(store)
    cells = [Cell({"quantizer": q, "bits": int(b)}, cell_dir(root, q, b).name) for q in config.quantizers
             for b in config.bits]  # fmt: skip

    def base(cell: Cell) -> dict[str, Any]:
        row: dict[str, Any] = {c: None for c in RESULT_COLUMNS}
        return {**row, **cell.key, "codebook_size": 1 << cell.key["bits"], "run_dir": cell.name, "error": ""}

    def run_cell(cell: Cell, folder: Path) -> dict[str, Any]:
        reused = _is_complete(folder)
        train_seconds = None
        if not reused:
            tok_cfg = config.tokenizer_config(cell.key["quantizer"], cell.key["bits"])
            result = trainer(tok_cfg, store, folder, config.steps, config.train_config(), progress=False)
            train_seconds = float(result.train_seconds)
        found = _analyse(folder, store, config, train_seconds)
        m, u = found["metrics"], found["usage"]
        return {**base(cell), "status": "ok", "reused": reused, "steps": found.get("steps"),
                "mpjpe_mm": m["mpjpe_mm"], "mse": m["mse"], "utilization": m["utilization"],
                "perplexity": m["perplexity"], "entropy_bits": u["entropy_bits"],
                "normalized_entropy": u["normalized_entropy"], "dead": u["dead"], "zipf_slope": u["zipf_slope"],
                "label_nmi": u["label_nmi"], "train_seconds": found.get("train_seconds")}  # fmt: skip

    def failed(cell: Cell, folder: Path, err: BaseException, trace: str) -> dict[str, Any]:
        return {**base(cell), "status": "failed", "reused": False, "error": f"{type(err).__name__}: {err}"}

    def write(rows: list[dict[str, Any]]) -> None:
        table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
        _write_results(root / RESULTS_FILE, table.sort_values(["quantizer", "bits"], kind="stable"))

    rows = run_grid(root, cells, run_cell, failed, write, previous=read_results(root).to_dict("records"),
                    desc="codebook sweep", progress=progress)  # fmt: skip
    table = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    order = {q: i for i, q in enumerate(config.quantizers)}
    return (
        table.assign(_o=table["quantizer"].map(order).fillna(len(order)))
        .sort_values(["_o", "bits"], kind="stable")
        .drop(columns="_o")
        .reset_index(drop=True)
    )
