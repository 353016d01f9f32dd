"""Data x model scaling sweep of M0: one recorded training run per (data size, model size) cell.

Layout of a sweep folder::

    sweep_dir/
      sweep.json                the settings, the exact command line(s) and git commit(s) of every invocation
      tokenizer/                the motion tokenizer (train_tokenizer folder), trained once on the full train split
      shared/text_tokenizer/    the BPE text tokenizer (full train split's captions), copied into every cell
      shared/corpus/            motion codes of the full train split, copied into every cell
      evaluator/                text-motion evaluator (only with generation metrics)
      results.csv, results.parquet   one row per cell (:data:`RESULT_COLUMNS`), rewritten after every cell
      d0000500-tiny/            a cell: a train_m0 folder (checkpoints/, final/, metrics.jsonl, ...) plus
        cell.json                 the cell's settings
        error.json                the last failure (removed when the cell succeeds)
        done.json                 the cell's result row, written last and atomically: the cell is finished

Cells share the motion and text tokenizers, so their losses (nats per token) are comparable. A data size
``k`` trains on the first ``k`` motions of one fixed permutation of the train split
(:attr:`M0TrainConfig.train_subset`), so smaller subsets are nested in larger ones.

Steps policy (:attr:`SweepConfig.steps_policy`):

- ``"epochs"`` (default): ``steps = ceil(epochs * data_size / batch_size)`` (at least ``min_steps``). Every cell
  sees its data the same number of times, so the tokens seen grow in proportion to the data size, as in
  Chinchilla's ``L(N, D)`` (D = training tokens = ``epochs * data_size * tokens_per_motion``). A few epochs
  (default 4) cost little against fresh data (Muennighoff et al. 2023).
- ``"fixed"``: ``steps`` for every cell: equal compute per model size, the data size is the only variable
  (small subsets are repeated many times and may overfit).

Resuming: a cell with ``done.json`` is skipped; a failed cell records its error and the sweep goes on (the next
call retries it); an interrupted cell resumes from its last checkpoint. The settings that shape a cell must not
change between calls on one folder (a ``ValueError`` names the field); the grid (``data_sizes``, ``models``) may grow.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from motionbook_lib import atomic
from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.grid import Cell, run_grid
from motionbook_lib.lm.modeling_m0 import SIZE_PRESETS, M0Config
from motionbook_lib.lm.train import FINAL_DIR, M0TrainConfig, train_m0

__all__ = [
    "RESULT_COLUMNS",
    "SweepConfig",
    "cell_dir",
    "non_embedding_params",
    "read_results",
    "run_sweep",
]

SWEEP_FILE = "sweep.json"
DONE_FILE = "done.json"
ERROR_FILE = "error.json"
CELL_FILE = "cell.json"
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
#: the columns of results.csv, in order
RESULT_COLUMNS: tuple[str, ...] = (
    "data_size",  # training motions (nested subsets of the train split)
    "model_size",  # M0 size preset
    "n_params",  # non-embedding parameters (transformer blocks + final norm)
    "train_tokens",  # tokens seen in training: steps * batch_size * mean tokens per training example (estimate)
    "steps",
    "val_loss",  # cross entropy per token (nats), whole text-to-motion sequences of the eval split
    "val_motion_loss",  # the same over motion-token targets only
    "R@1",  # text-to-motion R-precision top 1 of generated motions (NaN when not computed)
    "FID",  # FID of generated vs real motions of the eval split (NaN when not computed)
    "wall_s",  # seconds of training + evaluation of the call that finished the cell
    "status",  # "ok" or "failed"
    "error",
    "n_params_total",  # with embeddings
    "epochs",  # steps * batch_size / data_size
    "tokens_per_motion",  # mean tokens of one training example of the cell's subset
    "run_dir",  # the cell folder, relative to the sweep folder
)
#: fields of SweepConfig that may change between calls on one sweep folder
_FREE_FIELDS = ("data_sizes", "models", "keep_weights")


@dataclass
class SweepConfig:
    """The grid, the shared tokenizer, and the per-cell training and evaluation settings of a scaling sweep."""

    # data
    store: str = ""  # store folder; "" = the built-in synthetic corpus of n_builtin motions (built once)
    n_builtin: int = 2400
    corpus_seed: int = 0
    data_sizes: Sequence[int] = (250, 500, 1000, 2000)  # training motions per cell (nested subsets)
    models: Sequence[str] = ("tiny", "small")  # M0 size presets
    subset_seed: int = 1234  # the permutation the nested subsets are cut from
    # steps policy (module docstring)
    steps_policy: str = "epochs"  # "epochs" or "fixed"
    epochs: float = 4.0
    steps: int = 300  # the "fixed" policy's steps
    min_steps: int = 20
    # motion tokenizer, trained once per sweep on the full train split
    tokenizer_steps: int = 400
    codebook_bits: int = 6
    tokenizer_width: int = 32
    tokenizer_depth: int = 1
    tokenizer_code_dim: int = 32
    tokenizer_batch_size: int = 16
    tokenizer_window: int = 64
    tokenizer_lr: float = 2e-3
    # M0 training (one stage from scratch)
    stage: int = 1  # 1: text-motion alignment pairs; 2: the instruction templates
    batch_size: int = 8
    lr: float = 1e-3
    warmup_ratio: float = 0.05
    max_frames: int = 120
    max_positions: int = 1024
    text_vocab_size: int = 1000
    seed: int = 0
    cpu_threads: int = 1  # torch threads (0 = leave as is)
    ckpt_every: int = 0  # 0: four checkpoints per cell (steps // 4)
    # evaluation
    eval_split: str = "val"
    eval_batch_size: int = 16
    generation_metrics: bool = False  # R@1 and FID with motionbook_lib.eval (an evaluator trained once per sweep)
    gen_samples: int = 64  # eval-split motions generated per cell (first ones in split order; 0 = all)
    evaluator_steps: int = 300
    evaluator_text_encoder: str = "minilm"  # EvaluatorConfig.text_encoder ("minilm", "scratch" or a folder)
    evaluator_batch_size: int = 32
    keep_weights: bool = True  # False: delete checkpoints and final weights once a cell is evaluated

    def __post_init__(self) -> None:
        self.data_sizes = [int(d) for d in self.data_sizes]
        self.models = [str(m) for m in self.models]
        if not self.data_sizes or min(self.data_sizes) < 1:
            raise ValueError(f"data_sizes must be positive numbers of motions, got {self.data_sizes}")
        if not self.models:
            raise ValueError("models must name at least one M0 size preset")
        unknown = [m for m in self.models if m not in SIZE_PRESETS]
        if unknown:
            raise ValueError(f"unknown model size(s) {unknown}; presets are {sorted(SIZE_PRESETS)}")
        if self.steps_policy not in ("epochs", "fixed"):
            raise ValueError(f"steps_policy must be 'epochs' or 'fixed', got {self.steps_policy!r}")
        if self.epochs <= 0 or self.steps < 1 or self.min_steps < 1:
            raise ValueError(f"epochs, steps and min_steps must be > 0, got {self.epochs}, {self.steps}, "
                             f"{self.min_steps}")  # fmt: skip
        if self.stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {self.stage}")

    def cell_steps(self, data_size: int) -> int:
        """Optimizer steps of a cell trained on ``data_size`` motions."""
        if self.steps_policy == "fixed":
            return int(self.steps)
        return max(int(self.min_steps), math.ceil(self.epochs * data_size / self.batch_size))

    def train_config(self, data_size: int, model: str) -> M0TrainConfig:
        steps = self.cell_steps(data_size)
        return M0TrainConfig(
            stage=self.stage, batch_size=self.batch_size, lr=self.lr, warmup_ratio=self.warmup_ratio,
            max_frames=self.max_frames, seed=self.seed, cpu_threads=self.cpu_threads,
            log_every=max(1, min(10, steps // 20)), ckpt_every=self.ckpt_every or max(1, steps // 4),
            text_vocab_size=self.text_vocab_size, train_subset=int(data_size), subset_seed=self.subset_seed,
            model=M0Config(size=model, max_positions=self.max_positions),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["data_sizes"], d["models"] = list(self.data_sizes), list(self.models)
        return d


def cell_dir(sweep_dir: str | os.PathLike, data_size: int, model: str) -> Path:
    """``<sweep_dir>/d<data_size, 7 digits>-<model>``."""
    return Path(sweep_dir) / f"d{int(data_size):07d}-{model}"


def non_embedding_params(model: Any) -> int:
    """Parameters of a causal LM without its token / position embeddings and (untied) output projection."""
    import torch

    skip = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    out = model.get_output_embeddings()
    if out is not None:
        skip.add(id(out.weight))
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen and id(p) not in skip:
            total += p.numel()
        seen.add(id(p))
    return int(total)


def read_results(sweep_dir_or_file: str | os.PathLike) -> pd.DataFrame:
    """The results table of a sweep folder (or a results .csv / .parquet file); empty with the columns if absent."""
    path = Path(sweep_dir_or_file)
    if path.is_dir():
        path = path / RESULTS_CSV
    if not path.is_file():
        if path.suffix in (".csv", ".parquet") and not path.parent.is_dir():
            raise FileNotFoundError(f"no sweep results at {path}")
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, keep_default_na=False, na_values=["", "nan", "NaN"])
    missing = [c for c in RESULT_COLUMNS[:12] if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a sweep results table, missing column(s) {missing}")
    df["error"] = ["" if pd.isna(v) else str(v) for v in df["error"]]
    return df


def _write_results(root: Path, rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    for col in ("R@1", "FID", "val_loss", "val_motion_loss", "wall_s", "epochs", "tokens_per_motion"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df = df.sort_values(["model_size", "data_size"], kind="stable").reset_index(drop=True)
    atomic.write_text(root / RESULTS_CSV, df.to_csv(index=False))
    tmp = root / f".{RESULTS_PARQUET}.tmp-{os.getpid()}"
    df.to_parquet(tmp, index=False)
    os.replace(tmp, root / RESULTS_PARQUET)
    return df


def _git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _record_invocation(root: Path, config: SweepConfig, command: str | None) -> None:
    """Write / extend sweep.json; refuse settings that differ from the folder's (except the grid)."""
    file = root / SWEEP_FILE
    fixed = {k: v for k, v in config.to_dict().items() if k not in _FREE_FIELDS}
    call = {"command": command if command is not None else shlex.join([sys.executable, *sys.argv]),
            "git_commit": _git_commit(), "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_sizes": list(config.data_sizes), "models": list(config.models)}  # fmt: skip
    if file.is_file():
        info = json.loads(file.read_text())
        old = {k: v for k, v in info["config"].items() if k not in _FREE_FIELDS}
        for key in sorted(set(old) | set(fixed)):
            if old.get(key) != fixed.get(key):
                raise ValueError(f"{file}: this sweep folder was made with {key}={old.get(key)!r}, this call has "
                                 f"{fixed.get(key)!r}; use another folder or the same settings")  # fmt: skip
        info["config"] = config.to_dict()
        info["invocations"].append(call)
    else:
        info = {"config": config.to_dict(), "command": call["command"], "git_commit": call["git_commit"],
                "invocations": [call]}  # fmt: skip
    atomic.write_json(file, info, sort_keys=True)


