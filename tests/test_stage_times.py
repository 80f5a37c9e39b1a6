"""``huenet times``: every stage's minutes, the two training stages' from their launcher reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from huenet.pipeline.stage_times import main


def _launch_report(path: Path, minutes: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"wall_minutes": minutes, "cpu_over_wall": 1.9, "runs": {"full": {}},
                                "finished_before": []}))


def test_both_training_stages_and_every_notebook_count_in_the_total(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    notebooks = tmp_path / "reports" / "notebooks"
    notebooks.mkdir(parents=True)
    (notebooks / "05-table1.ipynb").write_text(json.dumps(
        {"metadata": {"papermill": {"duration": 120.0, "end_time": "2026-12-05T20:00:00"}}}))
    _launch_report(tmp_path / "reports" / "train_runs.json", 12.0)
    _launch_report(tmp_path / "reports" / "cars" / "train_runs.json", 6.0)
    out = tmp_path / "times.md"
    assert main([str(notebooks), str(out)]) == 0
    text = out.read_text()
    assert "| train: huenet.pipeline.launch" in text and "| train_cars: huenet.pipeline.launch" in text
    assert text.rstrip().endswith("| total | 20.0 |")
