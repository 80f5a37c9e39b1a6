"""reports/calibration.csv: rows from `dvc exp show --json`, the front and the goal."""

from __future__ import annotations

from pathlib import Path

import pytest

from huenet.data.pairs import FLIPS
from huenet.pipeline.calibration import (
    COLUMNS,
    PAPER_POINT,
    choose,
    color_gan_rows,
    experiment_rows,
    meets_goal,
    merge_rows,
    pareto_front,
    read_csv,
    seed_spread,
    write_csv,
)
from huenet.pipeline.calibration import main as calibration_main
from huenet.training.params import stage_params
from huenet.training.train import STAGE_KEYS, TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _experiment(name: str, form: str, lambda_mi: float, ratio: float, mi: float, variants=None) -> dict:
    config = {"emd_form": form, "emd_reduction": "mean", "lambda_emd": 100, "lambda_mi": lambda_mi, "mi_bins": None,
              "steps": 2000, "lr": 2e-4,
              "batch_size": 8, "width": 32, "depth": 6, "seed": 0}
    params = {"config": config, "threads": 1, "eval_pairs": 256, "variants": variants or {"full": {}}}
    metrics = {"emd_ratio": ratio, "emd_tar_out": ratio * 0.15, "rel_mi_src_out": mi, "grey_ssim": 0.9,
               "split": "validation", "cpu": "Some CPU"}
    return {"rev": "abcdef123456", "name": name, "data": {
        "params": {"params.yaml": {"data": {"train": params}}},
        "metrics": {"reports/metrics/train_full.json": {"data": metrics}}}}


def _show(*experiments: dict) -> list:
    # DVC 3's shape: baselines, each with its experiments' revisions; a queued run has no metrics yet
    queued = {"rev": "1234567", "name": "queued", "data": {"params": {}, "metrics": {}}}
    # an experiment of another stage (the colour GAN's) with the workspace's metrics file from before the split
    other = _experiment("gan", "root", 85, 0.3, 0.2)
    del other["data"]["metrics"]["reports/metrics/train_full.json"]["data"]["split"]
    experiments = [{"revs": [e]} for e in (*experiments, other, queued)]
    # a running or failed run shows the metrics of the workspace it started from
    experiments += [{"executor": {"state": state}, "revs": [_experiment(state, "root", 85, 0.3, 0.2)]}
                    for state in ("running", "failed")]
    workspace = {"rev": "workspace", "data": {"metrics": {"reports/metrics/train_full.json": {"data": {}}}}}
    return [workspace, {"rev": "abc1234def", "experiments": experiments}]


def test_rows_take_the_full_variants_config_and_skip_unfinished_runs():
    shown = _show(_experiment("b", "squared", 25, 0.6, 0.25), _experiment("a", "root", 50, 0.3, 0.2),
                  _experiment("c", "root", 100, 0.9, 0.45, variants={"full": {"lambda_mi": 80}}))
    rows = experiment_rows(shown)
    assert [(r["experiment"], r["emd_form"], r["lambda_mi"]) for r in rows] == [
        ("a", "root", 50), ("c", "root", 80), ("b", "squared", 25)]
    assert all(list(r) == list(COLUMNS) for r in rows) and rows[0]["threads"] == 1
    assert {(r["split"], r["cpu"], r["emd_reduction"]) for r in rows} == {("validation", "Some CPU", "mean")}
    # a run from before a field existed did what the code then did, and says so; its interval is unknown
    assert {(r["study"], r["flips"], r["rel_mi_src_out_lo"]) for r in rows} == {("calibration", "horizontal", None)}
    assert {r["commit"] for r in rows} == {"abc1234"}


def test_colour_gan_trials_are_the_named_experiments_with_their_share_of_the_way():
    def trial(name: str, steps: int, output: float) -> dict:
        config = {"steps": steps, "lr": 1e-3, "color_weight": 100, "n_critic": 5}
        metrics = {"seconds_per_step": 1.3, "color_distance_source": 0.3, "color_distance_output": output,
                   "grey_ssim": 0.8}
        return {"rev": "abcdef123456", "name": name, "data": {
            "params": {"params.yaml": {"data": {"color_gan": {"config": config}}}},
            "metrics": {"reports/color_gan.json": {"data": metrics}}}}

    shown = _show(trial("cgan-b", 450, 0.12), trial("cgan-a", 250, 0.15), trial("v-root-mi80", 250, 0.2))
    rows = color_gan_rows(shown)
    assert [(r["experiment"], r["steps"], r["fraction_of_the_way"]) for r in rows] == [
        ("cgan-a", 250, 0.5), ("cgan-b", 450, 0.6)]
    assert {r["split"] for r in rows} == {"validation"}


def test_csv_round_trip_keeps_numbers(tmp_path):
    rows = experiment_rows(_show(_experiment("a", "root", 50, 0.3, 0.2)))
    write_csv(rows, tmp_path / "c.csv")
    assert read_csv(tmp_path / "c.csv") == rows


def test_front_and_goal():
    rows = [{"emd_ratio": r, "rel_mi_src_out": m} for r, m in [(0.1, 0.05), (0.4, 0.3), (0.5, 0.2), (0.9, 0.5)]]
    assert [r["emd_ratio"] for r in pareto_front(rows)] == [0.1, 0.4, 0.9]
    assert [meets_goal(r) for r in rows] == [False, True, False, False]
    assert PAPER_POINT == {"emd_ratio": 0.463, "rel_mi_src_out": 0.259}


