"""The files that a data stage writes and the other stages read: the split and the image cache of a dataset.

Stage ``data`` (notebook 01) writes the flowers' (``artifacts/``), stage ``data_cars`` (notebook 01b) the cars'
(``artifacts/cars/``); :data:`DATASETS` names the lister of each dataset's images.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from huenet.data import cars, release
from huenet.data.cache import ImageCache, build_cache, load_cache, save_cache
from huenet.data.release import ImageRecord, find_duplicates
from huenet.data.split import Split, make_split, read_splits, write_splits

__all__ = ["DATASETS", "cache_sample", "ensure_data"]

# A dataset's name (its folder under data/) -> the function listing its images from the data root.
DATASETS: dict[str, Callable[[str | os.PathLike], list[ImageRecord]]] = {
    "flowers-102": release.list_images,
    cars.FOLDER: cars.list_images,
}


def cache_sample(records: Sequence[ImageRecord], split: Split, limit: int | None) -> list[ImageRecord]:
    """The images to cache: all of them, or ``limit`` drawn from the three sides of the split.

    The split's order is a seeded shuffle, so its heads are random samples of
    each side; test gets ``test_fraction`` of them and validation its fraction
    of the rest (at least 2 each).
    """
    if not limit or limit >= len(records):
        return list(records)
    n_test = max(2, round(limit * split.test_fraction))
    n_validation = max(2, round((limit - n_test) * split.validation_fraction))
    sample = set(split.train[: limit - n_test - n_validation] + split.validation[:n_validation]
                 + split.test[:n_test])
    return [r for r in records if r.name in sample]


def ensure_data(
    splits_path: str | os.PathLike,
    cache_path: str | os.PathLike,
    *,
    data_root: str | os.PathLike = "data",
    limit: int | None = 200,
    seed: int = 0,
    test_fraction: float = 0.1,
    validation_fraction: float = 0.1,
    load_size: int = 72,
    dataset: str = "flowers-102",
) -> tuple[Split, ImageCache]:
    """The split and image cache that a data stage writes, the split cut down to the cached images.

    In the pipeline both files exist (stage ``data`` or ``data_cars``) and are only read. A
    notebook run on its own at smoke scale finds them missing and builds them
    here the way its data notebook does, from ``limit`` images of ``dataset`` (a key of :data:`DATASETS`).

    Returns:
        ``(split, cache)`` with every name of ``split`` in ``cache``.
    """
    splits_path, cache_path = Path(splits_path), Path(cache_path)
    if not (splits_path.is_file() and cache_path.is_file()):
        records = DATASETS[dataset](data_root)
        split = make_split([r.name for r in records], seed, test_fraction, find_duplicates(records),
                           validation_fraction)
        write_splits(split, splits_path)
        save_cache(build_cache(cache_sample(records, split, limit), load_size), cache_path)
    split, cache = read_splits(splits_path), load_cache(cache_path)
    cached = set(cache.names)
    split = dataclasses.replace(split, **{side: tuple(n for n in getattr(split, side) if n in cached)
                                          for side in ("train", "validation", "test")})
    return split, cache
