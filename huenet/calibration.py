"""The loss-weight calibration: ``reports/calibration.csv`` from DVC experiments, and its front.

Each sweep point is a DVC experiment of the ``train@full`` stage (``dvc exp run
--queue train@full -S train.config.lambda_mi=...``). Its held-out numbers
(``reports/metrics/train_full.json``) and its ``train`` params become one row.
``emd_ratio`` is W1(target, output) / W1(target, source) on the held-out
pairs: below 1 when the output's hues are closer to the target's than the
source's are. ``python -m huenet.calibration`` reads ``dvc exp show --json --all-commits``
and writes the csv.

>>> rows = [{"emd_ratio": 0.3, "rel_mi_src_out": 0.2}, {"emd_ratio": 0.4, "rel_mi_src_out": 0.3},
...         {"emd_ratio": 0.5, "rel_mi_src_out": 0.25}]
>>> [r["emd_ratio"] for r in pareto_front(rows)]
[0.3, 0.4]
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from huenet.report import PAPER_MEANS

__all__ = ["COLUMNS", "PAPER_POINT", "experiment_rows", "runs_of", "pareto_front", "meets_goal", "write_csv",
           "read_csv", "main"]

METRICS_FILE = "reports/metrics/train_full.json"
CONFIG_COLUMNS = ("emd_form", "lambda_emd", "lambda_mi", "mi_bins", "steps", "lr", "batch_size", "width", "depth",
                  "seed")
# commit: the code the experiment ran on (its baseline), since the code, not only the params, defines a run
COLUMNS = ("experiment", "commit", *CONFIG_COLUMNS, "threads", "eval_pairs", "emd_ratio", "emd_tar_out",
           "rel_mi_src_out", "grey_ssim")
# The paper's Table 1 means (Figure 6's seven pairs) as one point: EMD TAR-OUT / TAR-SRC and MI SRC-OUT.
PAPER_POINT = {"emd_ratio": round(PAPER_MEANS["emd_tar_out"] / PAPER_MEANS["emd_tar_src"], 3),
               "rel_mi_src_out": PAPER_MEANS["rel_mi_src_out"]}


def _entries(exp_show: Sequence[Mapping]) -> Iterator[tuple[str, Mapping]]:
    """Every experiment of ``dvc exp show --json`` (DVC 3) with its baseline commit (7 characters)."""
    for baseline in exp_show:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                yield baseline.get("rev", "")[:7], rev


def experiment_rows(exp_show: Sequence[Mapping], metrics_file: str = METRICS_FILE) -> list[dict[str, Any]]:
    """One row (``COLUMNS``) per finished experiment that wrote ``metrics_file``, sorted by form and weights."""
    rows = []
    for commit, rev in _entries(exp_show):
        data = rev.get("data") or {}
        metrics = ((data.get("metrics") or {}).get(metrics_file) or {}).get("data")
        params = (((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}).get("train")
        if not metrics or not params:
            continue
        config = {**params["config"], **((params.get("variants") or {}).get("full") or {})}
        row = {"experiment": rev.get("name") or rev.get("rev", "")[:7], "commit": commit}
        row |= {key: config.get(key) for key in CONFIG_COLUMNS}  # a field added since a run: its default, None
        row |= {"threads": params.get("threads"), "eval_pairs": params.get("eval_pairs")}
        row |= {key: metrics[key] for key in COLUMNS[-4:]}
        rows.append(row)
    return sorted(rows, key=lambda r: (r["emd_form"], r["mi_bins"] or 0, r["lambda_emd"], r["steps"], r["seed"] or 0,
                                       r["lambda_mi"]))


def runs_of(rows: Iterable[Mapping[str, Any]], config: object, **changes: Any) -> list[Mapping[str, Any]]:
    """The rows trained with ``config`` (a ``TrainConfig``), with ``changes`` to its fields, on every config column."""
    return [r for r in rows if all(r[k] == changes.get(k, getattr(config, k)) for k in CONFIG_COLUMNS)]


def pareto_front(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows no other row beats on both axes (lower ``emd_ratio``, higher ``rel_mi_src_out``), by ratio."""
    rows = list(rows)

    def beaten(r: Mapping) -> bool:
        return any(o["emd_ratio"] <= r["emd_ratio"] and o["rel_mi_src_out"] >= r["rel_mi_src_out"]
                   and (o["emd_ratio"], o["rel_mi_src_out"]) != (r["emd_ratio"], r["rel_mi_src_out"]) for o in rows)

    return sorted((r for r in rows if not beaten(r)), key=lambda r: r["emd_ratio"])


def meets_goal(row: Mapping[str, Any], point: Mapping[str, float] = PAPER_POINT) -> bool:
    """At least as good as ``point`` (the paper's) on both axes."""
    return row["emd_ratio"] <= point["emd_ratio"] and row["rel_mi_src_out"] >= point["rel_mi_src_out"]


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The csv's rows with numbers as numbers and empty cells as None."""

    def number(text: str) -> Any:
        if text == "":
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline="") as f:
        return [{k: number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m huenet.calibration [OUT]``: the finished experiments' rows into OUT (reports/calibration.csv)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "reports/calibration.csv")
    shown = subprocess.run(["dvc", "exp", "show", "--json", "--all-commits"], capture_output=True, text=True)
    if shown.returncode != 0:  # e.g. a queued run holds DVC's lock for a moment: try again
        print(f"dvc exp show failed: {(shown.stderr.strip().splitlines() or ['no message'])[-1]}", file=sys.stderr)
        return 1
    rows = experiment_rows(json.loads(shown.stdout))
    if not rows:
        print("no finished experiment has written " + METRICS_FILE, file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out)
    print(f"{len(rows)} experiments -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
