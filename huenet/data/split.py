"""The train/validation/test split of the image names, and its JSON file (``splits.json``).

All images sorted by name, shuffled with a fixed seed, the first 90% train, the
rest test; the last ``validation_fraction`` of the training side (in the same
shuffled order) is then set apart as validation, so the test list does not
depend on it. Every choice (loss weights, steps, working size) is scored on
validation pairs; test pairs are for the final tables only. Byte-identical
images (the release has 4 pairs) are kept together: a group goes to the side of
its member that comes first in the shuffled order, so no image is in training
while its copy is scored.
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
    """The train/validation/test split of the image names.

    Attributes:
        train, validation, test: image names, in the shuffled order; disjoint.
        seed, test_fraction, validation_fraction: what made it (the validation
            share is of the images left after the test cut).
        duplicates: the byte-identical groups it kept together.
    """

    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]
    seed: int
    test_fraction: float
    validation_fraction: float
    duplicates: tuple[tuple[str, ...], ...] = ()

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "validation_fraction": self.validation_fraction,
            "n_train": len(self.train),
            "n_validation": len(self.validation),
            "n_test": len(self.test),
            "duplicates": [list(g) for g in self.duplicates],
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
        }


def make_split(
    names: Sequence[str],
    seed: int,
    test_fraction: float = 0.1,
    duplicates: Iterable[Sequence[str]] = (),
    validation_fraction: float = 0.1,
) -> Split:
    """Sort, shuffle with ``seed``, cut into train, validation and test; keep duplicate groups on one side.

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
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
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
    _keep_together(side, groups, position)

    # The validation cut runs on the training side as it stands after the test cut, so it moves no test image.
    kept = [n for n in shuffled if side[n] == "train"]
    n_validation = min(round(validation_fraction * len(kept)), len(kept) - 1)
    for name in kept[len(kept) - n_validation:]:
        side[name] = "validation"
    _keep_together(side, [g for g in groups if side[g[0]] != "test"], position)

    def names_on(which: str) -> tuple[str, ...]:
        return tuple(n for n in shuffled if side[n] == which)

    return Split(train=names_on("train"), validation=names_on("validation"), test=names_on("test"), seed=seed,
                 test_fraction=test_fraction, validation_fraction=validation_fraction,
                 duplicates=tuple(sorted(groups)))


def _keep_together(side: dict[str, str], groups: Iterable[Sequence[str]], position: dict[str, int]) -> None:
    """Move each group to the side of its member that comes first in the shuffled order (in place)."""
    for group in groups:
        first = min(group, key=position.__getitem__)
        for name in group:
            side[name] = side[first]


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
        validation=tuple(d["validation"]),
        test=tuple(d["test"]),
        seed=int(d["seed"]),
        test_fraction=float(d["test_fraction"]),
        validation_fraction=float(d["validation_fraction"]),
        duplicates=tuple(tuple(g) for g in d["duplicates"]),
    )
