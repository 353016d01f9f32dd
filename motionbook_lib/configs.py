"""Dataclass configs read back from JSON: an unknown, missing or mistyped field is a ValueError naming it."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

__all__ = ["config_from_dict"]


def config_from_dict(cls: type, data: Any, what: str) -> Any:
    """``cls(**data)`` for dataclass ``cls``; ``what`` (e.g. the file it came from) starts every error message."""
    if not isinstance(data, dict):
        raise ValueError(f"{what}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {', '.join(unknown)} for {cls.__name__}")
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"{what}: {err}") from err
