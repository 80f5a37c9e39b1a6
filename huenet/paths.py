"""The project root, found from a folder: where the notebooks' relative paths start.

papermill runs a notebook from the repository root (the pipeline), nbval and Jupyter from ``notebooks/``.
A notebook joins its path parameters (``build/smoke/splits.json``) to :func:`project_root` instead of
changing the working directory, so both ways read and write the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root"]


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds ``pyproject.toml``.

    Raises:
        FileNotFoundError: no folder above ``start`` holds one (run inside the huenet repository).
    """
    start = Path.cwd() if start is None else Path(start).resolve()
    root = next((p for p in (start, *start.parents) if (p / "pyproject.toml").is_file()), None)
    if root is None:
        raise FileNotFoundError(f"no pyproject.toml in or above {start}: run this inside the huenet repository")
    return root
