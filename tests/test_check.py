"""``huenet check``: params.yaml's settings and the bytes of every file DVC tracks, each fault one line with its
repair, in seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from huenet.pipeline.check import lock_outputs, main

ROOT = Path(__file__).resolve().parents[1]

DVC_YAML = """
stages:
  data:
    cmd: x
    outs:
      - artifacts/cache_${data.load_size}.pt
      - reports/data.json:
          cache: false
  train:
    cmd: x
    outs:
      - models/huenet:
          persist: true
      - reports/train_runs.json:
          cache: false
  score:
    foreach: ${train.variants}
    do:
      cmd: x
      outs:
        - reports/train_${key}.json:
            cache: false
      metrics:
        - reports/metrics/train_${key}.json
"""

DVC_LOCK = """
schema: '2.0'
stages:
  data:
    outs:
    - {path: artifacts/cache_72.pt, md5: 6d2d9516af88102ae346746ad0389df0}
    - {path: reports/data.json, md5: 1dcaadb75eb8e230b71bcfd7914426be}
  train:
    outs:
    - {path: models/huenet, md5: c0d2c4df51e7488a4efebbc4e871aca2.dir}
    - {path: reports/train_runs.json, md5: b5d9efb69f6c0ad959fef45f628ca31d}
  train@full:
    outs:
    - {path: models/full, md5: 7ef9cab22165d6a3250aafd8519327de.dir}
  score@full:
    outs:
    - {path: reports/train_full.json, md5: a800ad7b42a8f1ed4ddb06876948c067}
    - {path: reports/metrics/train_full.json, md5: 95ef54cebec545374a5102b06f5245dd}
"""


def test_the_lock_gives_the_cached_outputs_of_the_stages_that_are(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "dvc.lock").write_text(DVC_LOCK)
    found = {str(t.path): (t.source, t.restore) for t in lock_outputs(tmp_path)}
    # cache: false outputs are git's; train@full is a stage since removed (dvc.yaml's train has no foreach)
    assert found == {
        "artifacts/cache_72.pt": ("dvc.lock (stage data)",
                                  "`dvc pull artifacts/cache_72.pt` from a remote that holds it, or `dvc repro data`"),
        "models/huenet": ("dvc.lock (stage train)",
                          "`dvc pull models/huenet` from a remote that holds it, or `dvc repro train`"),
        "reports/metrics/train_full.json": ("dvc.lock (stage score@full)", "`dvc pull reports/metrics/train_full.json` "
                                            "from a remote that holds it, or `dvc repro score@full`"),
    }


def test_outside_a_repository_it_says_where_to_run_it(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == "huenet check: error: no params.yaml and dvc.yaml here; run it from the repository root\n"


def test_unreadable_records_are_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "params.yaml", tmp_path)
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "dvc.lock").write_text("stages: [\n")
    assert main([]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "cannot read DVC's records (dvc.yaml, dvc.lock, *.dvc): ParserError" and len(lines) == 2


def _dvc(repo: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _flip(path: Path, at: int = 3) -> None:
    """Flip a bit of ``path`` in place, as a bad disk does: its mode and times stay (DVC makes cache objects
    read-only)."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    path.chmod(before.st_mode)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.slow
def test_a_dvc_workspace_its_damaged_files_and_a_bad_setting(tmp_path: Path, monkeypatch, capsys) -> None:
    """A small repository made by DVC itself: data added with ``dvc add``, a model written by ``dvc repro``."""
    repo = tmp_path
    _dvc(repo, "init", "--no-scm", "-q")
    shutil.copy(ROOT / "params.yaml", repo)
    for name in ("image_00001.jpg", "image_00002.jpg"):
        (repo / "data" / "flowers-102" / "jpg").mkdir(parents=True, exist_ok=True)
        (repo / "data" / "flowers-102" / "jpg" / name).write_bytes(os.urandom(2000))
    _dvc(repo, "add", "-q", "data")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": {
        "cmd": "mkdir -p models/huenet/full && head -c 3000 /dev/urandom > models/huenet/full/generator.pt",
        "outs": [{"models/huenet": {"persist": True}}]}}}))
    _dvc(repo, "repro", "-q")
    monkeypatch.chdir(repo)

    assert main([]) == 0
    assert capsys.readouterr().out.startswith("huenet check: all well; tracked files: 3 match DVC's records, "
                                              "0 differ, 0 absent (")

    # A flipped byte in the DVC cache: dvc checkout restores it, dvc status sees nothing
    model = Path("models/huenet/full/generator.pt")
    lock = yaml.safe_load(Path("dvc.lock").read_text())
    manifest = next(Path(".dvc/cache").rglob("*.dir"), None)
    assert manifest is not None and lock["stages"]["train"]["outs"][0]["md5"].endswith(".dir")
    cached = next(p for p in Path(".dvc/cache/files/md5").rglob("*")
                  if p.is_file() and p.read_bytes() == model.read_bytes())
    _flip(cached)
    model.unlink()
    _dvc(repo, "checkout", "-q")
    assert model.read_bytes() == cached.read_bytes()
    assert "up to date" in _dvc(repo, "status")
    assert main([]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{model}: differs from dvc.lock (stage train); remove it (rm {model} {cached}), then "
                      "`dvc pull models/huenet` from a remote that holds it, or `dvc repro train`")
    assert out[1].startswith("huenet check: 1 problem; tracked files: 2 match DVC's records, 1 differ, 0 absent")

    # A flipped byte in an image of the workspace, a missing image, a bad setting
    model.unlink()
    cached.unlink()
    image = Path("data/flowers-102/jpg/image_00002.jpg")
    _flip(image)
    Path("data/flowers-102/jpg/image_00001.jpg").unlink()
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["train"]["config"]["dropout"] = 1.5
    Path("params.yaml").write_text(yaml.safe_dump(params))
    assert main([]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "params.yaml: train.config.dropout: 1.5 is not in [0, 1)"
    assert out[1].startswith(f"{image}: differs from data.dvc; remove it (rm {image} .dvc/cache/files/md5/")
    assert out[1].endswith("), then `dvc pull data.dvc`")
    assert out[2].startswith("huenet check: 2 problems; tracked files: 0 match DVC's records, 1 differ, 2 absent")
