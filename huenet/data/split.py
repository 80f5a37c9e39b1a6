"""The train/test split of the image names, and its JSON file (``splits.json``).

All images sorted by name, shuffled with a fixed seed, the first 90% train, the
rest test. Byte-identical images (the release has 4 pairs) are kept together: a
group goes to the side of its member that comes first in the shuffled order, so
no image is in training while its copy is tested.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from huenet.data import DataError
from huenet.files import atomic_write

__all__ = ["Split", "make_split", "write_splits", "read_splits"]


@dataclass(frozen=True)
class Split:
    """The train/test split of the image names.

    Attributes:
        train, test: image names, in the shuffled order.
        seed, test_fraction: what made it.
        duplicates: the byte-identical groups it kept together.
    """

    train: tuple[str, ...]
    test: tuple[str, ...]
    seed: int
    test_fraction: float
    duplicates: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "n_train": len(self.train),
            "n_test": len(self.test),
            "duplicates": [list(g) for g in self.duplicates],
            "train": list(self.train),
            "test": list(self.test),
        }


def make_split(
    names: Sequence[str],
    seed: int,
    test_fraction: float = 0.1,
    duplicates: Iterable[Sequence[str]] = (),
) -> Split:
    """Sort, shuffle with ``seed``, cut into train and test; keep duplicate groups on one side.

    Args:
        names: the image names (any order; they are sorted first, so the
            split depends only on the set of names and the seed).
        seed: the shuffle's seed.
        test_fraction: share of images in test, in ``(0, 1)``; the train set
            gets ``floor((1 - test_fraction) * N)`` images before duplicates move.
        duplicates: groups of names that must stay on one side. A group that
            the cut separates joins the side of its member that comes first in
            the shuffled order, so each side may change by a few images.

    Returns:
        The split; the same arguments always give the same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    ordered = sorted(names)
    if len(set(ordered)) != len(ordered):
        raise ValueError("names must be unique")
    if len(ordered) < 2:
        raise ValueError(f"need at least 2 names, got {len(ordered)}")
    # A torch generator, not Python's `random`, so the permutation is pinned by the torch version in pyproject.
    perm = torch.randperm(len(ordered), generator=torch.Generator().manual_seed(seed)).tolist()
    shuffled = [ordered[i] for i in perm]
    # (+1e-9: 0.9 * 10 is 8.999... in floating point; both sides keep at least one image)
    n_train = min(max(math.floor((1.0 - test_fraction) * len(ordered) + 1e-9), 1), len(ordered) - 1)
    side = {name: ("train" if i < n_train else "test") for i, name in enumerate(shuffled)}
    position = {name: i for i, name in enumerate(shuffled)}

    groups = tuple(tuple(sorted(g)) for g in duplicates)
    for group in groups:
        unknown = [n for n in group if n not in side]
        if unknown:
            raise ValueError(f"duplicate group names unknown images: {unknown}")
        first = min(group, key=position.__getitem__)
        for name in group:
            side[name] = side[first]

    train = tuple(n for n in shuffled if side[n] == "train")
    test = tuple(n for n in shuffled if side[n] == "test")
    return Split(train=train, test=test, seed=seed, test_fraction=test_fraction, duplicates=tuple(sorted(groups)))


def write_splits(split: Split, path: str | os.PathLike) -> None:
    """Write the split as JSON (atomically)."""
    text = json.dumps(split.to_dict(), indent=1) + "\n"
    atomic_write(Path(path), lambda p: p.write_text(text))


def read_splits(path: str | os.PathLike) -> Split:
    """Read a split written by :func:`write_splits`.

    Raises:
        DataError: the file is missing (run notebook 01 / ``dvc repro data``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run `dvc repro data` (notebook 01) to write it")
    d = json.loads(path.read_text())
    return Split(
        train=tuple(d["train"]),
        test=tuple(d["test"]),
        seed=int(d["seed"]),
        test_fraction=float(d["test_fraction"]),
        duplicates=tuple(tuple(g) for g in d["duplicates"]),
    )
