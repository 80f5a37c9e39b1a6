"""reports/calibration.csv: rows from `dvc exp show --json`, the front and the goal."""

from __future__ import annotations

from huenet.calibration import (
    COLUMNS,
    PAPER_POINT,
    experiment_rows,
    meets_goal,
    pareto_front,
    read_csv,
    runs_of,
    write_csv,
)


def _experiment(name: str, form: str, lambda_mi: float, ratio: float, mi: float, variants=None) -> dict:
    config = {"emd_form": form, "emd_reduction": "mean", "lambda_emd": 100, "lambda_mi": lambda_mi, "mi_bins": None, "steps": 2000, "lr": 2e-4,
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
    workspace = {"rev": "workspace", "data": {"metrics": {"reports/metrics/train_full.json": {"data": {}}}}}
    return [workspace, {"rev": "abc1234def", "experiments": [{"revs": [e]} for e in (*experiments, queued)]}]


def test_rows_take_the_full_variants_config_and_skip_unfinished_runs():
    shown = _show(_experiment("b", "squared", 25, 0.6, 0.25), _experiment("a", "root", 50, 0.3, 0.2),
                  _experiment("c", "root", 100, 0.9, 0.45, variants={"full": {"lambda_mi": 80}}))
    rows = experiment_rows(shown)
    assert [(r["experiment"], r["emd_form"], r["lambda_mi"]) for r in rows] == [
        ("a", "root", 50), ("c", "root", 80), ("b", "squared", 25)]
    assert all(list(r) == list(COLUMNS) for r in rows) and rows[0]["threads"] == 1
    assert {(r["split"], r["cpu"], r["emd_reduction"]) for r in rows} == {("validation", "Some CPU", "mean")}
    assert {r["commit"] for r in rows} == {"abc1234"}


def test_csv_round_trip_keeps_numbers(tmp_path):
    rows = experiment_rows(_show(_experiment("a", "root", 50, 0.3, 0.2)))
    write_csv(rows, tmp_path / "c.csv")
    assert read_csv(tmp_path / "c.csv") == rows


def test_front_and_goal():
    rows = [{"emd_ratio": r, "rel_mi_src_out": m} for r, m in [(0.1, 0.05), (0.4, 0.3), (0.5, 0.2), (0.9, 0.5)]]
    assert [r["emd_ratio"] for r in pareto_front(rows)] == [0.1, 0.4, 0.9]
    assert [meets_goal(r) for r in rows] == [False, True, False, False]
    assert PAPER_POINT == {"emd_ratio": 0.463, "rel_mi_src_out": 0.259}


def test_runs_of_a_config_match_every_config_column():
    from huenet.train import TrainConfig

    config = TrainConfig(width=32, depth=6, batch_size=8, steps=2000, emd_form="root", lambda_mi=50)
    rows = experiment_rows(_show(_experiment("a", "root", 50, 0.3, 0.2), _experiment("b", "root", 0, 0.1, 0.1),
                                 _experiment("c", "squared", 50, 0.4, 0.3)))
    assert [r["experiment"] for r in runs_of(rows, config)] == ["a"]
    assert [r["experiment"] for r in runs_of(rows, config, lambda_mi=0)] == ["b"]
