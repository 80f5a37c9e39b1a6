"""Rules that turn scores into the comparative words of a notebook's conclusion.

A notebook says "lands further from the target" or "does too little" only where one of these rules, applied
to the numbers above it, says so; each rule is unit-tested (``tests/test_compare.py``).

>>> order([0.10, 0.12, 0.11], [0.20, 0.21, 0.19], n_boot=200)
'lower'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from huenet.eval.metrics import bootstrap_ci

__all__ = ["Order", "best", "halfway", "order", "order_words"]

Order = Literal["lower", "higher", "level"]


def order(a: ArrayLike, b: ArrayLike, *, n_boot: int = 2000, seed: int = 0) -> Order:
    """How per-pair scores ``a`` compare with ``b`` on the same pairs: ``(N,)`` each.

    "lower" or "higher" when the 95% percentile-bootstrap interval of the mean paired difference ``a - b``
    excludes 0, "level" when it does not: a difference the pairs cannot tell from none is not a result.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same shape, got {a.shape} and {b.shape}")
    _, low, high = bootstrap_ci(a - b, n_boot=n_boot, seed=seed)
    return "lower" if high < 0 else "higher" if low > 0 else "level"


def order_words(relation: Order, lower: str, higher: str, level: str) -> str:
    """The phrase for ``relation``: e.g. ``order_words(order(emd_a, emd_b), "closer to", "further from", ...)``."""
    return {"lower": lower, "higher": higher, "level": level}[relation]


def best(means: Mapping[str, float], *, lower_is_better: bool = True) -> str:
    """The key with the lowest (or highest) mean.

    >>> best({"a": 0.2, "b": 0.1})
    'b'
    """
    if not means:
        raise ValueError("no means to compare")
    pick = min if lower_is_better else max
    return pick(means, key=means.__getitem__)


def halfway(before: float, after: float) -> bool:
    """Whether a method moved a distance at least half of the way to its goal: ``after <= before / 2``.

    The rule of Soiffer & Zhang's colour GAN: it "reaches half way" when the output's colour distance to the
    target colour is at most half of the source's; below that it does too little.
    """
    if before <= 0:
        raise ValueError(f"the distance before must be positive, got {before}")
    return after <= before / 2
