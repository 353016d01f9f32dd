"""Pieces every motionbook training loop shares: data order, LR schedule, and checkpoint state as
safetensors + JSON (model, AdamW moments, every random generator), never pickle.

Used by the tokenizer trainer and the M0 trainer, so both resume a killed run on the same loss curve.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch.utils.data import Sampler

from motionbook_lib import atomic

__all__ = [
    "CKPT_DIR",
    "STATE_FILE",
    "EpochBatchSampler",
    "latest_checkpoint",
    "lr_factor",
    "optimizer_from_files",
    "optimizer_to_files",
    "read_json",
    "rng_state",
    "set_rng_state",
    "write_checkpoint",
    "write_json",
]

CKPT_DIR = "checkpoints"
STATE_FILE = "trainer_state.json"


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of a seeded permutation per epoch; process ``rank`` takes its slice of each global batch.

    Incomplete global batches at the end of an epoch are dropped. :meth:`set_position` picks the
    epoch and the first batch, which is all the data-order state a resume needs.
    """

    def __init__(self, n: int, batch_size: int, num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        self.n, self.batch_size, self.num_replicas, self.rank, self.seed = n, batch_size, num_replicas, rank, seed
        self.batches_per_epoch = n // (batch_size * num_replicas)
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start)

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        g = self.batch_size * self.num_replicas
        for b in range(self.start, self.batches_per_epoch):
            chunk = perm[b * g : (b + 1) * g]
            yield chunk[self.rank * self.batch_size : (self.rank + 1) * self.batch_size].tolist()


def lr_factor(step: int, steps: int, warmup_ratio: float, min_lr_ratio: float) -> float:
    """Linear warm-up over ``warmup_ratio * steps`` steps, then cosine decay to ``min_lr_ratio``."""
    warm = int(round(warmup_ratio * steps))
    if step < warm:
        return (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, steps - warm))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def write_json(path: Path, obj: Any) -> None:
    """Sorted, indented JSON written atomically."""
    atomic.write_json(path, obj, sort_keys=True)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except ValueError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every global generator this process uses, as tensors + JSON."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = s
    # the legacy global numpy generator is exactly what third-party code may draw from
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    tensors["numpy.keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, py_state, gauss_next = random.getstate()
    tensors["python.state"] = torch.tensor(py_state, dtype=torch.int64)
    meta = {"numpy": [name, int(pos), int(has_gauss), float(cached)], "python": [version, gauss_next]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[f"cuda.{i}"] for i in range(len(tensors)) if f"cuda.{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    name, pos, has_gauss, cached = meta["numpy"]
    keys = tensors["numpy.keys"].numpy().astype(np.uint32)
    np.random.set_state((name, keys, pos, has_gauss, cached))  # noqa: NPY002
    version, gauss_next = meta["python"]
    random.setstate((version, tuple(int(v) for v in tensors["python.state"].tolist()), gauss_next))


def optimizer_to_files(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """torch optimizer state_dict -> (tensors, JSON): ``state.<param>.<name>`` tensors + param groups."""
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_files(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for key, value in meta.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    groups = meta["param_groups"]
    for g in groups:
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """The newest complete ``checkpoints/step-*`` folder of a training folder, or None."""
    root = Path(out_dir) / CKPT_DIR
    if not root.is_dir():
        return None
    done = [p for p in root.glob("step-*") if p.is_dir() and (p / STATE_FILE).is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[1])) if done else None


def write_checkpoint(
    out_dir: Path,
    step: int,
    accelerator: Any,
    save_model: Callable[[Path], None],
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    keep: int,
) -> None:
    """Write ``checkpoints/step-<step>`` atomically from every process of a run.

    Each process stores its random generators (``rng-rank<r>``); the main process stores the
    model (``save_model(folder)``), the optimizer and ``state`` (written last, as
    ``trainer_state.json``), renames the temp folder into place and keeps the newest ``keep``.
    """
    root = out_dir / CKPT_DIR
    name = f"step-{step:08d}"
    tmp = root / f".{name}.tmp"
    main, rank = accelerator.is_main_process, accelerator.process_index
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    tensors, meta = rng_state()
    save_file(tensors, str(tmp / f"rng-rank{rank}.safetensors"))
    write_json(tmp / f"rng-rank{rank}.json", meta)
    accelerator.wait_for_everyone()
    if main:
        save_model(tmp)
        opt_tensors, opt_meta = optimizer_to_files(optimizer.state_dict())
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        write_json(tmp / "optimizer.json", opt_meta)
        write_json(tmp / STATE_FILE, {**state, "step": step})
        final = root / name
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        done = sorted((p for p in root.glob("step-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
