"""The grid runner both sweeps use: failures are rows, finished cells are not run again, old rows stay."""

from __future__ import annotations

from motionbook_lib.grid import Cell, run_grid


def test_grid_runs_records_failures_and_keeps_rows(tmp_path):
    cells = [Cell({"size": s}, f"s{s}") for s in (1, 2, 3)]
    ran, writes = [], []

    def run_cell(cell, folder):
        ran.append(cell.name)
        if cell.key["size"] == 2:
            raise RuntimeError("out of memory")
        return {"status": "ok", "value": cell.key["size"] * 10}

    def failed(cell, folder, err, trace):
        assert "RuntimeError: out of memory" in trace
        return {"status": "failed", "error": str(err)}

    previous = [{"size": 9, "status": "ok", "value": 90}, {"size": 1, "status": "failed", "error": "old"}]
    rows = run_grid(tmp_path, cells, run_cell, failed, lambda r: writes.append([dict(x) for x in r]),
                    previous=previous, progress=False)  # fmt: skip
    assert ran == ["s1", "s2", "s3"]  # the failing cell did not stop the grid
    assert rows == [
        {"size": 9, "status": "ok", "value": 90},  # a cell outside this grid stays
        {"size": 1, "status": "ok", "value": 10},  # a cell that failed before is retried and replaced
        {"size": 2, "status": "failed", "error": "out of memory"},
        {"size": 3, "status": "ok", "value": 30},
    ]
    assert len(writes) == 3 and writes[-1] == rows and len(writes[0]) == 2  # the table after every cell

    ran.clear()
    again = run_grid(tmp_path, cells, run_cell, failed, lambda r: None, previous=rows, progress=False,
                     finished=lambda cell, folder: {"status": "ok", "value": -1} if cell.key["size"] != 2 else None)
    assert ran == ["s2"] and [r.get("value") for r in again] == [90, -1, None, -1]
