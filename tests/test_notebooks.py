"""The notebooks under ``notebooks/`` are committed as sources, without outputs.

They are DVC stage deps: outputs in them would change a stage's hash whenever nbval or JupyterLab ran one. The
executed copies, outputs and all, are papermill's ``reports/notebooks/``. Strip a notebook before committing it
with the command below (nbstripout, keeping the cell ids so diffs stay small).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbstripout import strip_output

ROOT = Path(__file__).resolve().parents[1]
EXTRA_KEYS = ["metadata.papermill", "cell.metadata.papermill"]
COMMAND = f'nbstripout --keep-id --extra-keys "{" ".join(EXTRA_KEYS)}" notebooks/*.ipynb'
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_is_committed_without_outputs(notebook: Path) -> None:
    text = notebook.read_text()
    stripped = strip_output(nbformat.reads(text, as_version=4), keep_output=False, keep_count=False, keep_id=True,
                            extra_keys=EXTRA_KEYS)
    assert nbformat.writes(stripped) + "\n" == text, f"{notebook.name} holds outputs: run `{COMMAND}`"


def test_a_notebook_with_an_output_is_caught(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=1, outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1)])])
    stripped = strip_output(nbformat.from_dict(nb), keep_output=False, keep_count=False, keep_id=True,
                            extra_keys=EXTRA_KEYS)
    assert stripped.cells[0].outputs == [] and nbformat.writes(stripped) != nbformat.writes(nb)


def _reads(notebook: str) -> tuple[set[str], set[str]]:
    """The split lists a notebook's code reads (``split.<list>``) and the functions it calls by name."""
    import ast

    from huenet.pipeline.stage_deps import notebook_code

    tree = notebook_code(ROOT / "notebooks" / f"{notebook}.ipynb")
    lists = {n.attr for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "split"}
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return lists, calls


@pytest.mark.parametrize("notebook", ["03-train", "03b-color-gan", "06-calibration"])
def test_every_choice_is_scored_on_validation_pairs(notebook: str) -> None:
    """Training, the colour GAN and the calibration score on validation pairs; they never read the test list."""
    lists, calls = _reads(notebook)
    assert "validation_pairs" in calls and "test" not in lists, (lists, calls)


@pytest.mark.parametrize("notebook", ["04-ablations", "05-table1"])
def test_only_the_final_tables_score_test_pairs(notebook: str) -> None:
    lists, _ = _reads(notebook)
    assert "test" in lists and "validation" not in lists, lists
