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
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "answer_start": torch.tensor(len(p))}


def collate_examples(batch: list[dict[str, torch.Tensor]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of examples: input_ids / labels / attention_mask of shape (B, L), the model's inputs."""
    L = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), L), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), L), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), L), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = b["input_ids"], b["labels"], 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def answer_mask(batch: list[dict[str, torch.Tensor]]) -> torch.Tensor:
    """(B, L) bool, True on each example's answer tokens (what the model generates at inference), padded as
    :func:`collate_examples` pads."""
    L = max(len(b["input_ids"]) for b in batch)
    out = torch.zeros((len(batch), L), dtype=torch.bool)
    for i, b in enumerate(batch):
        out[i, int(b["answer_start"]) : len(b["input_ids"])] = True
    return out


def corrupt_motion_inputs(
    input_ids: torch.Tensor,  # (B, L)
    where: torch.Tensor,  # (B, L) bool: positions that may be corrupted (the answers)
    motion_ids: torch.Tensor,  # (K,) token ids of <motion_id_0..K-1>
    rate: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """``input_ids`` with a ``rate`` share of the motion tokens in ``where`` replaced by random motion tokens.

    Labels are left alone, so the model still predicts the true next token, but from a history that is partly
    wrong: it cannot copy the motion so far and must read the caption, and it learns to recover from its own
    sampling errors at generation (T2M-GPT trains its transformer on codes corrupted this way).
    """
    if rate <= 0:
        return input_ids
    is_motion = torch.isin(input_ids, motion_ids) & where
    flip = (torch.rand(input_ids.shape, generator=generator) < rate) & is_motion
    random_ids = motion_ids[torch.randint(len(motion_ids), input_ids.shape, generator=generator)]
    return torch.where(flip, random_ids, input_ids)
