"""Each DVC stage lists as deps exactly the package files its notebook runs: its import closure.

The closure is :func:`huenet.pipeline.stage_deps.notebook_closure` (grimp's import graph from the notebook's imports).
The test asserts equality, not only completeness: a file listed that the stage does not run makes DVC rerun the stage
when that file changes, for nothing. A listed folder covers the ``.py`` files under it, and counts as exact only if the
stage imports all of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from huenet.cli import TASKS
from huenet.pipeline.stage_deps import (
    DOCS_END,
    DOCS_START,
    TRAINED_BY,
    imported_modules,
    notebook_closure,
    reruns_table,
    stage_code_deps,
    with_code_deps,
)
from huenet.training.code import PACKAGE, module_closure, modules_closure

ROOT = Path(__file__).resolve().parents[1]


def _stages() -> dict[str, dict]:
    """Stage name -> its ``cmd`` and ``deps``; a ``foreach`` stage's template (``do``) stands for all its stages."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def _closure(spec: dict) -> frozenset[str]:
    """What the stage's command imports: its papermill notebook's closure, or for ``huenet TASK`` the command's and
    the task module's (stage train's launcher, which imports huenet.training.train, the module it runs in each
    training process)."""
    words = spec["cmd"].split()
    if words[0] == PACKAGE:
        return modules_closure(["huenet.cli", TASKS[words[1]].module])
    assert "papermill" in words, spec["cmd"]
    notebook = words[words.index("papermill") + 1]
    assert notebook.endswith(".ipynb"), spec["cmd"]
    assert notebook in spec["deps"], f"{notebook} runs but is not a dep"
    return notebook_closure(ROOT / notebook)


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


def test_a_closure_holds_the_imported_packages_and_not_the_lazy_transfer() -> None:
    assert imported_modules(ast.parse("from huenet.paint import blend\nimport huenet.baselines.reinhard")) == {
        "huenet.paint.blend", "huenet.baselines.reinhard"}
    closure = module_closure("huenet.baselines.reinhard")
    # importing a module runs its packages, and huenet/__init__.py imports the core
    assert {"huenet/__init__.py", "huenet/baselines/__init__.py", "huenet/core/losses.py"} <= closure
    # huenet.transfer is imported on first use, by name: importing the data layer runs no photo code or baseline
    closure = module_closure("huenet.data.pairs")
    assert not any(path.startswith(("huenet/baselines", "huenet/paint")) for path in closure)


def test_the_command_imports_only_the_task_it_runs() -> None:
    assert not any(path.startswith(("huenet/paint", "huenet/pipeline", "huenet/training"))
                   for path in module_closure("huenet.cli"))
    for task in TASKS.values():
        assert module_closure(task.module)  # every task's module exists


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_stage_deps_are_its_import_closure(stage: str) -> None:
    spec = _stages()[stage]
    needed, have = _closure(spec), listed(spec["deps"])
    assert have == needed, f"{stage}: missing {sorted(needed - have)}, not imported {sorted(have - needed)}"


def test_dvc_yaml_and_the_reruns_table_are_what_the_generator_writes() -> None:
    # `huenet deps` rewrites both; a stale one is a dep or a doc that lies
    text = (ROOT / "dvc.yaml").read_text()
    deps = stage_code_deps(yaml.safe_load(text), ROOT)
    assert with_code_deps(text, deps) == text, "dvc.yaml is stale: run `huenet deps`"
    docs = (ROOT / "docs" / "pipeline.md").read_text()
    block = docs[docs.index(DOCS_START) + len(DOCS_START):docs.index(DOCS_END)].strip()
    assert block == reruns_table(deps), "docs/pipeline.md is stale: run `huenet deps`"


def test_the_training_fingerprints_leave_out_what_only_scores_plots_or_paints() -> None:
    for module in TRAINED_BY.values():
        closure = module_closure(module)
        assert {"huenet/cli.py", "huenet/paint/api.py", "huenet/pipeline/report.py", "huenet/pipeline/figures.py",
                "huenet/eval/metrics.py", "huenet/eval/evaluate.py"}.isdisjoint(closure), module
    assert "huenet/training/train.py" in module_closure("huenet.training.train")
    # the launcher's processes run huenet.training.train
    assert "huenet/training/train.py" in module_closure("huenet.pipeline.launch")
