"""Turning (prompt, answer) pairs into LM training examples."""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerFast


def encode_example(
    tokenizer: PreTrainedTokenizerFast, prompt: str, answer: str, target_only: bool = False, max_length: int = 1024
) -> dict[str, torch.Tensor]:
    """``prompt + " " + answer + EOS`` as ``input_ids`` and ``labels`` (1D tensors).

    The loss covers the whole sequence by default, as in the Being-M0 paper; with
    ``target_only`` the prompt's labels are -100 (the paper's ablation, which did worse).
    A sequence longer than ``max_length`` is an error naming both lengths, never a silent cut.
    """
    p = tokenizer(prompt, add_special_tokens=False).input_ids
    a = tokenizer(" " + answer, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    ids = p + a
    if len(ids) > max_length:
        raise ValueError(f"example of {len(ids)} tokens exceeds max_length {max_length} (prompt {len(p)} tokens)")
    labels = ([-100] * len(p) if target_only else p) + a
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}


def collate_examples(batch: list[dict[str, torch.Tensor]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of examples: input_ids / labels / attention_mask of shape (B, L)."""
    L = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), L), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), L), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), L), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = b["input_ids"], b["labels"], 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