def _row(lambda_mi: float, seed: int, ratio: float, mi: float, split: str = "validation", **config) -> dict:
    row = {"experiment": f"mi{lambda_mi}-s{seed}-{split}", "commit": "abc1234", "split": split,
           "study": "calibration", "cpu": "Some CPU", "emd_form": "root", "emd_reduction": "mean", "lambda_emd": 100,
           "lambda_mi": lambda_mi, "mi_bins": 32, "flips": "horizontal", "steps": 2000, "lr": 2e-4, "batch_size": 8,
           "width": 32, "depth": 6, "seed": seed, "threads": 1, "eval_pairs": 256, "emd_ratio": ratio,
           "emd_tar_out": ratio * 0.15, "rel_mi_src_out": mi, "rel_mi_src_out_lo": mi - 0.01,
           "rel_mi_src_out_hi": mi + 0.01, "grey_ssim": 0.9}
    return row | config


def test_seed_spread_pools_the_repeated_configs():
    rows = [_row(85, 0, 0.40, 0.20), _row(85, 1, 0.50, 0.24), _row(100, 0, 0.6, 0.3), _row(100, 1, 0.6, 0.3),
            _row(70, 0, 0.1, 0.1)]
    # deviations 0.05 twice for the first pair, zero for the second: sqrt(0.005 / 2 degrees of freedom)
    spread = seed_spread(rows)
    assert spread["emd_ratio"] == pytest.approx(0.05) and spread["rel_mi_src_out"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="second seed"):
        seed_spread([_row(85, 0, 0.4, 0.2), _row(100, 0, 0.6, 0.3)])


def test_choose_takes_the_seed_mean_nearest_the_papers_point_on_validation_only():
    rows = [_row(85, 0, 0.42, 0.24), _row(85, 1, 0.50, 0.28), _row(100, 0, 0.70, 0.35), _row(100, 1, 0.74, 0.37),
            # nearer the paper's point, but scored on test pairs: it chooses nothing
            _row(90, 0, 0.463, 0.259, split="test")]
    pick = choose(rows)
    assert pick.config["lambda_mi"] == 85 and pick.seeds == 2 and not pick.undecided
    assert [c["lambda_mi"] for c, _, _ in pick.finalists] == [85]
    # nor does a run of another study, however near
    assert choose([*rows, _row(90, 0, 0.463, 0.259, study="claims")]) == pick


def test_choose_is_undecided_while_a_close_finalist_has_one_seed():
    rows = [_row(85, 0, 0.42, 0.24), _row(85, 1, 0.50, 0.28), _row(90, 0, 0.47, 0.27)]
    pick = choose(rows)
    # 85's seed mean is nearest, but 90's one run is within a seed spread of it: chance could swap them
    assert pick.config["lambda_mi"] == 85 and [c["lambda_mi"] for c in pick.undecided] == [90]


def test_merge_rows_keeps_old_rows_and_replaces_a_rerun():
    old = [_row(85, 0, 0.4, 0.2, split="test"), _row(85, 0, 0.4, 0.2)]
    new = [_row(85, 0, 0.45, 0.25)]
    merged = merge_rows(old, new)
    assert len(merged) == 2 and {r["emd_ratio"] for r in merged} == {0.4, 0.45}


def test_every_row_says_its_split_cpu_and_reduction():
    rows = read_csv(ROOT / "reports" / "calibration.csv")
    assert list(rows[0]) == list(COLUMNS)
    assert {r["split"] for r in rows} == {"test", "validation"}
    assert all(r["cpu"] and r["emd_reduction"] in ("mean", "sum") for r in rows)
    assert all(r["flips"] in FLIPS and r["study"] in ("calibration", "claims", "cars") for r in rows)
    validation = [r for r in rows if r["split"] == "validation"]
    assert len(validation) >= 10 and {r["eval_pairs"] for r in validation} == {256}
    # the paper's literal loss, both ways round, and the authors' released-code form are on the front
    literal = [r for r in validation if (r["emd_form"], r["emd_reduction"], r["mi_bins"]) == ("squared", "sum", None)]
    assert {(r["lambda_emd"], r["lambda_mi"]) for r in literal} >= {(100, 25), (25, 100)}
    assert any((r["emd_form"], r["emd_reduction"], r["lambda_emd"], r["lambda_mi"]) == ("root", "mean", 100, 1)
               for r in validation)


def test_params_yaml_trains_the_rules_pick_from_the_committed_csv():
    pick = choose(read_csv(ROOT / "reports" / "calibration.csv"))
    config, _ = stage_params(ROOT / "params.yaml", "train", TrainConfig, stage_keys=STAGE_KEYS, variant="full")
    assert not pick.undecided, f"train a second seed of {pick.undecided}"
    assert {k: getattr(config, k) for k in pick.config} == pick.config


@pytest.mark.parametrize("argv", [["--help"], ["-h"]])
def test_the_command_prints_its_usage_and_writes_nothing(argv, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert calibration_main(argv) == 0
    assert "usage: huenet calibration" in capsys.readouterr().out and not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["--colour-gan"], ["a.csv", "b.csv"], ["--pipeline", "a.csv", "b.csv"]])
def test_a_bad_argument_is_one_line_and_writes_nothing(argv, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert calibration_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: huenet calibration") and err.count("\n") == 1 and not list(tmp_path.iterdir())
