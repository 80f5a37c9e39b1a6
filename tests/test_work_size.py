import csv
from pathlib import Path

import pytest

from huenet.paint.api import DEFAULT_WORK_SIZE
from huenet.paint.work_size import pick_work_size

ROOT = Path(__file__).resolve().parents[1]


def test_the_pick_is_the_nearest_row_and_ties_go_to_the_smaller_size():
    rows = [{"work_size": None, "emd_ratio": 0.3, "rel_mi_src_out": 0.2},
            {"work_size": 96, "emd_ratio": 0.3, "rel_mi_src_out": 0.3},
            {"work_size": 64, "emd_ratio": 0.3, "rel_mi_src_out": 0.2}]
    assert pick_work_size(rows, (0.3, 0.2)) == 64
    assert pick_work_size(rows, (0.3, 0.29)) == 96
    assert pick_work_size(rows[:1], (0.3, 0.29)) is None
    with pytest.raises(ValueError):
        pick_work_size([], (0.3, 0.2))


def test_the_default_work_size_is_the_pick_of_the_committed_table():
    table = ROOT / "reports" / "work_size.csv"
    if not table.is_file():
        pytest.fail("reports/work_size.csv is missing: run python benchmarks/bench_work_size.py")
    with table.open() as f:
        rows = [{**r, "work_size": None if r["work_size"] == "native" else int(r["work_size"]),
                 "emd_ratio": float(r["emd_ratio"]), "rel_mi_src_out": float(r["rel_mi_src_out"])}
                for r in csv.DictReader(f)]
    reference = {(float(r["reference_emd_ratio"]), float(r["reference_rel_mi"])) for r in rows}
    assert len(reference) == 1, "one table, one reference point"
    assert DEFAULT_WORK_SIZE == pick_work_size(rows, reference.pop())
