"""Motion tokenizers: the Motionbook 2D lookup-free tokenizer (2D-LFQ) and 1D VQ / RVQ / LFQ baselines.

Everything lives in one file, top to bottom: the body-part layout, the conv building blocks, the
encoders and decoders, the quantizer wrappers around ``vector-quantize-pytorch``, and the model with
its public API (``encode`` / ``decode`` / ``tokens_to_joints`` / ``save_pretrained`` /
``from_pretrained``).

Shapes (B batch, T frames, T' = T / alpha token steps, C conv width, P = 6 body parts)::

    features   (B, T, 135)        SMPL-D135, normalized with the store's train statistics
    1D latent  (B, d, T')         d = code_dim (VQ, RVQ) or codebook_bits (LFQ)
    2D latent  (B, d, T', P)      d = codebook_bits; one code per (step, part) position
    tokens     (B, T')            vq, lfq
               (B, T', Q)         rvq (one index per residual level)
               (B, T', P)         lfq2d (one index per body part)

The 2D tokenizer treats the motion as a one-channel image (T x 135) whose columns are grouped by
body part (:data:`PART_NAMES`, :func:`part_layout`): each part's channels are gathered and
zero-padded to a common width W = 30 (root 9, torso 30, each arm 24, each leg 24), and a per-part
linear map (a (1 x W) "patch" kernel with its own weights for each part) turns the image into a
feature map (B, C, T, P). From there 2D convolutions run over (time, part): kernels are 3 steps in
time and ``part_kernel`` parts wide (3 by default, a 2D conv over time and joints as in the paper),
strided convs halve time only, so the part axis keeps its 6 positions all the way down. With 3-wide
kernels the parts **mix**: each layer lets a part's latent see its neighbours in the order root, torso,
left arm, right arm, left leg, right leg, and after a few layers every part's latent depends on every
part's input (:func:`part_sensitivity` measures it). ``part_kernel=1`` keeps the parts apart: each
part's latent then depends on its own channels only. The decoder mirrors this and a per-part linear
map scatters each part's W outputs back to its channels (the padding outputs are dropped).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from safetensors.torch import save_file
from torch import nn
from vector_quantize_pytorch import LFQ, ResidualVQ, VectorQuantize

from motionbook_lib.atomic import write_folder
from motionbook_lib.features.d135 import d135_part_channels, d135_to_joints
from motionbook_lib.features.normalizer import Normalizer
from motionbook_lib.skeleton import BODY_PARTS, Skeleton
from motionbook_lib.tokenizer.config import TokenizerConfig
from motionbook_lib.weights import read_state

__all__ = [
    "CONFIG_FILE",
    "MODEL_FILE",
    "NORMALIZER_FILE",
    "PART_NAMES",
    "MotionTokenizer",
    "QuantizerOutput",
    "TokenizerOutput",
    "part_layout",
    "part_sensitivity",
]

PART_NAMES: tuple[str, ...] = tuple(BODY_PARTS)  # root, torso, left_arm, right_arm, left_leg, right_leg
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
NORMALIZER_FILE = "normalizer.safetensors"
FORMAT = "motionbook.tokenizer"
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------
# body-part layout of the 2D tokenizer


def part_layout(feature_dim: int = 135) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors that move D135 channels to a (P, W) part grid and back.

    Returns:
        gather: (P, W) long; row p lists part p's channels, padded with ``feature_dim`` (the
            index of an extra all-zero column appended before gathering).
        scatter: (feature_dim,) long; channel c sits at position ``scatter[c]`` of the flattened
            (P * W) grid.
    """
    parts = d135_part_channels()
    width = max(len(ch) for ch in parts.values())
    gather = torch.full((len(PART_NAMES), width), feature_dim, dtype=torch.long)
    scatter = torch.empty(feature_dim, dtype=torch.long)
    for p, name in enumerate(PART_NAMES):
        ch = torch.tensor(parts[name], dtype=torch.long)
        gather[p, : len(ch)] = ch
        scatter[ch] = p * width + torch.arange(len(ch))
    return gather, scatter


