"""Where a benchmark's Markdown report goes: its file under ``reports/benchmarks/`` and the terminal; and the block
of a doc that quotes its numbers."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_report", "write_block"]


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (creating its folder), then print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)


def write_block(path: Path, name: str, text: str) -> None:
    """Replace what lies between ``<!-- {name}: written by ... -->`` and ``<!-- end of {name} -->`` in the doc
    ``path`` with ``text``, so that the doc's numbers are the benchmark's latest run.

    Raises:
        ValueError: the doc has no such block.
    """
    doc = path.read_text()
    start, end = doc.find(f"<!-- {name}: written by "), doc.find(f"<!-- end of {name} -->")
    if start < 0 or end < start:
        raise ValueError(f"{path} has no block '<!-- {name}: written by ... -->' ... '<!-- end of {name} -->'")
    start = doc.index("-->", start) + len("-->")
    path.write_text(doc[:start] + "\n\n" + text.strip() + "\n\n" + doc[end:])
