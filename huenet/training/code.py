"""Which of the package's files a module runs, and their digest: the code part of a training run's identity.

The import graph is grimp's, read from the source without importing anything. Imports inside functions count
(they run when the function is called); imports under ``if TYPE_CHECKING:`` do not. Importing ``huenet.eval.kid``
runs ``huenet/__init__.py`` and ``huenet/eval/__init__.py`` first, so a module's closure holds its packages and what
they import too.

A checkpoint's code digest hashes the training module's closure only (:func:`code_fingerprint`), so an edit to
the CLI or to the reports neither retrains a model nor, through the stages' deps (:mod:`huenet.pipeline.stage_deps`,
which reads the same graph), reruns a stage that does not import it.

>>> closure = module_closure("huenet.training.train")
>>> "huenet/training/loop.py" in closure and "huenet/cli.py" not in closure
True
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PACKAGE", "code_fingerprint", "module_closure", "modules_closure", "module_file"]

PACKAGE = "huenet"
# The folder that holds the package folder: paths in a closure are relative to it ("huenet/training/loop.py").
_BASE = Path(__file__).resolve().parents[2]


@functools.cache
def _graph():
    try:
        import grimp
    except ImportError:
        raise ImportError("a training run records the code it ran, which needs grimp: "
                          "pip install 'huenet[pipeline]'") from None
    return grimp.build_graph(PACKAGE, cache_dir=None, exclude_type_checking_imports=True)


def module_file(module: str) -> Path:
    """The file that defines ``module`` (a package's ``__init__.py``), relative to the folder above the package."""
    base = Path(*module.split("."))
    return base / "__init__.py" if (_BASE / base).is_dir() else base.with_suffix(".py")


def _with_parents(module: str) -> list[str]:
    """``p.a.b`` -> ``p``, ``p.a``, ``p.a.b``: importing a module runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def modules_closure(modules: Iterable[str]) -> frozenset[str]:
    """The package files (``huenet/...`` paths) that importing all of ``modules`` runs.

    Raises:
        ValueError: a name is not a module of the package.
    """
    graph = _graph()
    todo = [m for module in modules for m in _with_parents(module)]
    unknown = sorted(m for m in todo if m not in graph.modules)
    if unknown:
        raise ValueError(f"not modules of {PACKAGE}: {', '.join(unknown)}")
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(p for m in graph.find_modules_directly_imported_by(module) for p in _with_parents(m))
    return frozenset(module_file(m).as_posix() for m in seen)


def module_closure(module: str) -> frozenset[str]:
    """The package files that ``import <module>`` runs, as ``huenet/...`` paths."""
    return modules_closure([module])


@functools.cache
def code_fingerprint(module: str) -> str:
    """SHA-256 of the source files that ``import <module>`` runs, as 16 hex digits.

    The code defines a run as much as its config does: a finished checkpoint of the same config, written
    before a change to the training's code, must be trained again. Only the module's own import closure
    counts, so an edit to what merely scores, plots or paints (metrics, reports, the CLI) keeps the model.

    >>> code_fingerprint("huenet.training.train") == code_fingerprint("huenet.training.train")
    True
    """
    digest = hashlib.sha256()
    for name in sorted(module_closure(module)):
        digest.update(name.encode() + b"\0" + (_BASE / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
