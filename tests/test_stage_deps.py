"""Each DVC stage lists as deps exactly the package files its notebook runs: its import closure.

The closure is :func:`huenet.imports.notebook_closure`, read from the source. The test asserts equality, not only
completeness: a file listed that the stage does not run makes DVC rerun the stage when that file changes, for
nothing. A listed folder covers the ``.py`` files under it, and counts as exact only if the stage imports all of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from huenet.imports import PACKAGE, imports_of, module_closure, notebook_closure
from huenet.stage_deps import DOCS_END, DOCS_START, TRAINED_BY, reruns_table, stage_code_deps, with_code_deps

ROOT = Path(__file__).resolve().parents[1]


def _stages() -> dict[str, dict]:
    """Stage name -> its ``cmd`` and ``deps``; a ``foreach`` stage's template (``do``) stands for all its stages."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def _closure(spec: dict) -> frozenset[str]:
    """What the stage's command imports: its papermill notebook's closure, or its ``python -m`` module's (stage
    train's launcher, which imports huenet.train, the module it runs in each training process)."""
    words = spec["cmd"].split()
    if words[:2] == ["python", "-m"]:
        return module_closure(words[2])
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


def test_closure_follows_the_package_and_its_lazy_attribute() -> None:
    tree = ast.parse("from huenet import transfer\nimport huenet.baselines.reinhard")
    assert {"huenet", "huenet.api", "huenet.baselines", "huenet.baselines.reinhard"} <= imports_of(tree)
    # importing the data layer runs no baseline and not the transfer API (the package is lazy)
    assert not any(m.startswith(("huenet.baselines", "huenet.api"))
                   for m in imports_of(ast.parse("import huenet.data.pairs")))


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_stage_deps_are_its_import_closure(stage: str) -> None:
    spec = _stages()[stage]
    needed, have = _closure(spec), listed(spec["deps"])
    assert have == needed, f"{stage}: missing {sorted(needed - have)}, not imported {sorted(have - needed)}"


def test_dvc_yaml_and_the_reruns_table_are_what_the_generator_writes() -> None:
    # `python -m huenet.stage_deps write` rewrites both; a stale one is a dep or a doc that lies
    text = (ROOT / "dvc.yaml").read_text()
    deps = stage_code_deps(yaml.safe_load(text), ROOT)
    assert with_code_deps(text, deps) == text, "dvc.yaml is stale: run `python -m huenet.stage_deps write`"
    docs = (ROOT / "docs" / "pipeline.md").read_text()
    block = docs[docs.index(DOCS_START) + len(DOCS_START):docs.index(DOCS_END)].strip()
    assert block == reruns_table(deps), "docs/pipeline.md is stale: run `python -m huenet.stage_deps write`"


def test_the_training_fingerprints_leave_out_what_only_scores_plots_or_paints() -> None:
    for module in TRAINED_BY.values():
        closure = module_closure(module)
        assert {"huenet/cli.py", "huenet/api.py", "huenet/report.py", "huenet/figures.py", "huenet/metrics.py",
                "huenet/evaluate.py"}.isdisjoint(closure), module
    assert "huenet/train.py" in module_closure("huenet.train")
    assert "huenet/train.py" in module_closure("huenet.launch")  # the launcher's processes run huenet.train
