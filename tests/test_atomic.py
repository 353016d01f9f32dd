"""Atomic writes: readers see the old content or the new, never a part, and failures leave no temp files."""

from __future__ import annotations

from pathlib import Path

import pytest

from motionbook_lib import atomic


def test_write_json_replaces_whole_file(tmp_path: Path) -> None:
    f = atomic.write_json(tmp_path / "a" / "x.json", {"k": 1})
    atomic.write_json(f, {"k": 2})
    assert f.read_text() == '{\n  "k": 2\n}\n'
    assert [p.name for p in f.parent.iterdir()] == ["x.json"]


def test_write_folder_replaces_or_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "model"

    def fill(version: str):
        def write(folder: Path) -> None:
            (folder / "weights.txt").write_text(version)

        return write

    atomic.write_folder(target, fill("v1"))
    atomic.write_folder(target, fill("v2"))
    assert (target / "weights.txt").read_text() == "v2"

    def broken(folder: Path) -> None:
        (folder / "weights.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_folder(target, broken)
    assert (target / "weights.txt").read_text() == "v2"  # the old folder stays whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp or .old folder left behind
