"""The release: the list of Oxford 102 Flowers images, decoding one, and finding byte-identical ones.

The images are read through the real ``torchvision.datasets.Flowers102`` class
(``download=False``), which checks the md5 sums of the two ``.mat`` files; where
``data.dvc`` tracks the folder, the md5 of every file is checked against its record
(:mod:`huenet.data.tracked`) before any image is decoded. Its
``train``/``val``/``test`` splits together hold all 8189 images; the project
does not use the official split (``docs/data.md`` says why).

Where no copy of the DVC remote is at hand, :func:`download` fetches the
official release with the same torchvision class (it needs internet).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from torchvision.datasets import Flowers102
from torchvision.datasets.folder import default_loader

from huenet.data import DataError
from huenet.data.tracked import md5_of, verify_folder

__all__ = [
    "ImageRecord",
    "N_IMAGES",
    "N_CLASSES",
    "MAT_MD5",
    "download",
    "list_images",
    "load_image",
    "file_digest",
    "find_duplicates",
]

N_IMAGES = 8189
N_CLASSES = 102
# The md5 sums of the release's label and split files (torchvision checks the same ones).
MAT_MD5 = {"imagelabels.mat": "e0620be6f572b9609742df49c70aed4d", "setid.mat": "a5357ecc9cb78c4bef273ce3793fc85c"}
_TORCHVISION_SPLITS = ("train", "val", "test")
_HOW_TO_GET = ("run `dvc pull` (or, where there is internet, "
               "`python -c \"import huenet.data.release as r; r.download('data')\"`)")


@dataclass(frozen=True)
class ImageRecord:
    """One image of the release.

    Attributes:
        name: file name, e.g. ``"image_00001.jpg"``; unique, and the sort key.
        path: path of the JPEG file.
        label: class index in ``[0, 102)`` (the release's labels minus one).
    """

    name: str
    path: Path
    label: int


def download(root: str | os.PathLike = "data") -> None:
    """Fetch the official release into ``root/flowers-102`` (needs internet; not used by the pipeline).

    The project's copy comes from the DVC remote (``dvc pull``); this helper is
    for people without it. The official images are full size, while the remote's
    were resized to a shorter side of 256 px, so caches and results may differ a
    little; record such a copy with ``dvc add data``.

    Args:
        root: folder that will hold ``flowers-102/``.
    """
    # One instance downloads all three files (images and both .mat files).
    Flowers102(root=str(root), split="train", download=True)


def _torchvision_splits(root: Path) -> list[Flowers102]:
    """Open the three torchvision splits, turning its error into a DataError."""
    try:
        return [Flowers102(root=str(root), split=s, download=False) for s in _TORCHVISION_SPLITS]
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted."
        raise DataError(
            f"{root / 'flowers-102'} is missing or incomplete ({str(err).split('.')[0]}); {_HOW_TO_GET}"
        ) from None


def list_images(root: str | os.PathLike = "data") -> list[ImageRecord]:
    """All images of the release, sorted by name, through ``torchvision.datasets.Flowers102``.

    Args:
        root: the folder that holds ``flowers-102/`` (``"data"`` after ``dvc pull``).

    Returns:
        ``N_IMAGES`` records sorted by name.

    Raises:
        DataError: the folder is missing, a ``.mat`` file is missing or has the
            wrong md5 sum, image files are missing, or a file differs from the
            copy that the ``.dvc`` file beside the folder records.
    """
    root = Path(root)
    records = []
    for ds in _torchvision_splits(root):
        # torchvision keeps the file list and labels in these attributes (stable
        # since the class was added); reading them avoids decoding every image.
        for path, label in zip(ds._image_files, ds._labels, strict=True):
            records.append(ImageRecord(name=Path(path).name, path=Path(path), label=int(label)))
    records.sort(key=lambda r: r.name)
    if len(records) != N_IMAGES or len({r.name for r in records}) != N_IMAGES:
        raise DataError(f"{root / 'flowers-102'} lists {len(records)} images, expected {N_IMAGES}; {_HOW_TO_GET}")
    missing = [r.name for r in records if not r.path.is_file()]
    if missing:
        raise DataError(
            f"{root / 'flowers-102' / 'jpg'} lacks {len(missing)} of {N_IMAGES} images "
            f"(first: {missing[0]}); {_HOW_TO_GET}"
        )
    verify_folder(root)
    return records


def load_image(path: str | os.PathLike) -> Image.Image:
    """Decode one image as RGB with torchvision's default loader.

    Raises:
        DataError: naming the file, when it does not decode.
    """
    try:
        image = default_loader(str(path))
        image.load()
    except (OSError, SyntaxError, ValueError) as err:  # PIL's errors for truncated or non-image files
        raise DataError(
            f"{path} does not decode as an image ({type(err).__name__}: {err}); "
            "restore the release with `dvc pull --force data.dvc`"
        ) from None
    return image


def file_digest(path: str | os.PathLike) -> str:
    """md5 of a file's bytes (identifies byte-identical images)."""
    return md5_of(path)


def find_duplicates(records: Sequence[ImageRecord]) -> list[list[str]]:
    """Groups of byte-identical images.

    Returns:
        Groups of two or more names, each sorted, the groups sorted by first name.
    """
    by_digest: dict[str, list[str]] = {}
    for r in records:
        by_digest.setdefault(file_digest(r.path), []).append(r.name)
    return sorted(sorted(g) for g in by_digest.values() if len(g) > 1)
