"""M0: a decoder-only causal language model (Hugging Face ``transformers``) that reads and writes motion tokens.

Size presets run from ``tiny`` (CPU, CI) to ``gpt2-medium`` (the paper's smallest backbone,
355M); ``llama-*`` presets build LLaMA-style models; ``pretrained`` loads any local checkpoint
folder. New vocabulary rows (motion tokens) start at the mean of the existing embeddings plus
small noise, which keeps the initial output distribution close to the pretrained one.

Generation is constrained: after ``<mot>`` only motion tokens may follow, and ``</mot>`` only
after a whole number of token steps (P tokens per step), so every output decodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from motionbook_lib.lm.text_tokenizer import motion_token_ids
from motionbook_lib.lm.vocab import MotionVocab

#: name -> (architecture, layers, heads, width); gpt2-medium is GPT-2 Medium's shape.
SIZE_PRESETS: dict[str, tuple[str, int, int, int]] = {
    # nano, tiny and mini are ~8x apart in non-embedding parameters (1.3e4, 1.0e5, 7.9e5): CPU-sized model
    # axes for scaling sweeps; tiny is also the CI default
    "nano": ("gpt2", 1, 2, 32),
    "tiny": ("gpt2", 2, 2, 64),
    "mini": ("gpt2", 4, 4, 128),
    "small": ("gpt2", 6, 8, 256),
    "base": ("gpt2", 12, 12, 768),
    "gpt2-medium": ("gpt2", 24, 16, 1024),
    "llama-tiny": ("llama", 2, 2, 64),
    "llama-small": ("llama", 8, 8, 512),
}


@dataclass
class M0Config:
    """How to build the language model. ``size`` is a preset name or ``"pretrained"``."""

    size: str = "tiny"
    max_positions: int = 1024
    pretrained_path: str | None = None
    dropout: float = 0.0
    init_noise: float = 0.02

    def __post_init__(self) -> None:
        if self.size != "pretrained" and self.size not in SIZE_PRESETS:
            raise ValueError(f"unknown size {self.size!r}; choose one of {sorted(SIZE_PRESETS)} or 'pretrained'")
        if self.size == "pretrained" and not self.pretrained_path:
            raise ValueError("size='pretrained' needs pretrained_path (a local checkpoint folder)")

    def to_dict(self) -> dict:
        return asdict(self)


def build_m0(config: M0Config, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> PreTrainedModel:
    """A causal LM whose vocabulary matches ``tokenizer`` (with its motion tokens)."""
    torch.manual_seed(seed)
    vocab_size = len(tokenizer)
    if config.size == "pretrained":
        folder = Path(config.pretrained_path)  # type: ignore[arg-type]
        if not (folder / "config.json").exists():
            raise FileNotFoundError(f"no model in {folder}: expected config.json (and weights) there")
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        resize_embeddings(model, vocab_size, config.init_noise)
        return model
    arch, layers, heads, width = SIZE_PRESETS[config.size]
    common = dict(vocab_size=vocab_size, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                  bos_token_id=tokenizer.bos_token_id)  # fmt: skip
    if arch == "gpt2":
        cfg = GPT2Config(n_layer=layers, n_head=heads, n_embd=width, n_positions=config.max_positions,
                         resid_pdrop=config.dropout, embd_pdrop=config.dropout, attn_pdrop=config.dropout,
                         **common)  # fmt: skip
        return GPT2LMHeadModel(cfg)
    cfg = LlamaConfig(num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                      hidden_size=width, intermediate_size=4 * width, max_position_embeddings=config.max_positions,
                      attention_dropout=config.dropout, **common)  # fmt: skip
    return LlamaForCausalLM(cfg)


def resize_embeddings(model: PreTrainedModel, vocab_size: int, noise: float = 0.02) -> int:
    """Grow the (tied or untied) embeddings to ``vocab_size``; new rows = mean of old rows + noise."""
    old = model.get_input_embeddings().weight.shape[0]
    if vocab_size <= old:
        return 0
    model.resize_token_embeddings(vocab_size, mean_resizing=False)
    with torch.no_grad():
        layers = (model.get_input_embeddings(), model.get_output_embeddings())
        for emb in {id(m.weight): m for m in layers if m is not None}.values():  # tied weights once
            w = emb.weight
            mean, std = w[:old].mean(0), w[:old].std(0)
            w[old:] = mean + noise * std * torch.randn(vocab_size - old, w.shape[1], dtype=w.dtype)
    return vocab_size - old


class MotionConstraint(LogitsProcessor):
    """Inside ``<mot>``: only motion tokens, and ``</mot>`` only at step boundaries within length limits.

    Applied to generation that starts right after a ``<mot>`` token in the prompt.
    """

    def __init__(
        self,
        start_len: int,
        motion_ids: list[int],
        end_id: int,
        tokens_per_step: int,
        min_steps: int = 1,
        max_steps: int | None = None,
    ) -> None:
        self.start_len = start_len
        self.motion_ids = torch.tensor(motion_ids, dtype=torch.long)
        self.end_id = end_id
        self.P = tokens_per_step
        self.min_steps = min_steps
        self.max_steps = max_steps

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        n = input_ids.shape[1] - self.start_len  # motion tokens generated so far
        allowed = torch.full_like(scores, float("-inf"))
        at_boundary = n % self.P == 0
        steps = n // self.P
        can_end = at_boundary and steps >= self.min_steps
        must_end = self.max_steps is not None and at_boundary and steps >= self.max_steps
        if not must_end:
            ids = self.motion_ids.to(scores.device)
            allowed[:, ids] = scores[:, ids]
        if can_end or must_end:
            allowed[:, self.end_id] = scores[:, self.end_id]
        return allowed


@torch.no_grad()
def generate_codes(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    vocab: MotionVocab,
    prompt: str,
    min_steps: int = 1,
    max_steps: int = 50,
    do_sample: bool = True,
    temperature: float = 1.0,
    top_k: int | None = 50,
    top_p: float | None = None,
    use_cache: bool = True,
    seed: int | None = None,
    guidance_scale: float = 1.0,
    unconditional_prompt: str | None = None,
) -> np.ndarray:
    """Codes (S, P) or (S,) of one motion generated after ``prompt`` + ``<mot>``.

    The prompt (a template's text) must fit in the context with room for ``max_steps`` steps;
    decoding is constrained so the result always decodes. ``guidance_scale`` != 1 applies classifier-free
    guidance against ``unconditional_prompt`` (the same template with an empty caption; the model must have
    been trained with caption dropout): log-probabilities ``u + s (c - u)`` of the conditional (c) and
    unconditional (u) continuations, through transformers' own CFG logits processor.
    """
    mot, end, motion_ids = motion_token_ids(tokenizer, vocab)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    ids = torch.cat([ids, torch.tensor([[mot]])], dim=1)  # (1, L)
    guidance: dict[str, torch.Tensor | float] = {}
    if guidance_scale != 1.0:
        if unconditional_prompt is None:
            raise ValueError("guidance_scale != 1 needs unconditional_prompt (the template with an empty caption)")
        neg = tokenizer(unconditional_prompt, return_tensors="pt").input_ids
        neg = torch.cat([neg, torch.tensor([[mot]])], dim=1).to(model.device)  # (1, L_u)
        guidance = dict(guidance_scale=float(guidance_scale), negative_prompt_ids=neg,
                        negative_prompt_attention_mask=torch.ones_like(neg))  # fmt: skip
    max_new = max_steps * vocab.tokens_per_step + 1
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if context is not None and ids.shape[1] + max_new > context:
        raise ValueError(
            f"prompt of {ids.shape[1]} tokens + up to {max_new} motion tokens exceeds the model's context of {context}"
        )
    if seed is not None:
        torch.manual_seed(seed)
    constraint = MotionConstraint(ids.shape[1], motion_ids, end, vocab.tokens_per_step, min_steps, max_steps)
    out = model.generate(
        ids.to(model.device),
        attention_mask=torch.ones_like(ids).to(model.device),
        logits_processor=LogitsProcessorList([constraint]),
        max_new_tokens=max_new,
        do_sample=do_sample,
        temperature=temperature if do_sample else None,
        top_k=top_k if do_sample else None,
        top_p=top_p if do_sample else None,
        eos_token_id=end,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=use_cache,
        **guidance,
    )
    new = out[0, ids.shape[1] :].tolist()
    if new and new[-1] == end:
        new = new[:-1]
    lookup = {tid: k for k, tid in enumerate(motion_ids)}
    return vocab.unflatten([lookup[t] for t in new])