class PartEmbed(nn.Module):
    """(B, T, 135) -> (B, C, T, P): gather each part's channels, apply the part's own linear map."""

    def __init__(self, dim_out: int, feature_dim: int = 135) -> None:
        super().__init__()
        gather, _ = part_layout(feature_dim)
        self.register_buffer("gather", gather, persistent=False)  # (P, W)
        n_parts, width = gather.shape
        bound = 1.0 / math.sqrt(width)
        self.weight = nn.Parameter(torch.empty(n_parts, width, dim_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_parts, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 1))  # (B, T, 136): the last column is the zero padding
        x = x[..., self.gather]  # (B, T, P, W)
        y = einsum(x, self.weight, "b t p w, p w c -> b c t p")  # (B, C, T, P)
        return y + rearrange(self.bias, "p c -> c 1 p")


class PartUnembed(nn.Module):
    """(B, C, T, P) -> (B, T, 135): each part's own linear map to its W slots, padding slots dropped."""

    def __init__(self, dim_in: int, feature_dim: int = 135) -> None:
        super().__init__()
        gather, scatter = part_layout(feature_dim)
        self.register_buffer("scatter", scatter, persistent=False)  # (135,)
        n_parts, width = gather.shape
        bound = 1.0 / math.sqrt(dim_in)
        self.weight = nn.Parameter(torch.empty(n_parts, dim_in, width).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_parts, width))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = einsum(h, self.weight, "b c t p, p c w -> b t p w") + self.bias  # (B, T, P, W)
        return y.flatten(-2)[..., self.scatter]  # (B, T, 135)


# ----------------------------------------------------------------------------------------------
# conv building blocks, 1D (time) or 2D (time x part)


