"""pyproject.toml and environment.yml pin exactly the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml  # PyYAML: a pinned dev dependency

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+$")


def pyproject_pins() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])


def environment_yml() -> tuple[dict[str, str], list[str], list[str]]:
    """(top-level scalar keys, conda dependencies, pip entries) by plain line parsing."""
    scalars: dict[str, str] = {}
    conda: list[str] = []
    pip: list[str] = []
    pip_indent: int | None = None
    for raw in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if pip_indent is not None and indent <= pip_indent:
            pip_indent = None
        if indent == 0 and ":" in text and not text.startswith("-"):
            key, _, value = text.partition(":")
            scalars[key.strip()] = value.strip()
        elif pip_indent is not None:
            assert text.startswith("- "), f"unexpected line in the pip section: {raw!r}"
            pip.append(text[2:].strip())
        elif text == "- pip:":
            pip_indent = indent
        elif text.startswith("- ") and indent > 0:
            conda.append(text[2:].strip())
    return scalars, conda, pip


def normalise(pin: str) -> str:
    name, _, version = pin.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def test_pyproject_pins_are_exact() -> None:
    pins = pyproject_pins()
    assert pins, "pyproject.toml has no dependencies"
    loose = [p for p in pins if not PIN.match(p)]
    assert not loose, f"not exact name==version pins: {loose}"
    assert len({normalise(p).split("==")[0] for p in pins}) == len(pins), "a package is pinned twice"


def test_torch_pin() -> None:
    assert "torch==2.13.0" in pyproject_pins()
    assert "torch==2.13.0" in environment_yml()[2]


def test_environment_yml_matches_pyproject() -> None:
    scalars, conda, pip = environment_yml()
    assert scalars.get("name") == "motionbook"
    assert "python=3.11" in conda
    assert "pip" in conda
    assert "-e ." in pip
    env_pins = [p for p in pip if p != "-e ."]
    loose = [p for p in env_pins if not PIN.match(p)]
    assert not loose, f"environment.yml pip entries that are not exact pins: {loose}"
    assert sorted(map(normalise, env_pins)) == sorted(map(normalise, pyproject_pins()))


def test_environment_yml_is_valid_yaml() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections == [environment_yml()[2]]
    assert env["name"] == "motionbook"
