"""What a committed notebook must be, checked without running it: no outputs, exactly one ``parameters`` cell whose
names are all assigned there (typed by their defaults), code that parses, and imports only from ``motionbook_lib``,
the plotting/widget packages and the standard library.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "ALLOWED_NOTEBOOK_IMPORTS",
    "PARAMETERS_TAG",
    "check_parameter_types",
    "notebook_hygiene",
    "parameter_names",
    "parameter_types",
]

#: Third-party top-level modules a notebook may import (plus ``sys.stdlib_module_names``).
ALLOWED_NOTEBOOK_IMPORTS: frozenset[str] = frozenset(
    {"motionbook_lib", "plotly", "ipywidgets", "pythreejs", "IPython", "numpy", "pandas"}
)

#: Tag of the one cell holding a notebook's parameters (papermill's convention).
PARAMETERS_TAG = "parameters"




def _read_notebook(path: Path) -> Any:
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _code_source(source: str) -> str:
    """Cell source with IPython magics / shell lines (``%``, ``!``) blanked so ``ast`` can parse it."""
    lines = source.splitlines()
    first = next((line.lstrip() for line in lines if line.strip()), "")
    if first.startswith("%%"):  # a cell magic: the body is not Python
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def _parameter_cells(nb: Any) -> list[int]:
    return [i for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])]


def _assigned_names(tree: ast.Module) -> list[str]:
    """Names assigned at top level (``x = ...``, ``x: int = ...``, ``a, b = ...``), in order."""
    names: list[str] = []

    def add(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if target.id not in names:
                names.append(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                add(elt)
        elif isinstance(target, ast.Starred):
            add(target.value)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add(target)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            add(node.target)
    return names


def _hidden_parameters(path: Path, cell: Any) -> list[str]:
    """Parameters papermill's inspection (``papermill --help-notebook``) cannot see: it skips every line with
    more than one ``=``, so an ``=`` in a parameter's comment hides that parameter from its users."""
    import logging

    from papermill.translators import PythonTranslator

    try:
        names = _assigned_names(ast.parse(_code_source(cell.source)))
    except SyntaxError:
        return []  # reported with the cell's other problems
    papermill_log = logging.getLogger("papermill")
    level = papermill_log.level
    papermill_log.setLevel(logging.ERROR)  # its own warning per skipped line; the problem below names the line
    try:
        seen = {p.name for p in PythonTranslator.inspect(cell)}
    finally:
        papermill_log.setLevel(level)
    return [f"{path.name} parameters cell: papermill cannot read parameter {n!r}; keep '=' out of its comment"
            for n in names if n not in seen]  # fmt: skip


def parameter_names(notebook: str | os.PathLike[str]) -> list[str]:
    """Names assigned in the notebook's single ``parameters``-tagged cell.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` when there is not exactly one
    parameters cell or it does not parse.
    """
    return _assigned_names(_parameters_tree(Path(notebook)))


#: The JSON types a parameter may take, by the type of its default (an int is fine where a float is expected).
_ACCEPTED_TYPES: dict[type, tuple[type, ...]] = {
    bool: (bool,), int: (int,), float: (int, float), str: (str,), list: (list, tuple), tuple: (list, tuple),
    dict: (dict,),
}  # fmt: skip
_ANNOTATIONS: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict}


def parameter_types(notebook: str | os.PathLike[str]) -> dict[str, tuple[type, Any]]:
    """``{name: (type, default)}`` of the parameters whose type the parameters cell shows: an annotation
    (``n: int = 3``) or a literal default (``n = 3``). Parameters defaulting to ``None`` or to an expression
    are left out (any value goes)."""
    out: dict[str, tuple[type, Any]] = {}
    for node in _parameters_tree(Path(notebook)).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            kind = _ANNOTATIONS.get(node.annotation.id) if isinstance(node.annotation, ast.Name) else None
            default = _literal(node.value)
            if kind is not None:
                out[node.target.id] = (kind, default)
            elif type(default) in _ACCEPTED_TYPES:
                out[node.target.id] = (type(default), default)
            continue
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            default = _literal(node.value)
            if type(default) in _ACCEPTED_TYPES:
                out[node.targets[0].id] = (type(default), default)
            else:
                out.pop(node.targets[0].id, None)
    return out


