"""The DVC pipeline: dvc.yaml agrees with the notebooks and params.yaml, and the `data` stage runs.

The end-to-end test copies the repository's pipeline files into a temporary
git repository, writes a smoke-scale params.yaml there and runs
``dvc repro --pull data`` as a fresh clone would (the data come from the
project's DVC remote into a temporary cache), so nothing in the checkout is written.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # dvc and papermill live beside the interpreter (the venv)


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _parameters_cell(notebook: Path) -> str:
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{notebook} needs exactly one cell tagged 'parameters'"
    return cells[0].source


def _papermill_args(cmd: str) -> tuple[str, str, set[str]]:
    """Input notebook, output notebook and the -p parameter names of a papermill command."""
    words = cmd.split()
    assert words[0] == "papermill" and "-k" in words and words[words.index("-k") + 1] == "python3", cmd
    return words[1], words[2], {words[i + 1] for i, w in enumerate(words) if w == "-p"}


@pytest.mark.parametrize("stage", ["data", "histogram_layers", "color_gan", "ablations", "table1"])
def test_stage_runs_its_notebook_with_known_parameters(stage):
    spec = _stages()[stage]
    source, output, names = _papermill_args(spec["cmd"])
    assert source in spec["deps"]
    assert output == f"reports/notebooks/{Path(source).name}"
    assert {output: {"cache": False}} in spec["outs"]
    if not (ROOT / source).is_file():
        pytest.skip(f"{source} not written yet")
    params = _parameters_cell(ROOT / source)
    for name in names:
        assert re.search(rf"^{name}\s*=", params, re.M), f"{source} has no parameter {name!r}"
    # every params.yaml value of the stage's group reaches the notebook: the whole group through
    # params_file (tests/test_params.py), or each value through -p
    if "params_file" in names:
        assert "-p params_file params.yaml" in spec["cmd"] and stage in spec["params"]
        return
    group = yaml.safe_load((ROOT / "params.yaml").read_text())[stage]
    for key in group:
        assert f"${{{stage}.{key}}}" in spec["cmd"], f"params.yaml {stage}.{key} is not passed to the notebook"


def test_data_stage_figures_are_the_ones_the_notebook_saves():
    spec = _stages()["data"]
    declared = {Path(next(iter(o))).name for o in spec["outs"] if isinstance(o, dict) and "figures" in next(iter(o))}
    source = "\n".join(c.source for c in nbformat.read(ROOT / "notebooks/01-data.ipynb", as_version=4).cells)
    saved = set(re.findall(r'save\(fig, "([^"]+\.png)"\)', source))
    assert declared == saved and all(n.startswith("data_") for n in saved)


# ------------------------------------------------------------------ end to end


def _remote_url() -> Path:
    """The default remote's folder, absolute (.dvc/config holds it relative to .dvc/)."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".dvc" / "config")
    remote = cfg["core"]["remote"]
    return (ROOT / ".dvc" / cfg[f"'remote \"{remote}\"'"]["url"]).resolve()


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", MPLBACKEND="Agg", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not (BIN / "dvc").exists() or not (BIN / "papermill").exists(), reason="dvc/papermill not installed")
def test_dvc_repro_data_at_smoke_scale(tmp_path):
    remote = _remote_url()
    if not remote.is_dir():
        pytest.skip(f"DVC remote {remote} not found")
    repo = tmp_path / "repo"
    repo.mkdir()
    code = [dep for dep in _stages()["data"]["deps"] if dep.startswith("huenet/")]
    for rel in ("dvc.yaml", "data.dvc", ".dvcignore", "pyproject.toml", "notebooks/01-data.ipynb", *code):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, repo / rel)
    if (ROOT / "dvc.lock").is_file():  # as in a clone: the lock of the full run, which smoke params invalidate
        shutil.copy(ROOT / "dvc.lock", repo / "dvc.lock")
    (repo / "reports" / "notebooks").mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(limit=40, timing_batches=5)
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    (repo / ".dvc").mkdir()
    (repo / ".dvc" / "config").write_text(
        f"[core]\n    remote = flowers\n['remote \"flowers\"']\n    url = {remote}\n"
    )
    assert _run(["git", "init", "-q"], repo).returncode == 0

    done = _run([str(BIN / "dvc"), "repro", "--pull", "data"], repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    split = json.loads((repo / "artifacts" / "splits.json").read_text())
    assert (split["n_train"], split["n_test"]) == (7371, 818)
    cache = torch.load(repo / "artifacts" / "cache_72.pt", weights_only=True)
    assert tuple(cache["images"].shape) == (40, 3, 72, 72)
    metrics = json.loads((repo / "reports" / "data.json").read_text())
    assert metrics["images"] == 8189 and metrics["images_checked"] == 40
    for out in _stages()["data"]["outs"]:
        path = next(iter(out)) if isinstance(out, dict) else out
        assert (repo / path.replace("${data.load_size}", "72")).is_file(), path
    status = _run([str(BIN / "dvc"), "status", "data"], repo)
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout
