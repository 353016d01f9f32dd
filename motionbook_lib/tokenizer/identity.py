"""The identity of a motion tokenizer: a hash of its config, its weights and the normalizer it applies.

Two tokenizers with the same identity turn the same motion into the same codes and the same codes
into the same motion. M0 records it wherever it keeps codes (its corpus cache, checkpoints and
pipeline folder) and refuses to mix codes of one tokenizer with another, which would decode every
motion wrongly without any error when both have the same codebook size.
"""

from __future__ import annotations

import hashlib
import json

import torch

from motionbook_lib.tokenizer.modeling_tokenizer import MotionTokenizer

__all__ = ["IDENTITY_KEY", "STRUCTURE_FIELDS", "tokenizer_identity"]

#: Key under which the identity is recorded in JSON files and safetensors metadata.
IDENTITY_KEY = "motion_tokenizer_identity"


def _tensor_bytes(value: torch.Tensor) -> bytes:
    t = value.detach().cpu().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes()


#: Config fields that decide the codes beyond what the weights' names and shapes already say. Training-only
#: fields (loss weights, entropy settings, EMA decay) are left out, so a field added to the config later, or a
#: loss weight, does not change the identity of a tokenizer saved before.
STRUCTURE_FIELDS: tuple[str, ...] = ("quantizer", "codebook_bits", "alpha", "feature_dim", "num_quantizers")


def tokenizer_identity(tokenizer: MotionTokenizer) -> str:
    """``sha256:<16 hex digits>`` of the tokenizer's structure (:data:`STRUCTURE_FIELDS`), every weight and
    buffer (names, dtypes, shapes, values) and its normalizer statistics.

    Equal for a tokenizer and its ``save_pretrained`` / ``from_pretrained`` round trip and across training-only
    config changes; different as soon as any weight, the structure or the normalizer differs (the conv kernel
    sizes, widths and depths show in the weights' shapes and names).
    """
    h = hashlib.sha256()
    config = tokenizer.config.to_dict()
    h.update(json.dumps({k: config[k] for k in STRUCTURE_FIELDS}, sort_keys=True).encode())
    tensors = dict(tokenizer.state_dict())
    tensors["<feat_mean>"] = tokenizer.feat_mean  # non-persistent buffers: the normalizer encode/decode apply
    tensors["<feat_std>"] = tokenizer.feat_std
    for name in sorted(tensors):
        value = tensors[name]
        h.update(f"{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        h.update(_tensor_bytes(value))
    return "sha256:" + h.hexdigest()[:16]
