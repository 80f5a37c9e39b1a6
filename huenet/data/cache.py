"""The pixel cache: every image decoded once, at a fixed square size, in one ``uint8`` tensor on disk.

Decoding and resizing JPEGs costs about 1 ms an image; a training step at the
CPU profile's size costs a few hundred. To keep loading far below 10% of a
step on 2 cores, every image is decoded once, resized (shorter side to
``load_size``) and centre-cropped to a ``load_size`` square, and kept as one
``uint8`` tensor on disk. Pair datasets (:mod:`huenet.data.pairs`) crop and
flip from that tensor.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import Tensor

from huenet.data import DataError
from huenet.data.release import ImageRecord, load_image
from huenet.files import atomic_write_binary

__all__ = ["ImageCache", "build_cache", "save_cache", "load_cache"]

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class ImageCache:
    """Decoded images at a fixed square size.

    Attributes:
        images: ``(N, 3, S, S)`` uint8 RGB tensor, ``S = load_size``.
        names: the ``N`` image names, in the order of ``images``.
        labels: ``(N,)`` int64 class indices.
    """

    images: Tensor
    names: tuple[str, ...]
    labels: Tensor
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        imgs = self.images
        if imgs.dtype != torch.uint8 or imgs.ndim != 4 or imgs.shape[1] != 3 or imgs.shape[2] != imgs.shape[3]:
            raise ValueError(f"images must be a (N, 3, S, S) uint8 tensor, got {tuple(imgs.shape)} {imgs.dtype}")
        if not (len(self.names) == imgs.shape[0] == self.labels.shape[0]):
            raise ValueError(f"{imgs.shape[0]} images, {len(self.names)} names, {self.labels.shape[0]} labels")
        # name -> position, derived once (the dataclass is frozen, hence object.__setattr__)
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.names)})

    @property
    def load_size(self) -> int:
        return int(self.images.shape[-1])

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def indices(self, names: Sequence[str]) -> Tensor:
        """``(len(names),)`` int64 positions of ``names`` in the cache.

        Raises:
            DataError: a name is not in the cache (it was built from other data or with a ``limit``).
        """
        missing = [n for n in names if n not in self._index]
        if missing:
            raise DataError(
                f"{len(missing)} names are not in the image cache (first: {missing[0]}); "
                "rebuild it with `dvc repro data`"
            )
        return torch.tensor([self._index[n] for n in names], dtype=torch.int64)


def _preprocess(image: Image.Image, load_size: int) -> Tensor:
    """Shorter side to ``load_size`` (PIL bilinear, antialiased), centre square crop: ``(3, S, S)`` uint8."""
    image = TF.center_crop(TF.resize(image, load_size), load_size)
    return TF.pil_to_tensor(image)


def build_cache(
    records: Sequence[ImageRecord],
    load_size: int,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> ImageCache:
    """Decode every image once and keep it at ``load_size`` x ``load_size``.

    Decoding all images is also the check that every image decodes.

    Args:
        records: the images, e.g. from :func:`huenet.data.release.list_images` (order is kept).
        load_size: side of the square images, ``>= 1``.
        progress: optional wrapper such as ``tqdm.tqdm``.

    Returns:
        The cache.

    Raises:
        DataError: naming the first image that does not decode.
    """
    if load_size < 1:
        raise ValueError(f"load_size must be >= 1, got {load_size}")
    images = torch.empty(len(records), 3, load_size, load_size, dtype=torch.uint8)
    it: Iterable = enumerate(records)
    if progress is not None:
        it = progress(it)
    for i, r in it:
        images[i] = _preprocess(load_image(r.path), load_size)
    labels = torch.tensor([r.label for r in records], dtype=torch.int64)
    return ImageCache(images=images, names=tuple(r.name for r in records), labels=labels)


def save_cache(cache: ImageCache, path: str | os.PathLike) -> None:
    """Save the cache with ``torch.save`` (atomically)."""
    payload = {"format": _CACHE_FORMAT, "images": cache.images, "names": list(cache.names), "labels": cache.labels}
    atomic_write_binary(Path(path), lambda f: torch.save(payload, f))  # the same cache, the same md5


def load_cache(path: str | os.PathLike) -> ImageCache:
    """Load a cache written by :func:`save_cache`.

    Raises:
        DataError: the file is missing, damaged (truncated, ...) or is not such a cache.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run `dvc repro data` (notebook 01) to build the image cache")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a truncated or damaged file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise DataError(f"{path} is damaged ({reason}); rebuild it with `dvc repro --force data`") from None
    if not isinstance(payload, dict) or payload.get("format") != _CACHE_FORMAT:
        raise DataError(f"{path} is not an image cache of format {_CACHE_FORMAT}; rebuild it with `dvc repro data`")
    return ImageCache(images=payload["images"], names=tuple(payload["names"]), labels=payload["labels"])