def conv(
    two_d: bool, c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1, part_kernel: int = 3
) -> nn.Module:
    """Conv over time with kernel k (same length unless strided); 2D kernels with k > 1 also span
    ``part_kernel`` neighbouring parts (1: parts kept apart)."""
    pad = dilation * (k - 1) // 2
    if not two_d:
        return nn.Conv1d(c_in, c_out, k, stride=stride, padding=pad, dilation=dilation)
    kp = part_kernel if k > 1 else 1
    return nn.Conv2d(c_in, c_out, (k, kp), stride=(stride, 1), padding=(pad, kp // 2), dilation=(dilation, 1))


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3_dilated(relu(x))))"""

    def __init__(self, two_d: bool, dim: int, dilation: int, part_kernel: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(),
            conv(two_d, dim, dim, 3, dilation=dilation, part_kernel=part_kernel),
            nn.ReLU(),
            conv(two_d, dim, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


def res_stack(two_d: bool, dim: int, depth: int, part_kernel: int = 3) -> nn.Sequential:
    """``depth`` residual blocks with dilations 3**(depth-1), ..., 9, 3, 1 (T2M-GPT style)."""
    return nn.Sequential(*[ResBlock(two_d, dim, 3**i, part_kernel) for i in reversed(range(depth))])


class Encoder(nn.Module):
    """(B, T, 135) -> (B, d, T/alpha) for 1D, (B, d, T/alpha, P) for 2D."""

    def __init__(self, config: TokenizerConfig, latent_dim: int, two_d: bool) -> None:
        super().__init__()
        c, levels, kp = config.width, int(math.log2(config.alpha)), config.part_kernel
        self.two_d = two_d
        self.stem = PartEmbed(c, config.feature_dim) if two_d else nn.Conv1d(config.feature_dim, c, 3, padding=1)
        blocks: list[nn.Module] = [nn.ReLU()]
        for _ in range(levels):
            blocks += [conv(two_d, c, c, 4, stride=2, part_kernel=kp), res_stack(two_d, c, config.depth, kp)]  # halve T
        blocks += [conv(two_d, c, latent_dim, 3, part_kernel=kp)]
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x) if self.two_d else self.stem(rearrange(x, "b t c -> b c t"))  # (B, C, T[, P])
        return self.body(h)


class Decoder(nn.Module):
    """(B, d, T/alpha[, P]) -> (B, T, 135); mirrors :class:`Encoder` with nearest upsampling."""

    def __init__(self, config: TokenizerConfig, latent_dim: int, two_d: bool) -> None:
        super().__init__()
        c, levels, kp = config.width, int(math.log2(config.alpha)), config.part_kernel
        self.two_d = two_d
        blocks: list[nn.Module] = [conv(two_d, latent_dim, c, 3, part_kernel=kp), nn.ReLU()]
        for _ in range(levels):
            up = nn.Upsample(scale_factor=(2, 1) if two_d else 2, mode="nearest")  # double T
            blocks += [res_stack(two_d, c, config.depth, kp), up, conv(two_d, c, c, 3, part_kernel=kp)]
        blocks += [conv(two_d, c, c, 3, part_kernel=kp), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.head = PartUnembed(c, config.feature_dim) if two_d else nn.Conv1d(c, config.feature_dim, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.body(z)  # (B, C, T[, P])
        return self.head(h) if self.two_d else rearrange(self.head(h), "b c t -> b t c")


# ----------------------------------------------------------------------------------------------
# quantizers (thin wrappers: one interface for LFQ, VQ and RVQ)


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor  # same shape as the latent
    tokens: torch.Tensor  # (B, T'), (B, T', Q) or (B, T', P), int64
    commit: torch.Tensor  # scalar, unweighted commitment loss
    entropy: torch.Tensor  # scalar, unweighted LFQ entropy penalty (0 for VQ / RVQ)


class LFQuantizer(nn.Module):
    """Lookup-free quantization (MAGVIT-v2): code = sign of each of the d latent channels.

    The index of a code is its bits read as a binary number (first channel = most significant bit).
    The entropy penalty scores all 2**d codes for every token, so memory grows as tokens x 2**d; the
    penalty is computed on a random subset of at most ``max_elements / 2**d`` tokens per step (the
    library's ``frac_per_sample_entropy``, set before each call).
    """

    def __init__(self, bits: int, parts: bool, diversity_gamma: float, max_elements: int) -> None:
        super().__init__()
        self.bits, self.parts, self.gamma, self.max_elements = bits, parts, diversity_gamma, max_elements
        self.lfq = LFQ(
            dim=bits,
            codebook_size=1 << bits,
            entropy_loss_weight=1.0,
            commitment_loss_weight=1.0,
            diversity_gamma=diversity_gamma,
        )

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        seq = rearrange(z, "b d t p -> b (t p) d") if self.parts else rearrange(z, "b d t -> b t d")
        n_tokens = seq.shape[0] * seq.shape[1]
        keep = max(1, min(n_tokens, self.max_elements >> self.bits))
        self.lfq.frac_per_sample_entropy = min(1.0, (keep + 0.5) / n_tokens)
        (q, idx, _), parts = self.lfq(seq, return_loss_breakdown=True)  # q (B, N, d), idx (B, N)
        entropy = parts.per_sample_entropy - self.gamma * parts.batch_entropy
        if self.parts:
            p = z.shape[-1]
            q = rearrange(q, "b (t p) d -> b d t p", p=p)
            idx = rearrange(idx, "b (t p) -> b t p", p=p)
        else:
            q = rearrange(q, "b t d -> b d t")
        return QuantizerOutput(q, idx.long(), parts.commitment, entropy)

    def codes(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, T'[, P]) -> latent codes (B, d, T'[, P]) of +-1."""
        flat = rearrange(tokens, "b t p -> b (t p)") if self.parts else tokens
        codes = self.lfq.indices_to_codes(flat)  # (B, N, d)
        if self.parts:
            return rearrange(codes, "b (t p) d -> b d t p", p=tokens.shape[-1])
        return rearrange(codes, "b t d -> b d t")


class VQuantizer(nn.Module):
    """EMA vector quantization (or residual VQ) with k-means init and dead-code reset."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        kwargs = dict(
            dim=config.code_dim,
            codebook_size=config.codebook_size,
            decay=config.ema_decay,
            commitment_weight=1.0,
            kmeans_init=config.kmeans_init,
            threshold_ema_dead_code=config.dead_code_threshold,
        )
        self.residual = config.quantizer == "rvq"
        self.vq = (
            ResidualVQ(num_quantizers=config.num_quantizers, **kwargs) if self.residual else VectorQuantize(**kwargs)
        )

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        q, idx, commit = self.vq(rearrange(z, "b d t -> b t d"))  # idx (B, T') or (B, T', Q)
        return QuantizerOutput(rearrange(q, "b t d -> b d t"), idx.long(), commit.sum(), z.new_zeros(()))

    def codes(self, tokens: torch.Tensor) -> torch.Tensor:
        return rearrange(self.vq.get_output_from_indices(tokens), "b t d -> b d t")  # (B, d, T')


# ----------------------------------------------------------------------------------------------
# the model


@dataclass
class TokenizerOutput:
    recon: torch.Tensor  # (B, T, 135) normalized features
    tokens: torch.Tensor
    commit: torch.Tensor
    entropy: torch.Tensor


class MotionTokenizer(nn.Module):
    """Conv autoencoder with a discrete bottleneck: D135 motion <-> integer tokens.

    Args:
        config: architecture and quantizer (:class:`TokenizerConfig`).
        normalizer: the per-channel statistics the model was trained with; needed to take raw D135
            features and to decode to joints in metres (saved by :meth:`save_pretrained`).
    """

    def __init__(self, config: TokenizerConfig, normalizer: Normalizer | None = None) -> None:
        super().__init__()
        self.config = config
        two_d = config.quantizer == "lfq2d"
        lookup_free = config.quantizer in ("lfq2d", "lfq")
        latent_dim = config.codebook_bits if lookup_free else config.code_dim
        self.encoder = Encoder(config, latent_dim, two_d)
        if lookup_free:
            self.quantizer = LFQuantizer(
                config.codebook_bits, two_d, config.diversity_gamma, config.entropy_max_elements
            )
        else:
            self.quantizer = VQuantizer(config)
        self.decoder = Decoder(config, latent_dim, two_d)
        self.normalizer: Normalizer | None = None
        self.register_buffer("feat_mean", torch.zeros(config.feature_dim), persistent=False)  # (135,)
        self.register_buffer("feat_std", torch.ones(config.feature_dim), persistent=False)  # (135,)
        if normalizer is not None:
            self.set_normalizer(normalizer)

    # ------------------------------------------------------------------ basics

    def set_normalizer(self, normalizer: Normalizer) -> None:
        if not isinstance(normalizer, Normalizer) or normalizer.dim != self.config.feature_dim:
            raise ValueError(f"normalizer must be a Normalizer of dim {self.config.feature_dim}, got {normalizer!r}")
        self.normalizer = normalizer
        self.feat_mean.copy_(normalizer.mean.float())
        self.feat_std.copy_(normalizer.std.float())

    @property
    def device(self) -> torch.device:
        return self.feat_mean.device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> TokenizerOutput:
        """Normalized features (B, T, 135), T a multiple of alpha -> reconstruction, tokens, aux losses."""
        z = self.encoder(x)  # (B, d, T'[, P])
        q = self.quantizer(z)
        recon = self.decoder(q.quantized)  # (B, T, 135)
        return TokenizerOutput(recon, q.tokens, q.commit, q.entropy)

    # ------------------------------------------------------------------ input checks

    def _features(self, features: torch.Tensor | np.ndarray, normalized: bool) -> tuple[torch.Tensor, bool]:
        """Validate, batch, move and normalize features; returns ((B, T, 135), was_unbatched)."""
        if isinstance(features, np.ndarray):
            features = torch.from_numpy(features)
        if not isinstance(features, torch.Tensor):
            raise ValueError(f"features must be a tensor of shape (B, T, 135), got {type(features).__name__}")
        d, a = self.config.feature_dim, self.config.alpha
        if features.dim() not in (2, 3) or features.shape[-1] != d:
            raise ValueError(
                f"features must have shape (B, T, {d}) or (T, {d}) (SMPL-D135), got {tuple(features.shape)}"
            )
        t = features.shape[-2]
        if t < a or t % a:
            raise ValueError(
                f"features have {t} frames; the tokenizer needs a positive multiple of alpha={a} "
                f"(crop to {t - t % a} frames)"
            )
        if not torch.isfinite(features).all():
            raise ValueError("features contain NaN or inf")
        unbatched = features.dim() == 2
        x = features[None] if unbatched else features
        x = x.to(self.device, torch.float32)
        if not normalized:
            self._require_normalizer("features")
            x = (x - self.feat_mean) / self.feat_std
        return x, unbatched

    def _require_normalizer(self, what: str) -> None:
        if self.normalizer is None:
            raise ValueError(
                f"this tokenizer has no normalizer, so {what} cannot be in raw D135 units; "
                "pass normalized=True or attach one with set_normalizer()"
            )

    def check_tokens(self, tokens: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Validate tokens and return them as a batched int64 tensor on the model's device."""
        if isinstance(tokens, np.ndarray):
            tokens = torch.from_numpy(tokens)
        if not isinstance(tokens, torch.Tensor):
            raise ValueError(f"tokens must be an integer tensor, got {type(tokens).__name__}")
        if tokens.dtype.is_floating_point or tokens.dtype.is_complex or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be an integer tensor, got dtype {tokens.dtype}")
        cfg = self.config
        tail = cfg.token_shape(cfg.alpha)[1:]  # () or (6,) or (Q,)
        want = f"(B, T'{''.join(f', {n}' for n in tail)})"
        if tokens.dim() == 1 + len(tail):
            tokens = tokens[None]
        if tokens.dim() != 2 + len(tail) or tuple(tokens.shape[2:]) != tail or tokens.shape[1] < 1:
            raise ValueError(
                f"tokens must have shape {want} for quantizer {cfg.quantizer!r}, got {tuple(tokens.shape)}"
            )
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= cfg.codebook_size):
            raise ValueError(
                f"tokens out of range: values must be in [0, {cfg.codebook_size}) for a "
                f"{cfg.codebook_bits}-bit codebook, got min {int(tokens.min())} max {int(tokens.max())}"
            )
        return tokens.to(self.device, torch.long)

    # ------------------------------------------------------------------ public API

    @torch.no_grad()
    def encode(self, features: torch.Tensor | np.ndarray, normalized: bool = False) -> torch.Tensor:
        """D135 features (B, T, 135) or (T, 135) -> tokens (see the module docstring for shapes).

        ``normalized=False`` (default) takes raw D135 and applies the tokenizer's normalizer.
        """
        x, unbatched = self._features(features, normalized)
        was_training = self.training
        self.eval()
        try:
            tokens = self.quantizer(self.encoder(x)).tokens
        finally:
            self.train(was_training)
        return tokens[0] if unbatched else tokens

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor | np.ndarray, normalized: bool = False) -> torch.Tensor:
        """Tokens -> features (B, T' * alpha, 135): raw D135 unless ``normalized=True``."""
        unbatched = isinstance(tokens, torch.Tensor | np.ndarray) and tokens.ndim == len(
            self.config.token_shape(self.config.alpha)
        )
        tok = self.check_tokens(tokens)
        if not normalized:
            self._require_normalizer("decoded features")
        was_training = self.training
        self.eval()
        try:
            x = self.decoder(self.quantizer.codes(tok))  # (B, T, 135)
        finally:
            self.train(was_training)
        if not normalized:
            x = x * self.feat_std + self.feat_mean
        return x[0] if unbatched else x

    @torch.no_grad()
    def tokens_to_joints(
        self,
        tokens: torch.Tensor | np.ndarray,
        skeleton: Skeleton | torch.Tensor | None = None,
        root_xz0: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Tokens -> joint positions (B, T, 22, 3) in metres (neutral body unless ``skeleton``)."""
        return d135_to_joints(self.decode(tokens), skeleton, root_xz0)

    @torch.no_grad()
    def reconstruct(self, features: torch.Tensor | np.ndarray, normalized: bool = False) -> torch.Tensor:
        """encode then decode, in the same units as the input."""
        return self.decode(self.encode(features, normalized), normalized)

    # ------------------------------------------------------------------ save / load

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write ``config.json``, ``model.safetensors`` and ``normalizer.safetensors`` to folder ``path``.

        The folder is written next to its final place and renamed, so a crash never leaves half a model.
        """
        return write_folder(path, self._write)

    def _write(self, folder: Path) -> None:
        """Write the three files into an existing folder (no atomicity of its own)."""
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "parameters": self.num_parameters(),
            "has_normalizer": self.normalizer is not None,
        }
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        save_file(state, str(folder / MODEL_FILE), metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
        if self.normalizer is not None:
            self.normalizer.save(folder / NORMALIZER_FILE)

    @staticmethod
    def read_config(path: str | os.PathLike) -> TokenizerConfig:
        """The :class:`TokenizerConfig` stored in a pretrained folder (ValueError naming the file if bad)."""
        file = Path(path) / CONFIG_FILE
        if not file.is_file():
            raise FileNotFoundError(f"no tokenizer config at {file}")
        try:
            meta = json.loads(file.read_text())
        except ValueError as err:
            raise ValueError(f"{file}: not valid JSON ({err})") from err
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(
                f"{file}: not a motionbook tokenizer config (format {meta.get('format')!r})"
                if isinstance(meta, dict)
                else f"{file}: not a motionbook tokenizer config"
            )
        if meta.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"{file}: tokenizer format version {meta.get('version')!r}, this library reads {FORMAT_VERSION}"
            )
        return TokenizerConfig.from_dict(meta.get("config"), what=str(file))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> MotionTokenizer:
        """Load a folder written by :meth:`save_pretrained` (safetensors only, no pickle)."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"pretrained tokenizer folder not found: {path}")
        config = cls.read_config(path)
        norm_file = path / NORMALIZER_FILE
        normalizer = Normalizer.load(norm_file) if norm_file.exists() else None
        if normalizer is not None and normalizer.dim != config.feature_dim:
            raise ValueError(f"{norm_file}: normalizer of dim {normalizer.dim}, config says {config.feature_dim}")
        model = cls(config, normalizer)
        model.load_weights(path / MODEL_FILE)
        return model.to(device).eval()

    def load_weights(self, file: str | os.PathLike) -> None:
        """Load a ``model.safetensors``; keys and shapes must match this model's config exactly."""
        expected = {k: v.shape for k, v in self.state_dict().items()}
        what = f"come from another tokenizer config ({self.config.quantizer}, {self.config.codebook_bits} bits)"
        self.load_state_dict(read_state(file, expected, what))


