"""Each DVC stage lists as deps exactly the package files its notebook runs: its import closure.

The closure is computed from the source, not by importing: the ``huenet`` imports of the notebook's code
cells, then every ``huenet`` module's own imports, transitively. Importing ``huenet.a.b`` runs
``huenet/__init__.py`` and ``huenet/a/__init__.py`` too, so those count. Imports inside functions count (they run
when the function is called, and a stage may call it); imports under ``if TYPE_CHECKING:`` do not, nor does a
package's lazy ``__getattr__`` unless its name is imported (``from huenet import transfer``).

The test asserts equality, not only completeness: a file listed that the stage does not run makes DVC rerun the
stage (hours, for training) when that file changes, for nothing. A listed folder covers the ``.py`` files under it,
and counts as exact only if the stage imports all of them.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "huenet"

def _stages() -> dict[str, dict]:
    """Stage name -> its ``cmd`` and ``deps``; a ``foreach`` stage's template (``do``) stands for all its stages."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def _notebook(spec: dict) -> str:
    # The train stage may run torchrun first (train.nproc_per_node > 1): `python -m huenet.train`, which the
    # notebook imports too, so the notebook's closure covers it.
    words = spec["cmd"].split()
    assert "papermill" in words, spec["cmd"]
    notebook = words[words.index("papermill") + 1]
    assert notebook.endswith(".ipynb"), spec["cmd"]
    assert notebook in spec["deps"], f"{notebook} runs but is not a dep"
    return notebook


def _module_file(module: str) -> Path | None:
    """The file that defines ``module`` (a package's ``__init__.py``), or None if it is not in the package."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts)
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
    path = _module_file(package)
    assert path is not None
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return [imp.module for imp in ast.walk(node) if isinstance(imp, ast.ImportFrom) and imp.module
                    and any(alias.name == name for alias in imp.names)]
    return []


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The package modules that the code in ``tree`` (of module ``module``) imports, each with its parents."""
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
                if _module_file(f"{base}.{alias.name}"):
                    names.append(f"{base}.{alias.name}")
                elif _module_file(base) and base.split(".")[0] == PACKAGE:
                    names.extend(_lazy_imports(base, alias.name))
        for name in names:
            if _module_file(name):
                found.update(_with_parents(name))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _notebook_code(notebook: str) -> ast.Module:
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    code = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            # IPython magics and shell escapes are not Python; they import nothing from the package
            code.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return ast.parse("\n".join(code))


def closure(notebook: str) -> set[str]:
    """The package files (relative paths) that running ``notebook`` imports."""
    modules = _imports(_notebook_code(notebook), "__main__", False)
    todo = list(modules)
    while todo:
        path = _module_file(todo.pop())
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for found in _imports(ast.parse(path.read_text()), module, path.name == "__init__.py") - modules:
            modules.add(found)
            todo.append(found)
    return {_module_file(m).relative_to(ROOT).as_posix() for m in modules}


def listed(deps: list) -> set[str]:
    """The package files that ``deps`` cover: a listed folder covers every ``.py`` file under it."""
    files: set[str] = set()
    for dep in deps:
        dep = str(dep).rstrip("/")
        if dep != PACKAGE and not dep.startswith(PACKAGE + "/"):
            continue
        path = ROOT / dep
        files.update(p.relative_to(ROOT).as_posix() for p in (path.rglob("*.py") if path.is_dir() else [path]))
    return files


def test_closure_follows_the_package_and_its_lazy_attribute() -> None:
    tree = ast.parse("from huenet import transfer\nimport huenet.baselines.reinhard")
    assert {"huenet", "huenet.api", "huenet.baselines", "huenet.baselines.reinhard"} <= _imports(
        tree, "__main__", False)
    # importing the data layer runs no baseline and not the transfer API (the package is lazy)
    assert not any(m.startswith(("huenet.baselines", "huenet.api"))
                   for m in _imports(ast.parse("import huenet.data.pairs"), "__main__", False))


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_stage_deps_are_its_import_closure(stage: str) -> None:
    spec = _stages()[stage]
    needed, have = closure(_notebook(spec)), listed(spec["deps"])
    assert have == needed, f"{stage}: missing {sorted(needed - have)}, not imported {sorted(have - needed)}"
