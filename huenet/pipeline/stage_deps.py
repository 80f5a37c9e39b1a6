"""The pipeline's code deps, written from the notebooks' import closures, and what an edit to each module reruns.

``huenet deps`` rewrites the ``huenet/`` deps of every stage in ``dvc.yaml`` to the import closure of
what its command runs (:func:`notebook_closure` for a notebook; :func:`huenet.training.code.module_closure`, grimp's
graph, for a module), and the table between the markers in ``docs/pipeline.md`` from the result;
``tests/test_stage_deps.py`` fails when either is stale.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from huenet.training.code import PACKAGE, module_closure, modules_closure

__all__ = ["DOCS_END", "DOCS_START", "TRAINED_BY", "imported_modules", "notebook_closure", "notebook_code",
           "reruns_table", "stage_code_deps", "with_code_deps", "main"]

DOCS_START = "<!-- reruns: written by `huenet deps` from dvc.yaml; do not edit -->"
DOCS_END = "<!-- end of reruns -->"
# The modules whose import closure a checkpoint's code fingerprint hashes (huenet.training.loop.run_identity), by stage.
TRAINED_BY = {"train": "huenet.training.train", "color_gan": "huenet.baselines.color_gan"}
_BASE = Path(__file__).resolve().parents[2]  # the folder that holds the package


def notebook_code(notebook: str | Path) -> ast.Module:
    """The code cells of a notebook as one module (IPython magics and shell escapes left out)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    code = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            code.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return ast.parse("\n".join(code))


def imported_modules(tree: ast.AST) -> set[str]:
    """The package modules that the code in ``tree`` imports (``from huenet.eval import kid`` imports the module
    ``huenet.eval.kid`` where there is one, else only ``huenet.eval``).

    >>> sorted(imported_modules(ast.parse("from huenet.eval import metrics\\nfrom huenet import emd_loss")))
    ['huenet', 'huenet.eval.metrics']
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            submodules = [f"{node.module}.{a.name}" for a in node.names
                          if (_BASE / node.module.replace(".", "/") / f"{a.name}.py").is_file()
                          or (_BASE / node.module.replace(".", "/") / a.name / "__init__.py").is_file()]
            found.update(submodules or [node.module])
    return found


def notebook_closure(notebook: str | Path) -> frozenset[str]:
    """The package files that running ``notebook`` imports, as ``huenet/...`` paths."""
    return modules_closure(imported_modules(notebook_code(notebook)))


def _code_closure(cmd: str, root: Path) -> frozenset[str]:
    """What a stage's command imports: its papermill notebook's closure, or, for ``huenet TASK``, the command's own
    file and the task's module (:data:`huenet.cli.TASKS`; the command imports only that one)."""
    from huenet.cli import TASKS

    words = cmd.split()
    if "papermill" in words:
        return notebook_closure(root / words[words.index("papermill") + 1])
    task = words[words.index(PACKAGE) + 1]
    return modules_closure(["huenet.cli", TASKS[task].module])


def stage_code_deps(dvc_yaml: Mapping, root: Path) -> dict[str, list[str]]:
    """Stage name (a ``foreach`` stage by its own name) -> the sorted package files its command imports."""
    stages = {name: spec.get("do", spec) for name, spec in dvc_yaml["stages"].items()}
    return {name: sorted(_code_closure(spec["cmd"], root)) for name, spec in stages.items()}


def with_code_deps(text: str, deps: Mapping[str, Sequence[str]]) -> str:
    """``dvc.yaml``'s text with each stage's ``huenet/`` deps replaced by ``deps[stage]``, the rest untouched.

    >>> text = "stages:\\n  a:\\n    deps:\\n      - x.ipynb\\n      - huenet/files.py\\n    outs:\\n      - y\\n"
    >>> print(with_code_deps(text, {"a": ["huenet/paths.py"]}), end="")
    stages:
      a:
        deps:
          - x.ipynb
          - huenet/paths.py
        outs:
          - y
    """
    out: list[str] = []
    stage, in_deps, indent = None, False, None
    for line in text.splitlines(keepends=True):
        if m := re.match(r"^  (\w+):\s*$", line):
            stage = m.group(1)
        if re.match(r"^\s+deps:\s*$", line):
            in_deps, indent = True, None
            out.append(line)
            continue
        if in_deps:
            item = re.match(r"^(\s+)- (\S+)\s*$", line)
            if item:
                indent = item.group(1)
                if item.group(2) == PACKAGE or item.group(2).startswith(PACKAGE + "/"):
                    continue
                out.append(line)
                continue
            in_deps = False
            out.extend(f"{indent}- {path}\n" for path in deps[stage])  # type: ignore[index]
        out.append(line)
    return "".join(out)


def reruns_table(deps: Mapping[str, Sequence[str]]) -> str:
    """Markdown: for each package module, the stages an edit to it reruns and the models it retrains."""
    trained = {stage: module_closure(module) for stage, module in TRAINED_BY.items()}
    modules = sorted(p.relative_to(_BASE).as_posix() for p in (_BASE / PACKAGE).rglob("*.py"))
    rows = ["| module | an edit reruns the stages | and retrains |", "| --- | --- | --- |"]
    for module in modules:
        stages = [f"`{name}`" for name, paths in deps.items() if module in paths]
        retrains = [f"`{name}`" for name, closure in trained.items() if module in closure]
        rows.append(f"| `{module}` | {', '.join(stages) or 'none'} | {', '.join(retrains) or 'nothing'} |")
    return "\n".join(rows)


def _replace_block(text: str, block: str) -> str:
    start, end = text.index(DOCS_START) + len(DOCS_START), text.index(DOCS_END)
    return text[:start] + "\n\n" + block + "\n\n" + text[end:]


def main(argv: Sequence[str]) -> int:
    """``huenet deps``: rewrite dvc.yaml's code deps and docs/pipeline.md's table."""
    if list(argv) in (["-h"], ["--help"]):
        print("usage: huenet deps   (from the repository root)")
        return 0
    if argv:
        print("usage: huenet deps   (from the repository root)", file=sys.stderr)
        return 2
    root = Path.cwd()
    dvc_path, docs_path = root / "dvc.yaml", root / "docs" / "pipeline.md"
    text = dvc_path.read_text()
    deps = stage_code_deps(yaml.safe_load(text), root)
    dvc_path.write_text(with_code_deps(text, deps))
    docs_path.write_text(_replace_block(docs_path.read_text(), reruns_table(deps)))
    return 0
