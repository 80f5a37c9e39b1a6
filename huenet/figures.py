"""Saving the notebooks' figures: one place decides the folder, the resolution and the cropping.

Matplotlib is not imported here: the figure is passed in, so importing this module costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["save_figure"]


def save_figure(fig: Any, figures_dir: str | os.PathLike | None, name: str, *, dpi: int = 110) -> Path | None:
    """Write ``fig`` (a matplotlib Figure) to ``figures_dir/name``, creating the folder; None or "" skips it.

    A notebook run interactively (or by nbval) passes no folder and writes nothing, so the files that
    ``dvc.yaml`` lists come only from the pipeline's runs.

    >>> save_figure(object(), None, "unused.png") is None
    True
    """
    if not figures_dir:
        return None
    path = Path(figures_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
