"""The DVC remotes re-hash what they give: a flipped byte in the data remote is refused by `dvc pull`."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _remotes(config: Path) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.read(config)
    return {section.split('"')[1]: dict(parser[section]) for section in parser.sections()
            if section.startswith("'remote ")}


def test_every_remote_of_the_project_verifies_what_it_pulls() -> None:
    remotes = _remotes(ROOT / ".dvc" / "config")
    assert remotes and all(options.get("verify") == "true" for options in remotes.values()), remotes


def test_the_recipe_for_sharing_models_verifies_its_remote_too() -> None:
    text = (ROOT / "docs" / "pipeline.md").read_text()
    add, verify, push = (text.index(line) for line in ("dvc remote add outputs", "dvc remote modify outputs verify "
                                                       "true", "dvc push -r outputs"))
    assert add < verify < push


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "DVC_NO_ANALYTICS": "1"})


@pytest.mark.slow
def test_a_flipped_byte_in_the_remote_is_not_pulled(tmp_path: Path) -> None:
    """A remote set up as the project's (its options, another folder), one object flipped after the push."""
    repo, store = tmp_path / "repo", tmp_path / "store"
    repo.mkdir()
    assert _dvc(repo, "init", "--no-scm", "-q").returncode == 0
    (repo / "data").mkdir()
    image = repo / "data" / "image_00001.jpg"
    image.write_bytes(os.urandom(5000))
    (repo / "data" / "image_00002.jpg").write_bytes(os.urandom(5000))
    [(name, options)] = _remotes(ROOT / ".dvc" / "config").items()
    assert _dvc(repo, "remote", "add", "-d", name, str(store)).returncode == 0
    for option, value in options.items():
        if option != "url":
            assert _dvc(repo, "remote", "modify", name, option, value).returncode == 0
    assert _dvc(repo, "add", "-q", "data").returncode == 0 and _dvc(repo, "push", "-q").returncode == 0
    remote_object = next(p for p in store.rglob("*") if p.is_file() and p.read_bytes() == image.read_bytes())
    damaged = bytearray(remote_object.read_bytes())
    damaged[100] ^= 0x01
    remote_object.chmod(0o644)
    remote_object.write_bytes(bytes(damaged))
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")

    pulled = _dvc(repo, "pull")
    assert pulled.returncode != 0
    assert not image.exists() and bytes(damaged) not in {p.read_bytes() for p in (repo / ".dvc").rglob("*")
                                                          if p.is_file()}
    # without `verify`, DVC takes the object as it comes: the fault this setting closes
    assert _dvc(repo, "remote", "modify", name, "verify", "false").returncode == 0
    assert _dvc(repo, "pull").returncode == 0 and image.read_bytes() == bytes(damaged)
