"""Every benchmark script leaves results/benchmarks/<name>.json, and the README shows exactly the numbers of
those files (and of the other results tables readme_tables.py renders, e.g. notebook 05's evaluation table)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _record  # noqa: E402
import readme_tables  # noqa: E402

SCRIPTS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if not p.stem.startswith("_"))
BENCHMARKS = [s for s in SCRIPTS if s != "readme_tables"]


def test_every_benchmark_has_its_results_file() -> None:
    assert set(BENCHMARKS) <= set(readme_tables.TABLES), "each benchmark needs a README table renderer"
    for name in BENCHMARKS:
        path = ROOT / "results" / "benchmarks" / f"{name}.json"
        assert path.is_file(), f"{path} missing: run python benchmarks/{name}.py"
        data = json.loads(path.read_text())
        assert data["benchmark"] == name
        assert data["command"].startswith(f"python benchmarks/{name}.py"), data["command"]
        assert data["machine"]["cores"] >= 1 and data["machine"]["torch"] and data["date"][:4].isdigit()
        assert data["numbers"], path


@pytest.mark.parametrize("name", sorted(readme_tables.TABLES))
def test_readme_shows_the_recorded_numbers(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme_tables.TABLES[name]()
    assert table in readme, f"README.md does not show the {name} table; run python benchmarks/readme_tables.py"


def test_record_writes_command_machine_and_numbers(tmp_path: Path) -> None:
    argv = [str(ROOT / "benchmarks" / "lm.py"), "--threads", "2", "--name", "x y"]
    path = _record.record("demo", {"rows": [{"a": 1}]}, folder=tmp_path, argv=argv)
    data = json.loads(path.read_text())
    assert path == tmp_path / "demo.json" and data["numbers"] == {"rows": [{"a": 1}]}
    assert data["command"] == "python benchmarks/lm.py --threads 2 --name 'x y'"
    assert set(data["machine"]) >= {"cpu", "cores", "memory_gib", "torch", "numpy"}
    assert not list(tmp_path.glob("*.tmp*"))  # written through a temp file and renamed


def test_check_mode_names_a_missing_table(tmp_path: Path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# nothing here\n")
    assert readme_tables.main(["--check", "--readme", str(readme)]) == 1
    out = capsys.readouterr().out
    assert all(f"the {name} table" in out for name in readme_tables.TABLES)


def test_write_fills_the_markers_and_refuses_a_readme_without_them() -> None:
    blank = "".join(f"<!-- bench:{n} -->\nSTALE-CELL\n<!-- /bench:{n} -->\n" for n in readme_tables.TABLES)
    filled = readme_tables.write_into(blank)
    assert "STALE-CELL" not in filled and readme_tables.missing_from(filled) == []
    with pytest.raises(ValueError, match="no <!-- bench:features --> ... <!-- /bench:features --> markers"):
        readme_tables.write_into("# no markers\n")
