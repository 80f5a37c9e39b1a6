"""Where a benchmark's Markdown report goes: its file under ``reports/benchmarks/`` and the terminal."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_report"]


def write_report(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (creating its folder), then print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
