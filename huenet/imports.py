"""Which of the package's files a module or a notebook runs: its import closure, read from the source.

Two things rest on it: a DVC stage's deps are its notebook's closure (``tests/test_stage_deps.py``), and a
training checkpoint's code fingerprint hashes the training module's closure only (:func:`code_fingerprint`), so an
edit to the CLI or to the reports neither reruns a stage nor retrains a model.

The closure is computed without importing anything: the ``huenet`` imports of the code, then every ``huenet``
module's own imports, transitively. Importing ``huenet.a.b`` runs ``huenet/__init__.py`` and
``huenet/a/__init__.py`` too, so those count. Imports inside functions count (they run when the function is
called); imports under ``if TYPE_CHECKING:`` do not, nor does a package's lazy ``__getattr__`` unless its name is
imported (``from huenet import transfer``).

>>> "huenet/loop.py" in module_closure("huenet.train") and "huenet/cli.py" not in module_closure("huenet.train")
True
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PACKAGE", "code_fingerprint", "imports_of", "module_closure", "module_file", "notebook_closure",
           "notebook_code"]

PACKAGE = "huenet"
# The folder that holds the package folder: paths in a closure are relative to it ("huenet/loop.py").
_BASE = Path(__file__).resolve().parents[1]


def module_file(module: str) -> Path | None:
    """The file that defines ``module`` (a package's ``__init__.py``), or None if it is not in the package."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = _BASE.joinpath(*parts)
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _with_parents(module: str) -> list[str]:
    """``huenet.a.b`` -> ``huenet``, ``huenet.a``, ``huenet.a.b``: importing a module runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _lazy_imports(package: str, name: str) -> list[str]:
    """What the package's module ``__getattr__`` imports to give ``package.name``."""
    path = module_file(package)
    assert path is not None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return [imp.module for imp in ast.walk(node) if isinstance(imp, ast.ImportFrom) and imp.module
                    and any(alias.name == name for alias in imp.names)]
    return []


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(tree: ast.AST, module: str = "__main__", is_package: bool = False) -> set[str]:
    """The package modules that the code in ``tree`` (of module ``module``) imports, each with its parents.

    >>> sorted(imports_of(ast.parse("from huenet.data import pairs")))
    ['huenet', 'huenet.data', 'huenet.data.pairs']
    """
    found: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)  # the `if TYPE_CHECKING:` body never runs
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__" and isinstance(tree, ast.Module) \
                and node in tree.body:
            continue  # a lazy attribute: followed only where its name is imported (_lazy_imports)
        pending.extend(ast.iter_child_nodes(node))
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up level - 1 more
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base]
            for alias in node.names:  # `from huenet import x`: a submodule x, or a (lazy) attribute
                if module_file(f"{base}.{alias.name}"):
                    names.append(f"{base}.{alias.name}")
                elif module_file(base) and base.split(".")[0] == PACKAGE:
                    names.extend(_lazy_imports(base, alias.name))
        for name in names:
            if module_file(name):
                found.update(_with_parents(name))
    return found


def _closure(modules: Iterable[str]) -> frozenset[str]:
    """The files (``huenet/...`` paths) of ``modules`` and of everything they import, transitively."""
    seen = set(modules)
    todo = list(seen)
    while todo:
        path = module_file(todo.pop())
        assert path is not None
        module = ".".join(path.relative_to(_BASE).with_suffix("").parts).removesuffix(".__init__")
        for found in imports_of(ast.parse(path.read_text()), module, path.name == "__init__.py") - seen:
            seen.add(found)
            todo.append(found)
    return frozenset(module_file(m).relative_to(_BASE).as_posix() for m in seen)  # type: ignore[union-attr]


def module_closure(module: str) -> frozenset[str]:
    """The package files that ``import <module>`` runs, as ``huenet/...`` paths.

    Raises:
        ValueError: ``module`` is not a module of the package.
    """
    if module_file(module) is None:
        raise ValueError(f"{module!r} is not a module of {PACKAGE}")
    return _closure(_with_parents(module))


def notebook_code(notebook: str | Path) -> ast.Module:
    """The code cells of a notebook as one module (IPython magics and shell escapes left out)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            code.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return ast.parse("\n".join(code))


def notebook_closure(notebook: str | Path) -> frozenset[str]:
    """The package files that running ``notebook`` imports, as ``huenet/...`` paths."""
    return _closure(imports_of(notebook_code(notebook)))


@functools.cache
def code_fingerprint(module: str) -> str:
    """SHA-256 of the source files that ``import <module>`` runs, as 16 hex digits.

    The code defines a run as much as its config does: a finished checkpoint of the same config, written
    before a change to the training's code, must be trained again. Only the module's own import closure
    counts, so an edit to what merely scores, plots or paints (metrics, reports, the CLI) keeps the model.

    >>> code_fingerprint("huenet.train") == code_fingerprint("huenet.train") != code_fingerprint("huenet.color")
    True
    """
    digest = hashlib.sha256()
    for name in sorted(module_closure(module)):
        digest.update(name.encode() + b"\0" + (_BASE / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
