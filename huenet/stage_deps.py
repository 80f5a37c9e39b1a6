"""The pipeline's code deps, written from the notebooks' import closures, and what an edit to each module reruns.

``python -m huenet.stage_deps write`` rewrites the ``huenet/`` deps of every stage in ``dvc.yaml`` to its notebook's
import closure (:func:`huenet.imports.notebook_closure`), and the table between the markers in ``docs/pipeline.md``
from the result; ``tests/test_stage_deps.py`` fails when either is stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from huenet.imports import PACKAGE, module_closure, notebook_closure

__all__ = ["DOCS_END", "DOCS_START", "TRAINED_BY", "reruns_table", "stage_code_deps", "with_code_deps"]

DOCS_START = "<!-- reruns: written by `python -m huenet.stage_deps write` from dvc.yaml; do not edit -->"
DOCS_END = "<!-- end of reruns -->"
# The modules whose import closure a checkpoint's code fingerprint hashes (huenet.loop.run_identity), by stage.
TRAINED_BY = {"train": "huenet.train", "color_gan": "huenet.baselines.color_gan"}
_BASE = Path(__file__).resolve().parents[1]  # the folder that holds the package


def _code_closure(cmd: str, root: Path) -> frozenset[str]:
    """What a stage's command imports: its papermill notebook's closure, or that of its ``python -m`` module."""
    words = cmd.split()
    if "papermill" in words:
        return notebook_closure(root / words[words.index("papermill") + 1])
    return module_closure(words[words.index("-m") + 1])


def stage_code_deps(dvc_yaml: Mapping, root: Path) -> dict[str, list[str]]:
    """Stage name (a ``foreach`` stage by its own name) -> the sorted package files its command imports."""
    stages = {name: spec.get("do", spec) for name, spec in dvc_yaml["stages"].items()}
    return {name: sorted(_code_closure(spec["cmd"], root)) for name, spec in stages.items()}


def with_code_deps(text: str, deps: Mapping[str, Sequence[str]]) -> str:
    """``dvc.yaml``'s text with each stage's ``huenet/`` deps replaced by ``deps[stage]``, the rest untouched.

    >>> text = "stages:\\n  a:\\n    deps:\\n      - x.ipynb\\n      - huenet/old.py\\n    outs:\\n      - y\\n"
    >>> print(with_code_deps(text, {"a": ["huenet/new.py"]}), end="")
    stages:
      a:
        deps:
          - x.ipynb
          - huenet/new.py
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m huenet.stage_deps write``: rewrite dvc.yaml's code deps and docs/pipeline.md's table."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["write"]:
        print("usage: python -m huenet.stage_deps write", file=sys.stderr)
        return 2
    root = Path.cwd()
    dvc_path, docs_path = root / "dvc.yaml", root / "docs" / "pipeline.md"
    text = dvc_path.read_text()
    deps = stage_code_deps(yaml.safe_load(text), root)
    dvc_path.write_text(with_code_deps(text, deps))
    docs_path.write_text(_replace_block(docs_path.read_text(), reruns_table(deps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