def _open_store(config: SweepConfig) -> MotionStore:
    from motionbook_lib.data.store import open_or_build_store

    return open_or_build_store(config.store or None, n=config.n_builtin, seed=config.corpus_seed)


def _shared_tokenizers(root: Path, store: MotionStore, config: SweepConfig, progress: bool) -> tuple[Path, Any]:
    """Train (once) the motion tokenizer; build (once) the text tokenizer and the train-split corpus to share."""
    from motionbook_lib.lm.train import _text_tokenizer, tokenize_corpus
    from motionbook_lib.lm.vocab import MotionVocab
    from motionbook_lib.tokenizer import MotionTokenizer, TokenizerConfig, TrainConfig, train_tokenizer

    tok_dir = root / "tokenizer"
    if not (tok_dir / FINAL_DIR / "config.json").is_file():
        tok_cfg = TokenizerConfig(quantizer="lfq2d", codebook_bits=config.codebook_bits, width=config.tokenizer_width,
                                  depth=config.tokenizer_depth, code_dim=config.tokenizer_code_dim)  # fmt: skip
        tok_train = TrainConfig(batch_size=config.tokenizer_batch_size, window=config.tokenizer_window,
                                lr=config.tokenizer_lr, seed=config.seed, cpu_threads=config.cpu_threads,
                                ckpt_every=max(1, config.tokenizer_steps // 4))  # fmt: skip
        train_tokenizer(tok_cfg, store, tok_dir, config.tokenizer_steps, tok_train, progress=progress)
    mtok = MotionTokenizer.from_pretrained(tok_dir / FINAL_DIR).eval()
    shared = root / "shared"
    vocab = MotionVocab(mtok.config.codebook_size, mtok.config.tokens_per_step)
    _text_tokenizer(M0TrainConfig(text_vocab_size=config.text_vocab_size), store, vocab, shared)
    tokenize_corpus(store, mtok, "train", config.max_frames, shared / "corpus" / "train.safetensors")
    return tok_dir / FINAL_DIR, mtok


def _seed_cell(cell: Path, shared: Path) -> None:
    """Copy the shared text tokenizer and corpus into a new cell (train_m0 then reuses them)."""
    if not (cell / "text_tokenizer" / "tokenizer.json").exists():
        tmp = cell / ".text_tokenizer.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(shared / "text_tokenizer", tmp)
        os.replace(tmp, cell / "text_tokenizer")
    corpus = cell / "corpus" / "train.safetensors"
    if not corpus.exists():
        atomic.write_bytes(corpus, (shared / "corpus" / "train.safetensors").read_bytes())


def _tokens_per_example(cell: Path, store: MotionStore, mtok: Any, cfg: M0TrainConfig) -> float:
    """Mean tokens of the cell's training examples (epoch-0 templates), for the train_tokens estimate."""
    from motionbook_lib.lm.dataset import encode_example
    from motionbook_lib.lm.text_tokenizer import load_text_tokenizer
    from motionbook_lib.lm.train import make_example, subset_corpus, tokenize_corpus
    from motionbook_lib.lm.vocab import MotionVocab

    corpus = tokenize_corpus(store, mtok, "train", cfg.max_frames, cell / "corpus" / "train.safetensors")
    corpus = subset_corpus(corpus, int(cfg.train_subset), cfg.subset_seed)
    tok = load_text_tokenizer(cell / "text_tokenizer")
    vocab = MotionVocab(mtok.config.codebook_size, mtok.config.tokens_per_step)
    fps = store.fps()
    step_s = mtok.config.alpha / fps
    n = [len(encode_example(tok, *make_example(corpus, store, vocab, i, cfg.stage, cfg.seed, 0, step_s),
                            max_length=10**9)["input_ids"]) for i in range(len(corpus))]  # fmt: skip
    return float(np.mean(n))


class _GenerationEval:
    """R@1 and FID of generated motions with an evaluator trained once per sweep (motionbook_lib.eval)."""

    def __init__(self, root: Path, store: MotionStore, config: SweepConfig, progress: bool) -> None:
        from motionbook_lib.eval.evaluator import Evaluator, EvaluatorConfig, EvaluatorTrainConfig, train_evaluator

        cfg = EvaluatorConfig(text_encoder=config.evaluator_text_encoder)
        train = EvaluatorTrainConfig(batch_size=config.evaluator_batch_size, seed=config.seed,
                                     cpu_threads=config.cpu_threads, eval_split=config.eval_split)  # fmt: skip
        result = train_evaluator(cfg, store, root / "evaluator", config.evaluator_steps, train, progress=progress)
        self.evaluator = Evaluator.from_pretrained(result.model_dir).eval()
        self.store, self.config = store, config
        rows = [int(i) for i in store.split(config.eval_split)]
        rows = [i for i in rows if store.captions(i)]
        self.rows = rows[: config.gen_samples] if config.gen_samples else rows
        if len(self.rows) < 4:
            raise ValueError(f"split {config.eval_split!r} has {len(self.rows)} captioned motions; R@1 needs more")
        self.texts = [store.captions(i)[0] for i in self.rows]
        self.real = [store.features(i)[: config.max_frames] for i in self.rows]  # (T_i, 135) each
        self.real_emb = self.evaluator.encode_motion(self.real).cpu().numpy()
        self.text_emb = self.evaluator.encode_text(self.texts).cpu().numpy()

    def __call__(self, model_dir: Path) -> dict[str, float]:
        import torch

        from motionbook_lib.eval.metrics import t2m_metrics
        from motionbook_lib.lm.pipeline import M0Pipeline

        pipe = M0Pipeline.from_pretrained(model_dir)
        template = "align_t2m" if self.config.stage == 1 else "t2m_00"
        fps = pipe.fps
        generated = []
        with torch.no_grad():
            for k, (text, real) in enumerate(zip(self.texts, self.real, strict=True)):
                out = pipe.generate_motion(text, seconds=max(len(real), 8) / fps, template=template,
                                           seed=self.config.seed + k)  # fmt: skip
                generated.append(out["features"])  # (T, 135)
        gen_emb = self.evaluator.encode_motion(generated).cpu().numpy()
        m = t2m_metrics(self.text_emb, gen_emb, self.real_emb, batch_size=min(32, len(self.rows)), repeats=5,
                        diversity_pairs=min(300, len(self.rows) // 2), seed=self.config.seed)  # fmt: skip
        return {"R@1": float(m["R@1"].mean), "FID": float(m["FID"].mean)}


def _drop_weights(cell: Path) -> None:
    for name in ("checkpoints", FINAL_DIR, "corpus"):
        shutil.rmtree(cell / name, ignore_errors=True)


def run_sweep(
    sweep_dir: str | os.PathLike,
    config: SweepConfig | None = None,
    *,
    store: MotionStore | str | os.PathLike | None = None,
    progress: bool = True,
    command: str | None = None,
    trainer: Callable[..., Any] = train_m0,
) -> pd.DataFrame:
    """Run (or resume) every cell of the sweep and return the results table (also written as CSV and parquet).

    Args:
        sweep_dir: the sweep folder (module docstring).
        config: grid and settings (default :class:`SweepConfig`).
        store: the motion store; default: ``config.store`` (or the built-in corpus).
        progress: tqdm bar over the cells (and the shared tokenizer's training).
        command: the command line to record in sweep.json (default: this process's ``sys.argv``).
        trainer: the training function (``train_m0``; tests pass a spy).
    """
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bars per cell
    try:
        return _run_sweep(sweep_dir, config, store, progress, command, trainer)
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _run_sweep(
    sweep_dir: str | os.PathLike,
    config: SweepConfig | None,
    store: MotionStore | str | os.PathLike | None,
    progress: bool,
    command: str | None,
    trainer: Callable[..., Any],
) -> pd.DataFrame:

    config = config or SweepConfig()
    root = Path(sweep_dir)
    root.mkdir(parents=True, exist_ok=True)
    _record_invocation(root, config, command)
    if config.cpu_threads:
        import torch

        torch.set_num_threads(config.cpu_threads)
    if store is None:
        store = _open_store(config)
    store = open_store(store)
    tok_final, mtok = _shared_tokenizers(root, store, config, progress)
    gen_eval: _GenerationEval | None = None
    if config.generation_metrics:
        try:
            import motionbook_lib.eval  # noqa: F401
        except ImportError as err:
            print(f"[scaling] generation metrics off: motionbook_lib.eval is not importable ({err})", file=sys.stderr)
        else:
            gen_eval = _GenerationEval(root, store, config, progress)

    from motionbook_lib.lm.evaluate import m0_eval_loss
    from motionbook_lib.lm.pipeline import M0Pipeline

    cells = [Cell({"data_size": int(d), "model_size": m}, cell_dir(root, d, m).name) for m in config.models
             for d in config.data_sizes]  # fmt: skip
    previous = read_results(root).to_dict("records") if (root / RESULTS_CSV).is_file() else []
    previous += [json.loads(done.read_text()) for done in sorted(root.glob(f"d*-*/{DONE_FILE}"))]
    for row in previous:  # the key columns as the grid writes them
        row["data_size"], row["model_size"] = int(row["data_size"]), str(row["model_size"])

    def base(cell: Cell) -> dict[str, Any]:
        row: dict[str, Any] = {c: None for c in RESULT_COLUMNS}
        return {**row, **cell.key, "steps": config.cell_steps(cell.key["data_size"]), "run_dir": cell.name,
                "error": "", "R@1": float("nan"), "FID": float("nan")}  # fmt: skip

    def finished(cell: Cell, folder: Path) -> dict[str, Any] | None:
        return json.loads((folder / DONE_FILE).read_text()) if (folder / DONE_FILE).is_file() else None

    started: dict[str, float] = {}

    def run_cell(cell: Cell, folder: Path) -> dict[str, Any]:
        data_size, model = cell.key["data_size"], cell.key["model_size"]
        row, t0 = base(cell), started.setdefault(cell.name, time.perf_counter())
        steps = row["steps"]
        cfg = config.train_config(data_size, model)
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_json(folder / CELL_FILE, {"data_size": data_size, "model": model, "steps": steps,
                                               "train_config": cfg.to_dict()}, sort_keys=True)  # fmt: skip
        _seed_cell(folder, root / "shared")
        result = trainer(cfg, store, tok_final, folder, steps, progress=False)
        pipe = M0Pipeline.from_pretrained(result.model_dir)
        loss = m0_eval_loss(pipe, store, config.eval_split, config.max_frames, config.eval_batch_size,
                            seed=config.seed, stage=config.stage)  # fmt: skip
        lm = pipe.model
        per_example = _tokens_per_example(folder, store, mtok, cfg)
        row.update(
            n_params=non_embedding_params(lm), n_params_total=int(sum(p.numel() for p in lm.parameters())),
            tokens_per_motion=per_example, train_tokens=int(round(steps * config.batch_size * per_example)),
            epochs=steps * config.batch_size / data_size, val_loss=loss["loss"],
            val_motion_loss=loss["motion_loss"],
        )  # fmt: skip
        if gen_eval is not None:
            row.update(gen_eval(result.model_dir))
        row.update(status="ok", wall_s=time.perf_counter() - t0)
        if not config.keep_weights:
            _drop_weights(folder)
        (folder / ERROR_FILE).unlink(missing_ok=True)
        atomic.write_json(folder / DONE_FILE, row, sort_keys=True)  # last: the cell is finished
        return row

    def failed(cell: Cell, folder: Path, err: BaseException, trace: str) -> dict[str, Any]:
        wall = time.perf_counter() - started.get(cell.name, time.perf_counter())
        row = {**base(cell), "status": "failed", "wall_s": wall, "error": f"{type(err).__name__}: {err}"}
        if folder.is_dir():
            atomic.write_json(folder / ERROR_FILE, {**row, "traceback": trace}, sort_keys=True)
        return row

    rows = run_grid(root, cells, run_cell, failed, lambda rows: _write_results(root, rows), previous=previous,
                    finished=finished, desc="scaling sweep", progress=progress)  # fmt: skip
    return _write_results(root, rows)
