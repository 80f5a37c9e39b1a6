"""huenet.paths: the project root is found from a folder, and the working directory is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from huenet.paths import project_root

ROOT = Path(__file__).resolve().parents[1]


def test_project_root_from_the_root_and_from_below_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert project_root(ROOT) == ROOT
    assert project_root(ROOT / "notebooks") == ROOT
    monkeypatch.chdir(ROOT)
    assert project_root("notebooks") == ROOT  # a relative start is from the working directory


def test_project_root_default_is_the_working_directory_which_it_leaves_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "notebooks")
    assert project_root() == ROOT
    assert Path.cwd() == ROOT / "notebooks"


def test_project_root_outside_a_project_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pyproject.toml"):
        project_root(tmp_path)
