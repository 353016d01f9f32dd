"""The reference recipe: the built-in corpus -> 2D-LFQ tokenizer -> evaluator -> M0 (two stages), evaluated
kinematically and by the protocol, with a model card. See :mod:`motionbook_lib.reference.recipe`."""

from motionbook_lib.reference.models import ReferenceModels, export_models, load
from motionbook_lib.reference.recipe import (
    SCALES,
    ReferenceConfig,
    corpus_fingerprint,
    prompt_check,
    run_reference,
    scaled,
)

__all__ = [
    "SCALES",
    "ReferenceConfig",
    "ReferenceModels",
    "corpus_fingerprint",
    "export_models",
    "load",
    "prompt_check",
    "run_reference",
    "scaled",
]
