"""M0, the large motion model: motion tokens in a causal language model.

Data flow: tokenizer codes -> :class:`MotionVocab` text (``<mot><motion_id_k>...</mot>``) ->
instruction templates -> a Hugging Face causal LM -> constrained generation -> codes -> the
tokenizer's decoder -> D135 -> joints. Training: :func:`train_m0` (two stages, accelerate, exact resume);
inference: :class:`M0Pipeline` (``generate_motion``, ``describe_motion``).
"""

from motionbook_lib.lm.dataset import collate_examples, encode_example
from motionbook_lib.lm.modeling_m0 import (
    SIZE_PRESETS,
    M0Config,
    MotionConstraint,
    build_m0,
    generate_codes,
    resize_embeddings,
)
from motionbook_lib.lm.pipeline import M0Pipeline
from motionbook_lib.lm.templates import TASKS, TEMPLATES, Template, build_example, get_template, templates_for
from motionbook_lib.lm.text_tokenizer import (
    add_motion_tokens,
    load_text_tokenizer,
    motion_token_ids,
    train_text_tokenizer,
)
from motionbook_lib.lm.train import M0TrainConfig, M0TrainResult, train_m0
from motionbook_lib.lm.vocab import MOT_END, MOT_START, MotionVocab, motion_token

__all__ = [
    "MOT_END",
    "MOT_START",
    "SIZE_PRESETS",
    "TASKS",
    "TEMPLATES",
    "M0Config",
    "M0Pipeline",
    "M0TrainConfig",
    "M0TrainResult",
    "MotionConstraint",
    "MotionVocab",
    "Template",
    "add_motion_tokens",
    "build_example",
    "build_m0",
    "collate_examples",
    "encode_example",
    "generate_codes",
    "get_template",
    "load_text_tokenizer",
    "motion_token",
    "motion_token_ids",
    "resize_embeddings",
    "templates_for",
    "train_m0",
    "train_text_tokenizer",
]
