"""Reading a ``model.safetensors`` back into a model: the file must hold exactly the tensors the model expects.

One reader for every ``load_weights`` (tokenizer, evaluator), so a truncated file, a file of another config and a
missing file all fail the same way, naming the file and the offending keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

__all__ = ["read_state"]


def _show(keys: Sequence[str], most: int = 4) -> str:
    return ", ".join(keys[:most]) + (f" (+{len(keys) - most} more)" if len(keys) > most else "")


def read_state(
    file: str | os.PathLike, expected: Mapping[str, torch.Size | Sequence[int]], what: str = "do not fit this model"
) -> dict[str, torch.Tensor]:
    """Load ``file`` (safetensors) and check it has exactly the keys and shapes of ``expected``.

    ``expected`` maps each tensor name to its shape (for example ``{k: v.shape for k, v in model.state_dict()}``).
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for an unreadable one or
    for missing, unexpected or wrongly shaped tensors (``what`` says why they can differ: ``"{file}: weights
    {what}: ..."``).
    """
    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"weights file not found: {file}")
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{file}: not a readable safetensors file ({err})") from err
    shapes = {k: tuple(v) for k, v in expected.items()}
    missing = sorted(set(shapes) - set(state))
    unexpected = sorted(set(state) - set(shapes))
    wrong = sorted(k for k in set(shapes) & set(state) if tuple(state[k].shape) != shapes[k])
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {_show(missing)}")
        if unexpected:
            details.append(f"unexpected {_show(unexpected)}")
        if wrong:
            k = wrong[0]
            details.append(
                f"shape mismatch for {_show(wrong)} (e.g. {k}: file {tuple(state[k].shape)}, model {shapes[k]})"
            )
        raise ValueError(f"{file}: weights {what}: " + "; ".join(details))
    return state
