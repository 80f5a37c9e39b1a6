"""The notebooks' figures: one place decides the folder, the resolution and the cropping, and the grids they share.

Matplotlib is imported only inside the function that draws: importing this module costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from torch import Tensor

__all__ = ["figure6", "save_figure"]


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


def figure6(source: Tensor, target: Tensor, outputs: Mapping[str, Tensor], labels: Mapping[str, str] | None = None,
            rows: Sequence[int] | None = None) -> Figure:
    """The paper's Figure 6 grid: a row per pair; source, target, then each method's output.

    Args:
        source, target: ``(N, 3, H, W)`` RGB in [0, 1].
        outputs: method name -> ``(n, 3, H, W)`` RGB outputs of the first ``n`` pairs, ``n`` above every row.
        labels: method name -> column title (:func:`huenet.eval.evaluate.labels`); a name without one is its title.
        rows: the pairs shown, all by default.
    """
    import matplotlib.pyplot as plt  # a dev extra: only drawing needs it, not the rest of the report

    rows = list(range(source.shape[0])) if rows is None else list(rows)
    labels = dict(labels or {})
    columns = [("source", source), ("target", target)] + [(labels.get(k, k), v) for k, v in outputs.items()]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.6 * len(columns), 1.6 * len(rows)), squeeze=False)
    for i, r in enumerate(rows):
        for j, (title, images) in enumerate(columns):
            ax = axes[i, j]
            ax.imshow(images[r].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=9)
            if j == 0:
                ax.set_ylabel(str(i + 1))
    fig.tight_layout()
    return fig
