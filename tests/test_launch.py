"""huenet.pipeline.launch: the pipeline's train stage, every run of train.variants, several at a time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

from huenet.data.cache import save_cache
from huenet.data.split import make_split, write_splits
from huenet.pipeline.launch import default_jobs, launch, main
from tests.helpers import synthetic_cache

ROOT = Path(__file__).resolve().parents[1]


def test_as_many_runs_at_a_time_as_the_cpus_hold():
    assert default_jobs(threads=1, nproc_per_node=1, cpus=2) == 2
    assert default_jobs(threads=2, nproc_per_node=1, cpus=2) == 1
    assert default_jobs(threads=4, nproc_per_node=1, cpus=2) == 1
    assert default_jobs(threads=1, nproc_per_node=4, cpus=16) == 1  # each run is a torchrun job of its own


def _sleeper(stamps: Path, name: str, code: int = 0) -> list[str]:
    """A command that records when it ran, writes a line to stderr and exits with ``code``."""
    script = (f"import sys, time; from pathlib import Path; t = time.time(); time.sleep(0.6); "
              f"Path({str(stamps / name)!r}).write_text(f'{{t}} {{time.time()}}'); "
              f"print('line one', file=sys.stderr); print('the reason', file=sys.stderr); sys.exit({code})")
    return [sys.executable, "-c", script]


@pytest.mark.slow
def test_launch_runs_at_most_jobs_at_once_and_every_run_to_its_end(tmp_path: Path):
    commands = {name: _sleeper(tmp_path, name, code=3 if name == "b" else 0) for name in "abcd"}
    log = tmp_path / "log.txt"
    with log.open("w") as f:
        results = launch(commands, jobs=2, log=f)
    assert sorted(r.variant for r in results) == list("abcd")  # b's failure stopped nothing
    failed = [r for r in results if r.returncode != 0]
    assert [(r.variant, r.returncode, r.stderr_tail.splitlines()[-1]) for r in failed] == [("b", 3, "the reason")]
    spans = [tuple(map(float, (tmp_path / n).read_text().split())) for n in "abcd"]
    overlapping = max(sum(start <= t < end for start, end in spans) for t, _ in spans)
    assert overlapping == 2
    assert "b: failed (exit 3)" in log.read_text()


def _tiny_project(tmp_path: Path) -> tuple[Path, list[str]]:
    cache = synthetic_cache(n=16, size=20)
    split = make_split(list(cache.names), seed=0, test_fraction=0.2, validation_fraction=0.2)
    write_splits(split, tmp_path / "splits.json")
    save_cache(cache, tmp_path / "cache.pt")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["config"] |= dict(width=4, depth=3, disc_width=4, disc_layers=2, batch_size=4, bins=16,
                                      mi_bins=8, steps=2, checkpoint_every=1)
    params["train"]["crop_size"] = 16
    params["train"]["variants"] = {"full": {}, "full_seed1": {"seed": 1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path / "params.yaml", ["--splits", str(tmp_path / "splits.json"), "--cache", str(tmp_path / "cache.pt"),
                                      "--out-dir", str(tmp_path / "models"), "--report", str(tmp_path / "runs.json")]


@pytest.mark.slow
def test_main_trains_every_variant_and_a_rerun_keeps_the_finished_runs(tmp_path: Path, capsys):
    params, paths = _tiny_project(tmp_path)
    assert main(["--params", str(params), *paths]) == 0
    report = json.loads((tmp_path / "runs.json").read_text())
    assert set(report["runs"]) == {"full", "full_seed1"} and report["threads"] == 1
    weights = {v: (tmp_path / "models" / v / "generator.pt").read_bytes() for v in report["runs"]}
    first = {v: torch.load(tmp_path / "models" / v / "checkpoint.pt", weights_only=True)["generator"]
             for v in report["runs"]}
    assert not torch.equal(next(iter(first["full"].values())), next(iter(first["full_seed1"].values())))

    assert "0 runs already finished (none); training 2 (full, full_seed1)" in capsys.readouterr().out

    assert main(["--params", str(params), *paths]) == 0  # nothing changed: no run is started
    assert {v: (tmp_path / "models" / v / "generator.pt").read_bytes() for v in report["runs"]} == weights
    assert "2 runs already finished (full, full_seed1); training 0" in capsys.readouterr().out

    values = yaml.safe_load(params.read_text())
    values["train"]["variants"]["full_seed1"] = {"seed": 2}  # an edit to one run retrains that run only
    params.write_text(yaml.safe_dump(values))
    assert main(["--params", str(params), *paths]) == 0
    assert "1 runs already finished (full); training 1 (full_seed1)" in capsys.readouterr().out
    assert (tmp_path / "models" / "full" / "generator.pt").read_bytes() == weights["full"]


def test_main_refuses_a_bad_setting_before_any_run_starts(tmp_path: Path, capsys):
    params, paths = _tiny_project(tmp_path)
    values = yaml.safe_load(params.read_text())
    values["train"]["variants"]["no_mi"] = {"lambda_mi": -1}
    params.write_text(yaml.safe_dump(values))
    assert main(["--params", str(params), *paths]) == 2
    err = capsys.readouterr().err
    assert err == "huenet launch: error: train.variants.no_mi.lambda_mi: -1 is not >= 0\n"
    assert not (tmp_path / "models").exists()
    del values["train"]["variants"]["no_mi"]
    params.write_text(yaml.safe_dump(values))
    assert main(["--params", str(params), "--splits", str(tmp_path / "nope.json"), *paths[2:]]) == 2
    assert "not found:" in capsys.readouterr().err
    (tmp_path / "cache.pt").write_bytes((tmp_path / "cache.pt").read_bytes()[:-100])  # a cache cut short
    assert main(["--params", str(params), *paths]) == 2
    err = capsys.readouterr().err
    assert err.startswith("huenet launch: error: ") and "is damaged" in err and err.count("\n") == 1
    assert not (tmp_path / "models").exists()
