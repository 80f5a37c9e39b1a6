"""How long each pipeline stage took, from the executed notebooks papermill wrote.

Papermill records each run's start, end and duration in the executed notebook's
metadata, so the times come from the same run as the results beside them.
``python -m huenet.stage_times`` writes ``reports/stage_times.md``.

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

from huenet.machine import cpu_name

__all__ = ["stage_times", "times_table", "main"]


def stage_times(folder: str | os.PathLike) -> list[dict]:
    """``{"notebook", "seconds", "end"}`` of every executed notebook in ``folder``, in name order."""
    rows = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        meta = json.loads(path.read_text()).get("metadata", {}).get("papermill") or {}
        if meta.get("duration") is not None:
            rows.append({"notebook": path.name, "seconds": float(meta["duration"]), "end": meta.get("end_time", "")})
    return rows


def times_table(rows: Sequence[dict]) -> str:
    """A Markdown table of minutes per notebook and their total."""
    lines = ["| notebook (stage) | minutes |", "| --- | ---: |"]
    lines += [f"| {r['notebook']} | {r['seconds'] / 60:.1f} |" for r in rows]
    lines.append(f"| total | {sum(r['seconds'] for r in rows) / 60:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m huenet.stage_times [NOTEBOOKS [OUT]]``: reports/notebooks -> reports/stage_times.md."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0] if args else "reports/notebooks")
    out = Path(args[1] if len(args) > 1 else "reports/stage_times.md")
    rows = stage_times(folder)
    if not rows:
        print(f"no notebook executed by papermill in {folder}", file=sys.stderr)
        return 1
    text = "\n".join([
        "# Pipeline stage times",
        "",
        f"From the papermill metadata of the executed notebooks in `{folder}` (each stage runs one notebook; "
        f"the last ended {max(r['end'] for r in rows)[:19]} UTC). Machine: {cpu_name()}, {os.cpu_count()} cores. "
        "Written by `python -m huenet.stage_times`.",
        "",
        times_table(rows),
        "",
    ])
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
