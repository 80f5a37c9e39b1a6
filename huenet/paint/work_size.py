"""Choosing the working size at which ``huenet.transfer`` runs a learned method on a photo.

The network was trained and validated at its training scale (64 px crops of images resized to 72 px); on a
photo it runs at a working size and its change is lifted to full resolution (:mod:`huenet.paint.upsample`). The
working size is a choice, scored on photos at their native size with the calibration's two numbers (the EMD
ratio W1(target, output) / W1(target, source) and the relative MI of output and source), and chosen by
:func:`pick_work_size`: the size at which the network on photos behaves most like the network its training
stage validated (``reports/metrics/train_full.json``, scored on validation pairs), so that the numbers
reported for the model are the numbers of what the command does.

>>> rows = [{"work_size": 64, "emd_ratio": 0.40, "rel_mi_src_out": 0.20},
...         {"work_size": 128, "emd_ratio": 0.35, "rel_mi_src_out": 0.24}]
>>> pick_work_size(rows, (0.34, 0.25))
128
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["pick_work_size", "distance_to"]


def distance_to(row: Mapping, reference: tuple[float, float]) -> float:
    """Euclidean distance of a row's (EMD ratio, relative MI) from ``reference`` in that plane."""
    return math.hypot(row["emd_ratio"] - reference[0], row["rel_mi_src_out"] - reference[1])


def pick_work_size(rows: Sequence[Mapping], reference: tuple[float, float]) -> int | None:
    """The ``work_size`` of the row nearest ``reference`` (the model's validated EMD ratio and relative MI);
    of rows equally near, the smaller size (it is faster). ``None`` stands for the photo's own size.

    Raises:
        ValueError: no rows.
    """
    if not rows:
        raise ValueError("no working sizes to choose from")

    def key(row: Mapping) -> tuple[float, float]:
        size = row["work_size"]
        return round(distance_to(row, reference), 12), math.inf if size is None else size

    return min(rows, key=key)["work_size"]