def _literal(node: ast.expr | None) -> Any:
    try:
        return ast.literal_eval(node) if node is not None else None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def check_parameter_types(notebook: Path, parameters: dict[str, Any]) -> None:
    """A ValueError naming the first parameter whose value has another type than the parameters cell shows."""
    types = parameter_types(notebook)
    for name, value in parameters.items():
        if name not in types:
            continue
        kind, default = types[name]
        accepted = _ACCEPTED_TYPES[kind]
        if (isinstance(value, bool) and bool not in accepted) or not isinstance(value, accepted):
            want = {float: "a number", int: "an integer", bool: "true or false", str: "a string",
                    list: "a list", tuple: "a list", dict: "a JSON object"}[kind]  # fmt: skip
            raise ValueError(
                f"parameter {name!r} of {notebook} must be {want} (its default in the parameters cell is "
                f"{default!r}), got {type(value).__name__} {value!r}"
            )


def _parameters_tree(path: Path) -> ast.Module:
    """The parsed ``parameters`` cell of the notebook at ``path``."""
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    nb = _read_notebook(path)
    cells = _parameter_cells(nb)
    if len(cells) != 1:
        raise ValueError(f"notebook {path} must have exactly one cell tagged {PARAMETERS_TAG!r}, found {len(cells)}")
    cell = nb.cells[cells[0]]
    if cell.cell_type != "code":
        raise ValueError(f"notebook {path}: the {PARAMETERS_TAG!r} cell must be a code cell")
    try:
        return ast.parse(_code_source(cell.source))
    except SyntaxError as exc:
        raise ValueError(f"notebook {path}: cannot parse the parameters cell: {exc}") from exc


def notebook_hygiene(path: str | os.PathLike[str]) -> list[str]:
    """Problems that keep a notebook from being committed; an empty list means clean.

    Checks: no outputs / execution counts in code cells, exactly one ``parameters``-tagged code cell,
    every code cell parses, and imports only from ``motionbook_lib``, the plotting/widget packages in
    ``ALLOWED_NOTEBOOK_IMPORTS`` and the standard library.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path}: file not found"]
    try:
        nb = _read_notebook(path)
    except Exception as exc:  # nbformat raises several kinds for broken JSON/schema
        return [f"{path}: cannot read notebook: {exc}"]

    problems: list[str] = []
    allowed = ALLOWED_NOTEBOOK_IMPORTS | frozenset(sys.stdlib_module_names)
    n_code = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        n_code += 1
        where = f"{path.name} cell {index}"
        if cell.get("outputs"):
            problems.append(f"{where}: has outputs (clear them before committing)")
        if cell.get("execution_count") is not None:
            problems.append(f"{where}: has an execution_count (clear outputs before committing)")
        try:
            tree = ast.parse(_code_source(cell.source))
        except SyntaxError as exc:
            problems.append(f"{where}: does not parse: {exc.msg} (line {exc.lineno})")
            continue
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    problems.append(f"{where}: relative import (line {node.lineno}) is not allowed")
                    continue
                modules = [node.module or ""]
            for module in modules:
                top = module.split(".")[0]
                if top not in allowed:
                    problems.append(
                        f"{where}: imports {module!r} (line {node.lineno}); notebooks may import only "
                        "motionbook_lib, "
                        + ", ".join(sorted(ALLOWED_NOTEBOOK_IMPORTS - {"motionbook_lib"}))
                        + " and the standard library"
                    )

    param_cells = _parameter_cells(nb)
    if len(param_cells) != 1:
        problems.append(f"{path.name}: needs exactly one cell tagged {PARAMETERS_TAG!r}, found {len(param_cells)}")
    elif nb.cells[param_cells[0]].cell_type != "code":
        problems.append(f"{path.name}: the {PARAMETERS_TAG!r} cell must be a code cell")
    else:
        problems += _hidden_parameters(path, nb.cells[param_cells[0]])
    if n_code == 0:
        problems.append(f"{path.name}: has no code cells")
    return problems
