"""Motion tokens as words: ``<motion_id_k>`` wrapped in ``<mot> ... </mot>``.

A tokenizer gives a motion as integer codes of shape (S,) (1D VQ / LFQ) or (S, P)
(2D-LFQ: P body parts per step; RVQ: P residual levels). The language model reads
them flattened **step-major**: all P codes of step 0 in part order, then step 1, and
so on, so a prefix of the sequence is always a prefix in time. With 2D-LFQ the part
order is :data:`motionbook_lib.tokenizer.PART_NAMES` (root, torso, left arm, right
arm, left leg, right leg). Every code k of the codebook is one vocabulary entry
``<motion_id_k>``, shared by all parts, as in the Being-M0 paper.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

MOT_START = "<mot>"
MOT_END = "</mot>"
_MOTION_RE = re.compile(r"<motion_id_(\d+)>")
_SPAN_RE = re.compile(re.escape(MOT_START) + r"(.*?)" + re.escape(MOT_END), re.S)


def motion_token(k: int) -> str:
    return f"<motion_id_{k}>"


@dataclass(frozen=True)
class MotionVocab:
    """The motion part of an LM vocabulary for a tokenizer with ``codebook_size`` codes.

    ``tokens_per_step`` is P (1 for 1D tokenizers, 6 for 2D-LFQ, Q for RVQ): a motion
    string must hold a whole number of steps to be decodable.
    """

    codebook_size: int
    tokens_per_step: int = 1

    def __post_init__(self) -> None:
        if self.codebook_size < 1:
            raise ValueError(f"codebook_size must be >= 1, got {self.codebook_size}")
        if self.tokens_per_step < 1:
            raise ValueError(f"tokens_per_step must be >= 1, got {self.tokens_per_step}")

    @property
    def special_tokens(self) -> list[str]:
        """``<mot>``, ``</mot>`` then every ``<motion_id_k>`` in code order."""
        return [MOT_START, MOT_END] + [motion_token(k) for k in range(self.codebook_size)]

    def flatten(self, codes: torch.Tensor | np.ndarray) -> list[int]:
        """(S,) or (S, P) codes -> the step-major list of S * P codes."""
        c = np.asarray(codes.cpu() if isinstance(codes, torch.Tensor) else codes)
        if c.ndim == 1:
            c = c[:, None]
        if c.ndim != 2 or c.shape[1] != self.tokens_per_step:
            raise ValueError(
                f"codes must have shape (S,) or (S, {self.tokens_per_step}) for this vocabulary, got {c.shape}"
            )
        if c.size and (c.min() < 0 or c.max() >= self.codebook_size):
            raise ValueError(f"codes out of range: values must be in [0, {self.codebook_size}), got "
                             f"[{c.min()}, {c.max()}]")  # fmt: skip
        if not np.issubdtype(c.dtype, np.integer):
            raise ValueError(f"codes must be integers, got dtype {c.dtype}")
        return c.reshape(-1).tolist()

    def unflatten(self, flat: list[int]) -> np.ndarray:
        """Step-major codes -> (S, P) (or (S,) when P = 1); a partial last step is an error."""
        if len(flat) % self.tokens_per_step:
            raise ValueError(
                f"{len(flat)} motion tokens is not a whole number of steps of {self.tokens_per_step} tokens"
            )
        arr = np.asarray(flat, dtype=np.int64).reshape(-1, self.tokens_per_step)
        return arr[:, 0] if self.tokens_per_step == 1 else arr

    def to_text(self, codes: torch.Tensor | np.ndarray) -> str:
        """Codes -> ``<mot><motion_id_3><motion_id_17>...</mot>``."""
        return MOT_START + "".join(motion_token(k) for k in self.flatten(codes)) + MOT_END

    def from_text(self, text: str) -> list[np.ndarray]:
        """Every ``<mot>...</mot>`` span of ``text`` -> its codes, (S, P) or (S,).

        Motion tokens outside a span, unknown codes and anything but motion tokens
        inside a span are errors (a ``ValueError`` quoting the offending piece).
        """
        outside = _SPAN_RE.sub(" ", text)
        if MOT_START in outside or MOT_END in outside:
            raise ValueError(f"unbalanced <mot>/</mot> in {text[:80]!r}")
        stray = _MOTION_RE.search(outside)
        if stray:
            raise ValueError(f"motion token {stray.group(0)!r} outside <mot>...</mot> in {text[:80]!r}")
        out = []
        for span in _SPAN_RE.findall(text):
            rest = _MOTION_RE.sub("", span).strip()
            if rest:
                raise ValueError(f"non-motion text {rest[:40]!r} inside <mot>...</mot>")
            codes = [int(k) for k in _MOTION_RE.findall(span)]
            bad = [k for k in codes if k >= self.codebook_size]
            if bad:
                raise ValueError(f"<motion_id_{bad[0]}> is outside this codebook of {self.codebook_size} codes")
            out.append(self.unflatten(codes))
        return out
