"""The paper's third dataset: Stanford Cars (Krause et al. 2013, the paper's ref. [11]), the subset of the mirror.

``data/stanford-cars/`` holds 2,500 images of the official training set (``cars_train/01001.jpg`` to
``03500.jpg`` by name), each resized to a shorter side of 256 px like the flowers, and ``labels.csv`` with the
196 classes (``file,class_id,class_name``, class ids 1-196). torchvision's ``StanfordCars`` needs the devkit's
bounding-box file, which the mirror lacks, so the folder is read directly. The images are wide (about 2:1); the
cache's square centre crop cuts the ends of most cars (``docs/deviations.md``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from huenet.data import DataError
from huenet.data.release import ImageRecord

__all__ = ["FOLDER", "N_IMAGES", "N_CLASSES", "list_images", "class_names"]

FOLDER = "stanford-cars"
N_IMAGES = 2500
N_CLASSES = 196
_HOW_TO_GET = "run `dvc pull data.dvc` (the mirror's data.dvc holds both datasets)"


def _rows(root: Path) -> list[dict[str, str]]:
    labels = root / FOLDER / "labels.csv"
    if not labels.is_file():
        raise DataError(f"{labels} is missing; {_HOW_TO_GET}")
    with labels.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or set(rows[0]) != {"file", "class_id", "class_name"}:
        raise DataError(f"{labels} is not the mirror's labels file (file,class_id,class_name); {_HOW_TO_GET}")
    return rows


def list_images(root: str | os.PathLike = "data") -> list[ImageRecord]:
    """The subset's images, sorted by name, with class labels in ``[0, 196)`` (the ids minus one).

    Raises:
        DataError: the folder or ``labels.csv`` is missing, does not list :data:`N_IMAGES` images, or image files
            are missing.
    """
    root = Path(root)
    rows = _rows(root)
    records = sorted((ImageRecord(name=r["file"], path=root / FOLDER / "cars_train" / r["file"],
                                  label=int(r["class_id"]) - 1) for r in rows), key=lambda r: r.name)
    if len({r.name for r in records}) != N_IMAGES:
        raise DataError(f"{root / FOLDER / 'labels.csv'} lists {len(records)} images, expected {N_IMAGES}; "
                        f"{_HOW_TO_GET}")
    if not all(0 <= r.label < N_CLASSES for r in records):
        raise DataError(f"{root / FOLDER / 'labels.csv'} has class ids outside 1-{N_CLASSES}")
    missing = [r.name for r in records if not r.path.is_file()]
    if missing:
        raise DataError(f"{root / FOLDER / 'cars_train'} lacks {len(missing)} of {N_IMAGES} images "
                        f"(first: {missing[0]}); {_HOW_TO_GET}")
    return records


def class_names(root: str | os.PathLike = "data") -> dict[int, str]:
    """Label (``[0, 196)``) -> the class's name, e.g. ``"Bentley Continental GT Coupe 2007"``."""
    return {int(r["class_id"]) - 1: r["class_name"] for r in _rows(Path(root))}
