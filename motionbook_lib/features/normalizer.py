"""Streaming per-channel mean / std (Welford / Chan et al.), saved as safetensors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import torch
from safetensors.torch import load_file, save

from motionbook_lib.atomic import write_bytes
from motionbook_lib.rotations import check_finite

A = TypeVar("A")  # a torch tensor or a numpy array


def chan_merge(count_a: int, mean_a: A, m2_a: A, count_b: int, mean_b: A, m2_b: A) -> tuple[int, A, A]:
    """Count, mean and sum of squared deviations of two disjoint sets from theirs (Chan et al.'s parallel
    formula); works on torch tensors and numpy arrays alike. ``count_a + count_b`` must be positive."""
    total = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (count_b / total)
    m2 = m2_a + m2_b + delta**2 * (count_a * count_b / total)
    return total, mean, m2


@dataclass
class Normalizer:
    """Per-channel statistics accumulated over any number of batches.

    ``update`` takes (..., D) arrays; all leading dimensions are pooled, so a
    million motions can be streamed through in chunks with O(D) memory. Sums are
    kept in float64 and merged with Chan's parallel formula, so the result does
    not depend on how the data were chunked (up to rounding).
    """

    dim: int
    #: Floor of the std, in feature units. Channels that never move in the data (a joint axis a
    #: corpus never turns) would otherwise be divided by ~0 and blow up on data where they do move;
    #: 0.01 suits D135 (6D components in [-1, 1], velocities ~0.05 m/frame).
    eps: float = 1e-2
    count: int = 0
    mean: torch.Tensor = field(default=None)  # type: ignore[assignment]
    m2: torch.Tensor = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.mean is None:
            self.mean = torch.zeros(self.dim, dtype=torch.float64)
        if self.m2 is None:
            self.m2 = torch.zeros(self.dim, dtype=torch.float64)

    def update(self, x: torch.Tensor) -> Normalizer:
        """Fold a batch (..., D) into the running statistics."""
        x = torch.as_tensor(x)
        if x.dim() < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., {self.dim}), got {tuple(x.shape)}")
        check_finite(x, "x")
        x = x.reshape(-1, self.dim).double().cpu()
        n = x.shape[0]
        if n == 0:
            return self
        b_mean = x.mean(0)
        b_m2 = ((x - b_mean) ** 2).sum(0)
        self.count, self.mean, self.m2 = chan_merge(self.count, self.mean, self.m2, n, b_mean, b_m2)
        return self

    def merge(self, other: Normalizer) -> Normalizer:
        """Fold the statistics of other, disjoint data into these (in place); returns self."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge a normalizer of dim {other.dim} into dim {self.dim}")
        if other.count:
            self.count, self.mean, self.m2 = chan_merge(self.count, self.mean, self.m2, other.count, other.mean,
                                                        other.m2)  # fmt: skip
        return self

    @property
    def var(self) -> torch.Tensor:
        if self.count < 2:
            return torch.zeros(self.dim, dtype=torch.float64)
        return self.m2 / (self.count - 1)

    @property
    def std(self) -> torch.Tensor:
        """Sample std, floored at ``eps`` so constant channels do not divide by zero."""
        return self.var.sqrt().clamp_min(self.eps)

    def block_average_std(self, blocks: list[slice]) -> None:
        """Replace the std of each block of channels by the block's mean std (HumanML3D style).

        Stored by rescaling ``m2``, so save/load keeps it.
        """
        std = self.std.clone()
        for b in blocks:
            std[b] = std[b].mean()
        if self.count >= 2:
            self.m2 = std**2 * (self.count - 1)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (x - mean) / std in x's dtype and device."""
        self._require_fit()
        return (x - self.mean.to(x)) / self.std.to(x)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        return x * self.std.to(x) + self.mean.to(x)

    def _require_fit(self) -> None:
        if self.count == 0:
            raise RuntimeError("Normalizer has seen no data; call update() first")

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "mean": self.mean.contiguous(),
            "m2": self.m2.contiguous(),
            "count": torch.tensor([self.count], dtype=torch.int64),
            "eps": torch.tensor([self.eps], dtype=torch.float64),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the statistics to ``path`` (safetensors) atomically."""
        data = save(self.state_dict(), metadata={"format": "motionbook.normalizer", "dim": str(self.dim)})
        return write_bytes(path, data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Normalizer:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"normalizer file not found: {path}")
        try:
            state = load_file(str(path))
        except Exception as err:
            raise ValueError(f"{path}: not a readable safetensors normalizer ({err})") from err
        for key in ("mean", "m2", "count", "eps"):
            if key not in state:
                raise ValueError(f"{path}: missing field '{key}'")
        mean = state["mean"].double()
        if state["m2"].shape != mean.shape or mean.dim() != 1:
            raise ValueError(f"{path}: fields 'mean' {tuple(mean.shape)} and 'm2' {tuple(state['m2'].shape)} differ")
        return cls(
            dim=mean.shape[0],
            eps=float(state["eps"][0]),
            count=int(state["count"][0]),
            mean=mean,
            m2=state["m2"].double(),
        )