# ----------------------------------------------------------------------------------------------
# how much the body parts mix


@torch.no_grad()
def part_sensitivity(
    tokenizer: MotionTokenizer, features: torch.Tensor, eps: float = 1e-2, seed: int = 0
) -> torch.Tensor:
    """(P, P) response of each part's 2D latent to a perturbation of each part's input (``lfq2d`` only).

    ``features``: (B, T, 135) normalized, T a multiple of alpha. Entry ``[q, p]`` is the mean absolute
    change of part p's pre-quantization latent per unit of a random perturbation (std ``eps``) of part q's
    input channels: 0 where part p cannot see part q (``part_kernel=1`` off the diagonal), positive where
    the kernels mix them. Rows and columns follow :data:`PART_NAMES`.
    """
    if tokenizer.config.quantizer != "lfq2d":
        raise ValueError(f"part_sensitivity needs an lfq2d tokenizer, got {tokenizer.config.quantizer!r}")
    x = torch.as_tensor(features, dtype=torch.float32, device=tokenizer.device)
    if x.ndim != 3 or x.shape[-1] != tokenizer.config.feature_dim:
        raise ValueError(f"features must be (B, T, {tokenizer.config.feature_dim}), got {tuple(x.shape)}")
    gen = torch.Generator().manual_seed(seed)
    base = tokenizer.encoder(x)  # (B, d, T', P)
    parts = d135_part_channels()
    out = torch.zeros(len(PART_NAMES), len(PART_NAMES))
    for q, name in enumerate(PART_NAMES):
        delta = torch.zeros_like(x)
        ch = torch.tensor(parts[name])
        delta[..., ch] = eps * torch.randn(*x.shape[:-1], len(ch), generator=gen).to(x)
        moved = tokenizer.encoder(x + delta)  # (B, d, T', P)
        out[q] = (moved - base).abs().mean(dim=(0, 1, 2)).cpu() / eps
    return out
