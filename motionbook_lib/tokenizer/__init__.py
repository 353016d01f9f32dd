"""Motion tokenizers: the Motionbook 2D lookup-free tokenizer (2D-LFQ) and 1D VQ / RVQ / LFQ baselines.

Quick use::

    from motionbook_lib.tokenizer import TokenizerConfig, TrainConfig, MotionTokenizer, train_tokenizer

    result = train_tokenizer(TokenizerConfig(quantizer="lfq2d"), "data/my-store", "runs/tok", steps=20_000)
    tok = MotionTokenizer.from_pretrained(result.model_dir)
    tokens = tok.encode(d135)            # (B, T/4, 6) integers in [0, 2**14)
    joints = tok.tokens_to_joints(tokens)  # (B, T, 22, 3) metres

Command line: ``python -m motionbook_lib.tokenizer train --help``.
"""

from motionbook_lib.tokenizer.config import DEFAULT_BITS, QUANTIZERS, TokenizerConfig, TrainConfig
from motionbook_lib.tokenizer.losses import codebook_usage, features_to_joints, mpjpe_mm, tokenizer_losses
from motionbook_lib.tokenizer.modeling_tokenizer import (
    PART_NAMES,
    MotionTokenizer,
    QuantizerOutput,
    TokenizerOutput,
    part_layout,
    part_sensitivity,
)
from motionbook_lib.tokenizer.train import (
    EpochBatchSampler,
    TrainResult,
    evaluate_tokenizer,
    latest_checkpoint,
    train_tokenizer,
)

__all__ = [
    "DEFAULT_BITS",
    "PART_NAMES",
    "QUANTIZERS",
    "EpochBatchSampler",
    "MotionTokenizer",
    "QuantizerOutput",
    "TokenizerConfig",
    "TokenizerOutput",
    "TrainConfig",
    "TrainResult",
    "codebook_usage",
    "evaluate_tokenizer",
    "features_to_joints",
    "latest_checkpoint",
    "mpjpe_mm",
    "part_layout",
    "part_sensitivity",
    "tokenizer_losses",
    "train_tokenizer",
]
