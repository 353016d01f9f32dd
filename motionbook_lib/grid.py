"""One resumable grid runner for the workbench's sweeps (codebook sizes, data x model scaling).

A sweep is a list of :class:`Cell` s, one folder each under the sweep folder. :func:`run_grid` walks them in order:
a cell that ``finished`` recognises is not run again; any other is run by ``run_cell``, and an exception there is
recorded as the cell's row (``failed``) instead of stopping the sweep, so the next call retries it. After every
cell the whole table (rows of earlier calls outside this grid included) goes to ``write``, which writes it
atomically: an interrupted sweep loses at most the cell it was running.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Cell", "run_grid"]


@dataclass(frozen=True)
class Cell:
    """One point of a grid: ``key`` holds its coordinates (e.g. ``{"quantizer": "lfq2d", "bits": 8}``, the
    first columns of its row) and ``name`` its folder under the sweep folder."""

    key: dict[str, Any] = field(hash=False)
    name: str

    def ident(self, columns: Sequence[str]) -> tuple:
        return tuple(self.key[c] for c in columns)


def run_grid(
    root: str | Path,
    cells: Sequence[Cell],
    run_cell: Callable[[Cell, Path], dict[str, Any]],
    failed: Callable[[Cell, Path, BaseException, str], dict[str, Any]],
    write: Callable[[list[dict[str, Any]]], Any],
    *,
    previous: Iterable[dict[str, Any]] = (),
    finished: Callable[[Cell, Path], dict[str, Any] | None] | None = None,
    desc: str = "sweep",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run (or reuse) every cell of the grid; returns the rows of the whole table (``previous`` rows of cells
    outside this grid kept, in their order, then this grid's new cells).

    Args:
        root: the sweep folder; cell ``c`` lives in ``root / c.name``.
        cells: the grid, in the order to run it.
        run_cell: ``(cell, folder) -> row``; trains and evaluates the cell (resuming what an interrupted call
            left), may raise.
        failed: ``(cell, folder, error, traceback text) -> row`` for a cell whose ``run_cell`` raised.
        write: writes the table (all rows) atomically; called after every cell.
        previous: rows already in the table (each holds the key columns of its cell).
        finished: ``(cell, folder) -> row or None``: the row of a cell that is done and must not run again.
        desc: the progress bar's label and the prefix of failure lines.
        progress: show a tqdm bar over the cells.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    columns = list(cells[0].key) if cells else []
    rows: dict[tuple, dict[str, Any]] = {}
    for row in previous:
        if columns and all(c in row for c in columns):
            rows[tuple(row[c] for c in columns)] = row
    bar = tqdm(cells, desc=desc, unit="cell", disable=not progress)
    for cell in bar:
        bar.set_postfix(cell=cell.name)
        folder = root / cell.name
        row = finished(cell, folder) if finished is not None else None
        if row is None:
            try:
                row = run_cell(cell, folder)
            except Exception as err:  # a failed cell must not stop the sweep
                row = failed(cell, folder, err, traceback.format_exc())
                last = traceback.format_exception_only(type(err), err)[-1].strip()
                bar.write(f"[{desc}] {cell.name} failed: {last}")
        rows[cell.ident(columns)] = {**cell.key, **row}
        write(list(rows.values()))
    bar.close()
    return list(rows.values())
