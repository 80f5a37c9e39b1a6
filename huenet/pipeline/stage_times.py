"""How long each pipeline stage took, from the executed notebooks papermill wrote and the train stage's report.

Papermill records each run's start, end and duration in the executed notebook's
metadata, so the times come from the same run as the results beside them. Stages
``train`` and ``train_cars`` run no notebook: their wall time and CPU use are in ``reports/train_runs.json`` and
``reports/cars/train_runs.json`` (:mod:`huenet.pipeline.launch`). ``huenet times`` writes ``reports/stage_times.md``.

>>> rows = [{"notebook": "01-data.ipynb", "seconds": 42.0, "end": "2026-11-29T22:00:00"},
...         {"notebook": "03-train-full.ipynb", "seconds": 600.0, "end": "2026-11-29T22:10:42"}]
>>> print(times_table(rows).splitlines()[-1])
| total | 10.7 |
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from huenet.pipeline.machine import cpu_name

__all__ = ["stage_times", "times_table", "main"]


def stage_times(folder: str | os.PathLike) -> list[dict]:
    """``{"notebook", "seconds", "end"}`` of every executed notebook in ``folder``, in name order."""
    rows = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill") or {}
        if meta.get("duration") is not None:
            rows.append({"notebook": path.name, "seconds": float(meta["duration"]), "end": meta.get("end_time", "")})
    return rows


def launcher_row(report: str | os.PathLike, stage: str = "train") -> dict | None:
    """A training stage's row from :mod:`huenet.pipeline.launch`'s report, or None where there is none.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "runs.json"
    >>> _ = path.write_text('{"wall_minutes": 26.5, "cpu_over_wall": 1.93, "runs": {"a": {}, "b": {}}, '
    ...                     '"finished_before": ["c"]}')
    >>> launcher_row(path)["notebook"]
    'train: huenet.pipeline.launch, 2 runs trained, 1 kept (CPU time / wall time 1.93)'
    """
    path = Path(report)
    if not path.is_file():
        return None
    runs = json.loads(path.read_text())
    name = (f"{stage}: huenet.pipeline.launch, {len(runs['runs'])} runs trained, {len(runs['finished_before'])} kept "
            f"(CPU time / wall time {runs['cpu_over_wall']})")
    return {"notebook": name,
            "seconds": 60.0 * runs["wall_minutes"], "end": ""}


def times_table(rows: Sequence[dict]) -> str:
    """A Markdown table of minutes per notebook and their total."""
    lines = ["| notebook (stage) | minutes |", "| --- | ---: |"]
    lines += [f"| {r['notebook']} | {r['seconds'] / 60:.1f} |" for r in rows]
    lines.append(f"| total | {sum(r['seconds'] for r in rows) / 60:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    """``huenet times [NOTEBOOKS [OUT]]``: reports/notebooks -> reports/stage_times.md."""
    args = list(argv)
    usage = "usage: huenet times [NOTEBOOKS [OUT]]   (default: reports/notebooks reports/stage_times.md)"
    if args[:1] in (["-h"], ["--help"]):
        print(usage)
        return 0
    if len(args) > 2 or any(a.startswith("-") for a in args):
        print(usage, file=sys.stderr)
        return 2
    folder = Path(args[0] if args else "reports/notebooks")
    out = Path(args[1] if len(args) > 1 else "reports/stage_times.md")
    rows = stage_times(folder)
    launched = [row for row in (launcher_row(folder.parent / "train_runs.json"),
                                launcher_row(folder.parent / "cars" / "train_runs.json", "train_cars")) if row]
    if not rows:
        print(f"no notebook executed by papermill in {folder}", file=sys.stderr)
        return 1
    text = "\n".join([
        "# Pipeline stage times",
        "",
        f"From the papermill metadata of the executed notebooks in `{folder}` (each stage but the two training "
        f"stages runs one notebook; the last ended {max(r['end'] for r in rows)[:19]} UTC) and, for `train` and "
        f"`train_cars`, `{folder.parent / 'train_runs.json'}` and `{folder.parent / 'cars' / 'train_runs.json'}`. "
        f"Machine: {cpu_name()}, {os.cpu_count()} cores. The total leaves out DVC's own work between stages (the "
        "data's pull, hashing, checkouts). Written by `huenet times`.",
        "",
        times_table(launched + rows),
        "",
    ])
    out.write_text(text)
    print(text)
    return 0
