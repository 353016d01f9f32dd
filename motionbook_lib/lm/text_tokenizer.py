"""Text tokenizers for M0: a byte-level BPE trained on the corpus captions, or a local pretrained one,
extended with the motion vocabulary (``<mot>``, ``</mot>``, ``<motion_id_k>``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from motionbook_lib.lm.vocab import MOT_END, MOT_START, MotionVocab

PAD, EOS = "<|pad|>", "<|endoftext|>"


def train_text_tokenizer(
    texts: Iterable[str], vocab_size: int = 2000, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on ``texts`` (e.g. every caption and part caption of a store)."""
    if vocab_size < 300:
        raise ValueError(f"vocab_size must be >= 300 (256 byte symbols + merges), got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD, bos_token=EOS)


def load_text_tokenizer(folder: str | os.PathLike) -> PreTrainedTokenizerFast:
    """A tokenizer from a local Hugging Face folder (no download); gets a pad token if it has none."""
    folder = Path(folder)
    if not (folder / "tokenizer.json").exists() and not (folder / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"no tokenizer in {folder}: expected tokenizer.json or tokenizer_config.json there")
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def add_motion_tokens(tokenizer: PreTrainedTokenizerFast, vocab: MotionVocab) -> int:
    """Add ``<mot>``, ``</mot>`` and every ``<motion_id_k>`` as single, unsplittable tokens.

    Returns how many tokens were new. Idempotent: a tokenizer that has them keeps its ids.
    """
    new = [t for t in vocab.special_tokens if t not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_special_tokens({"additional_special_tokens": new}, replace_extra_special_tokens=False)
    return len(new)


def motion_token_ids(tokenizer: PreTrainedTokenizerFast, vocab: MotionVocab) -> tuple[int, int, list[int]]:
    """(id of ``<mot>``, id of ``</mot>``, ids of ``<motion_id_0..K-1>`` in code order)."""
    ids = tokenizer.convert_tokens_to_ids(vocab.special_tokens)
    unk = tokenizer.unk_token_id
    missing = [t for t, i in zip(vocab.special_tokens, ids, strict=True) if i is None or (unk is not None and i == unk)]
    if missing:
        raise ValueError(f"tokenizer lacks {len(missing)} motion tokens (e.g. {missing[0]!r}); call add_motion_tokens")
    return ids[0], ids[1], ids[2:]


__all__ = ["EOS", "MOT_END", "MOT_START", "PAD", "add_motion_tokens", "load_text_tokenizer", "motion_token_ids",
           "train_text_tokenizer"]  # fmt: skip
