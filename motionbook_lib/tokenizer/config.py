"""Configuration dataclasses of the motion tokenizers and of their training.

One :class:`TokenizerConfig` describes every tokenizer; its ``quantizer`` field picks the family:

- ``lfq2d``: 2D conv encoder, latent (B, bits, T/alpha, P=6 body parts), lookup-free (sign)
  quantization of every position; tokens (B, T/alpha, 6); 6 * bits bits per latent step.
- ``vq``: 1D conv encoder, latent (B, code_dim, T/alpha), EMA vector quantization with dead-code
  reset; tokens (B, T/alpha); bits per step.
- ``rvq``: the same with a residual VQ of ``num_quantizers`` levels; tokens (B, T/alpha, Q);
  Q * bits per step.
- ``lfq``: 1D conv encoder, latent (B, bits, T/alpha), lookup-free; tokens (B, T/alpha); bits per step.

Every codebook holds ``2 ** codebook_bits`` codes. Left at ``None``, ``codebook_bits`` is 14 for the
lookup-free quantizers (16384 codes, the Motionbook paper's 2D-LFQ) and 9 for VQ / RVQ (512 codes, the
T2M-GPT / paper VQ-VAE baselines).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from motionbook_lib.configs import config_from_dict
from motionbook_lib.skeleton import DEFAULT_FPS

QUANTIZERS: tuple[str, ...] = ("lfq2d", "vq", "rvq", "lfq")
#: codebook bits used when ``codebook_bits`` is None.
DEFAULT_BITS: dict[str, int] = {"lfq2d": 14, "lfq": 14, "vq": 9, "rvq": 9}


@dataclass
class TokenizerConfig:
    """Architecture, quantizer and loss weights of a motion tokenizer (see the module docstring)."""

    quantizer: str = "lfq2d"
    codebook_bits: int | None = None  # codebook size 2**bits (per position / per RVQ level)
    alpha: int = 4  # temporal downsampling, a power of 2 (one token step per alpha frames)
    width: int = 256  # conv channels of encoder and decoder
    depth: int = 3  # residual blocks per resolution (dilations 1, 3, 9, ...)
    part_kernel: int = 3  # lfq2d: parts each 2D kernel spans (3: neighbouring parts mix; 1: parts kept apart)
    feature_dim: int = 135  # SMPL-D135
    # VQ / RVQ
    code_dim: int = 256  # size of a VQ code vector (LFQ: the code is codebook_bits signs)
    num_quantizers: int = 4  # RVQ levels
    ema_decay: float = 0.99
    dead_code_threshold: float = 2.0  # codes whose EMA usage falls below this are reset to batch vectors
    kmeans_init: bool = True
    # LFQ
    diversity_gamma: float = 1.0  # weight of the batch-entropy (codebook usage) part of the entropy term
    entropy_max_elements: int = 1 << 24  # per-token x 2**bits entropy scores kept per step (memory bound)
    # loss weights
    w_recon: float = 1.0  # smooth L1 of normalized features
    w_joints: float = 5.0  # L1 of pelvis-relative joint positions after FK, in metres
    w_velocity: float = 0.5  # smooth L1 of frame-to-frame feature differences
    w_root_path: float = 0.25  # L1 of the root XZ path integrated over the window, in metres (global motion)
    w_global_joints: float = 0.0  # L1 of joint positions after FK with that integrated root, in metres (opt-in)
    w_foot_contact: float = 1.0  # L1 horizontal step (m/frame) of feet where the target's are planted
    w_commit: float = 0.02  # commitment (encoder output to its code)
    w_entropy: float = 0.1  # LFQ entropy penalty (per-sample entropy - gamma * batch entropy)

    def __post_init__(self) -> None:
        if self.quantizer not in QUANTIZERS:
            raise ValueError(f"quantizer must be one of {', '.join(QUANTIZERS)}, got {self.quantizer!r}")
        if self.codebook_bits is None:
            self.codebook_bits = DEFAULT_BITS[self.quantizer]
        max_bits = 20 if self.quantizer in ("lfq2d", "lfq") else 16
        if not isinstance(self.codebook_bits, int) or not 1 <= self.codebook_bits <= max_bits:
            raise ValueError(
                f"codebook_bits must be an integer in 1..{max_bits} for {self.quantizer}, got {self.codebook_bits!r}"
            )
        if not isinstance(self.alpha, int) or self.alpha < 1 or self.alpha & (self.alpha - 1):
            raise ValueError(f"alpha must be a power of 2 (1, 2, 4, 8, ...), got {self.alpha!r}")
        for name in ("width", "depth", "code_dim", "num_quantizers", "feature_dim", "entropy_max_elements"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.part_kernel, int) or self.part_kernel < 1 or self.part_kernel % 2 == 0:
            raise ValueError(f"part_kernel must be an odd positive integer (1, 3, 5), got {self.part_kernel!r}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")

    # ------------------------------------------------------------------ derived quantities

    @property
    def codebook_size(self) -> int:
        return 1 << self.codebook_bits

    @property
    def num_parts(self) -> int:
        """Token positions per latent step from the part axis (6 for ``lfq2d``, else 1)."""
        return 6 if self.quantizer == "lfq2d" else 1

    @property
    def tokens_per_step(self) -> int:
        """Integers per latent step: 6 parts, Q RVQ levels or 1."""
        return {"lfq2d": 6, "rvq": self.num_quantizers}.get(self.quantizer, 1)

    @property
    def bits_per_step(self) -> int:
        return self.tokens_per_step * self.codebook_bits

    def bits_per_second(self, fps: float = DEFAULT_FPS) -> float:
        return self.bits_per_step * fps / self.alpha

    def token_shape(self, frames: int) -> tuple[int, ...]:
        """Shape of the tokens of one clip of ``frames`` frames (a multiple of ``alpha``)."""
        steps = frames // self.alpha
        if self.quantizer == "lfq2d":
            return (steps, 6)
        if self.quantizer == "rvq":
            return (steps, self.num_quantizers)
        return (steps,)

    # ------------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str = "tokenizer config") -> TokenizerConfig:
        return config_from_dict(cls, data, what)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


@dataclass
class TrainConfig:
    """Optimisation, data and bookkeeping settings of :func:`motionbook_lib.tokenizer.train_tokenizer`."""

    batch_size: int = 32  # per process; the global batch is batch_size * processes
    window: int = 64  # frames per training window (a multiple of alpha); shorter clips are padded and masked
    lr: float = 2e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_ratio: float = 0.05  # fraction of the steps with a linear warm-up
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0  # max global gradient norm (0 = off)
    seed: int = 0
    log_every: int = 10  # steps between metric lines in metrics.jsonl / TensorBoard
    eval_every: int = 0  # steps between validation passes (0 = only at the end)
    eval_split: str = "val"
    eval_batches: int = 8  # validation batches per pass (0 = the whole split)
    ckpt_every: int = 200  # steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk
    num_workers: int = 0  # DataLoader worker processes
    mixed_precision: str = "no"  # "no", "bf16" or "fp16" (accelerate)
    cpu_threads: int = 0  # torch.set_num_threads for this process (0 = leave as is; 1 is fastest for tiny models)

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        for name in ("batch_size", "window", "log_every", "keep_checkpoints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("eval_every", "eval_batches", "ckpt_every", "num_workers", "cpu_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.warmup_ratio < 1.0 or not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError("warmup_ratio must be in [0, 1) and min_lr_ratio in [0, 1]")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be 'no', 'bf16' or 'fp16', got {self.mixed_precision!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str = "train config") -> TrainConfig:
        return config_from_dict(cls, data, what)
