"""Where the project's own folders are: the project root and paths relative to it."""

from __future__ import annotations

import os
from pathlib import Path


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current directory) holding ``pyproject.toml``.

    Falls back to ``start`` itself, so code run outside a checkout writes next to where it runs.
    """
    here = Path(start or Path.cwd()).resolve()
    for parent in (here, *here.parents):
        if (parent / "pyproject.toml").exists():
            return parent
    return here


def in_project(path: str | os.PathLike) -> Path:
    """``path`` unchanged when absolute, else relative to :func:`project_root` (notebooks run in notebooks/)."""
    p = Path(path)
    return p if p.is_absolute() else project_root() / p
