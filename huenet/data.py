"""Oxford 102 Flowers: the image list, the train/test split, a pixel cache and pair datasets.

Data flows one way through this module::

    data/flowers-102/  --list_images-->  [ImageRecord]  --make_split-->  Split  (splits.json)
                                               |
                                               +--build_cache-->  ImageCache  (cache_<load_size>.pt)
                                                                      |
                                     PairDataset(cache, split.train | split.test)  -->  HSV batches

* The images are read through the real ``torchvision.datasets.Flowers102`` class
  (``download=False``), which checks the md5 sums of the two ``.mat`` files. Its
  ``train``/``val``/``test`` splits together hold all 8189 images; the project
  does not use the official split (see DESIGN.md, "Split").
* The split: all images sorted by name, shuffled with a fixed seed, the first
  90% train, the rest test. Byte-identical images (the release has 4 pairs) are
  kept together: a group goes to the side of its member that comes first in the
  shuffled order, so no image is in training while its copy is tested.
* Decoding and resizing JPEGs costs about 1 ms an image; a training step at the
  CPU profile's size costs a few hundred. To keep loading far below 10% of a
  step on 2 cores, every image is decoded once, resized (shorter side to
  ``load_size``) and centre-cropped to a ``load_size`` square, and kept as one
  ``uint8`` tensor on disk. Pair datasets crop and flip from that tensor.

Where no copy of the DVC remote is at hand, :func:`download` fetches the
official release with the same torchvision class (it needs internet).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import Flowers102
from torchvision.datasets.folder import default_loader

from huenet.color import rgb_to_hsv
from huenet.files import atomic_write

__all__ = [
    "DataError",
    "ImageRecord",
    "Split",
    "ImageCache",
    "PairDataset",
    "N_IMAGES",
    "N_CLASSES",
    "MAT_MD5",
    "download",
    "list_images",
    "load_image",
    "file_digest",
    "find_duplicates",
    "make_split",
    "write_splits",
    "read_splits",
    "build_cache",
    "save_cache",
    "load_cache",
    "pair_loader",
    "hsv_statistics",
    "hue_jitter",
    "cache_sample",
    "ensure_data",
    "work_from_project_root",
]

N_IMAGES = 8189
N_CLASSES = 102
# The md5 sums of the release's label and split files (torchvision checks the same ones).
MAT_MD5 = {"imagelabels.mat": "e0620be6f572b9609742df49c70aed4d", "setid.mat": "a5357ecc9cb78c4bef273ce3793fc85c"}
_TORCHVISION_SPLITS = ("train", "val", "test")
_HOW_TO_GET = ("run `dvc pull` (or, where there is internet, "
               "`python -c \"import huenet.data as d; d.download('data')\"`)")
_CACHE_FORMAT = 1


class DataError(RuntimeError):
    """The dataset is missing, incomplete or corrupt, or a derived file does not fit it.

    The message is one line that says what is wrong and what to do about it.
    """


# ------------------------------------------------------------------ the images


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
            wrong md5 sum, or image files are missing.
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
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def find_duplicates(records: Sequence[ImageRecord]) -> list[list[str]]:
    """Groups of byte-identical images.

    Returns:
        Groups of two or more names, each sorted, the groups sorted by first name.
    """
    by_digest: dict[str, list[str]] = {}
    for r in records:
        by_digest.setdefault(file_digest(r.path), []).append(r.name)
    return sorted(sorted(g) for g in by_digest.values() if len(g) > 1)


# ------------------------------------------------------------------- the split


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


# ------------------------------------------------------------------- the cache


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
        records: the images, e.g. from :func:`list_images` (order is kept).
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
    def write(tmp: Path) -> None:
        # Through a file object: given a path, torch.save names the archive's records after the
        # (random) temporary file, and the same cache would get a different md5 on every run.
        with open(tmp, "wb") as f:
            torch.save(payload, f)

    atomic_write(Path(path), write)


def load_cache(path: str | os.PathLike) -> ImageCache:
    """Load a cache written by :func:`save_cache`.

    Raises:
        DataError: the file is missing or is not such a cache.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found; run `dvc repro data` (notebook 01) to build the image cache")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != _CACHE_FORMAT:
        raise DataError(f"{path} is not an image cache of format {_CACHE_FORMAT}; rebuild it with `dvc repro data`")
    return ImageCache(images=payload["images"], names=tuple(payload["names"]), labels=payload["labels"])


# ---------------------------------------------------------------- pair dataset


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator per (seed, epoch): same seed and epoch, same draws."""
    # Spreading seed and epoch with large odd factors keeps nearby (seed, epoch) pairs apart.
    mixed = (seed * 1_000_003 + epoch * 7_919) % (2**63)
    return torch.Generator().manual_seed(mixed)


class PairDataset(Dataset):
    """(source, target) pairs of HSV crops drawn from a set of cached images.

    ``mode="train"``: each epoch (see :meth:`set_epoch`) every image is a source
    once, in an order shuffled from ``(seed, epoch)``; each source's target is
    drawn uniformly from the *other* images, independently of everything else.
    Source and target get their own random ``crop_size`` crop of the cached
    ``load_size`` square and their own random horizontal flip (horizontal only,
    as in pix2pix: an upside-down photograph is not an image the model will meet).

    ``mode="eval"``: a fixed list of ``n_pairs`` pairs drawn once from ``seed``
    (source != target), centre crops, no flips; :meth:`set_epoch` changes nothing.

    Every random choice of an epoch is drawn in :meth:`set_epoch`, so an item
    depends only on ``(seed, epoch, index)``, not on the order in which items
    are read or on the number of loader workers.

    Items are dicts: ``source`` and ``target``, ``(3, crop_size, crop_size)``
    float32 HSV in [0, 1] (hue in [0, 1)); ``source_index`` and
    ``target_index``, positions in ``cache``. The loader's batched path
    (``__getitems__``) converts a whole batch to HSV at once.
    """

    def __init__(
        self,
        cache: ImageCache,
        names: Sequence[str],
        *,
        crop_size: int,
        mode: Literal["train", "eval"] = "train",
        seed: int = 0,
        n_pairs: int | None = None,
    ) -> None:
        """Args:
        cache: the decoded images.
        names: the images to draw from (e.g. ``split.train``), all in ``cache``.
        crop_size: side of the crops, ``1 <= crop_size <= cache.load_size``.
        mode: ``"train"`` or ``"eval"``.
        seed: seeds the pair order, targets, crops and flips.
        n_pairs: eval mode only: how many fixed pairs (default: one per image).
        """
        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
        if not 1 <= crop_size <= cache.load_size:
            raise ValueError(f"crop_size must be in [1, {cache.load_size}] (the cache's load_size), got {crop_size}")
        if len(names) < 2:
            raise ValueError(f"need at least 2 images to make pairs, got {len(names)}")
        if n_pairs is not None and (mode != "eval" or n_pairs < 1):
            raise ValueError("n_pairs is for mode='eval' and must be >= 1")
        self.cache = cache
        self.pool = cache.indices(names)  # (M,) cache positions of the usable images
        self.crop_size = crop_size
        self.mode = mode
        self.seed = seed
        self.epoch = 0
        self._n = len(self.pool) if n_pairs is None else n_pairs
        self._draw(0)

    def __len__(self) -> int:
        return self._n

    def set_epoch(self, epoch: int) -> None:
        """Draw the pairs, crops and flips of ``epoch`` (train mode); eval pairs never change."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = epoch
        if self.mode == "train":
            self._draw(epoch)

    def _draw(self, epoch: int) -> None:
        """Fill ``_src``/``_tgt`` (N,) cache positions, ``_offsets`` (N, 2, 2) crop corners, ``_flips`` (N, 2)."""
        n, m = self._n, len(self.pool)
        g = _epoch_generator(self.seed, epoch)
        # Sources run through shuffled passes over the images (one pass per epoch in
        # train mode), so every image is a source before any is one twice.
        src = torch.cat([torch.randperm(m, generator=g) for _ in range(-(-n // m))])[:n]
        # Adding 1..m-1 modulo m gives a target uniform over the other images.
        tgt = (src + torch.randint(1, m, (n,), generator=g)) % m
        slack = self.cache.load_size - self.crop_size
        if self.mode == "train":
            offsets = torch.randint(slack + 1, (n, 2, 2), generator=g)  # [item, source/target, y/x]
            flips = torch.rand(n, 2, generator=g) < 0.5  # [item, source/target]
        else:
            offsets = torch.full((n, 2, 2), slack // 2, dtype=torch.int64)
            flips = torch.zeros(n, 2, dtype=torch.bool)
        self._src, self._tgt = self.pool[src], self.pool[tgt]
        self._offsets, self._flips = offsets, flips

    def pairs(self) -> Tensor:
        """``(N, 2)`` int64 cache positions of (source, target) for the current epoch."""
        return torch.stack((self._src, self._tgt), 1)

    def _crops(self, which: Tensor, items: Tensor, slot: int) -> Tensor:
        """Gather crops (flipped where drawn) in one indexing op: ``(B, 3, c, c)`` uint8."""
        c = self.crop_size
        ar = torch.arange(c)
        rows = self._offsets[items, slot, 0, None] + ar  # (B, c)
        # A flip is a reversed column index, so cropping and flipping cost one gather.
        cols_fwd = self._offsets[items, slot, 1, None] + ar
        cols = torch.where(self._flips[items, slot, None], cols_fwd.flip(1), cols_fwd)  # (B, c)
        imgs = self.cache.images
        return imgs[which[:, None, None, None], torch.arange(3)[None, :, None, None], rows[:, None, :, None],
                    cols[:, None, None, :]]

    def batch(self, items: Sequence[int] | Tensor) -> dict[str, Tensor]:
        """Items ``items`` as one batch: ``source``/``target`` ``(B, 3, c, c)`` float32 HSV, indices ``(B,)``."""
        items = torch.as_tensor(items, dtype=torch.int64).reshape(-1)
        if items.numel() and (int(items.min()) < 0 or int(items.max()) >= self._n):
            raise IndexError(f"item index out of range [0, {self._n})")
        src, tgt = self._src[items], self._tgt[items]
        rgb = torch.cat((self._crops(src, items, 0), self._crops(tgt, items, 1))).float().div_(255.0)
        hsv = rgb_to_hsv(rgb)
        b = items.numel()
        return {"source": hsv[:b], "target": hsv[b:], "source_index": src, "target_index": tgt}

    def batches(self, batch_size: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        """Batches ``start, start + 1, ...`` of an endless stream: epoch after epoch of full batches.

        Batch ``k`` is a function of ``(seed, k)`` only, so a resumed training run
        (which starts at its step) sees the batches an uninterrupted one would.
        """
        per_epoch = len(self) // batch_size
        if per_epoch < 1:
            raise ValueError(f"batch_size {batch_size} is larger than the {len(self)} pairs")
        k = start
        while True:
            epoch, slot = divmod(k, per_epoch)
            if self.epoch != epoch:
                self.set_epoch(epoch)
            yield self.batch(torch.arange(slot * batch_size, (slot + 1) * batch_size))
            k += 1

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        out = self.batch([i])
        return {k: v[0] for k, v in out.items()}

    def __getitems__(self, items: list[int]) -> list[dict[str, Tensor]]:
        # DataLoader's batched fetch: one HSV conversion for the whole batch; the default
        # collate stacks the per-item views back (cheap next to the conversion).
        out = self.batch(items)
        return [{k: v[j] for k, v in out.items()} for j in range(len(items))]


def pair_loader(dataset: PairDataset, batch_size: int, *, drop_last: bool | None = None) -> DataLoader:
    """A single-process loader over ``dataset`` in its own (already shuffled) order.

    The dataset draws the order itself in ``set_epoch``, so the loader must not
    shuffle. Workers are not worth it: a batch is a few milliseconds of tensor
    indexing, less than starting a worker.

    Args:
        dataset: the pairs.
        batch_size: pairs per batch.
        drop_last: default ``True`` in train mode (equal batches for BatchNorm), ``False`` in eval.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if drop_last is None:
        drop_last = dataset.mode == "train"
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0, drop_last=drop_last)


# ------------------------------------------------------ statistics (notebook 01)


def _hsv_chunks(images: Tensor, chunk: int) -> Iterable[Tensor]:
    """``(n, 3, H, W)`` float32 HSV of successive chunks of ``(N, 3, H, W)`` uint8 RGB images."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be a (N, 3, H, W) uint8 tensor, got {tuple(images.shape)} {images.dtype}")
    for i in range(0, images.shape[0], chunk):
        yield rgb_to_hsv(images[i : i + chunk].float() / 255.0)


def hsv_statistics(images: Tensor, bins: int = 256, low_saturation: float = 0.1, chunk: int = 256) -> dict:
    """Hue and saturation histograms of a set of images, and the share of low-saturation pixels.

    Args:
        images: ``(N, 3, H, W)`` uint8 RGB.
        bins: histogram bins over [0, 1].
        low_saturation: pixels with saturation below this have an unreliable hue.
        chunk: images converted at a time (bounds memory).

    Returns:
        ``hue`` ``(bins,)`` int64 counts over all pixels; ``hue_saturated`` the
        same over pixels with saturation >= ``low_saturation``; ``saturation``
        ``(bins,)`` counts; ``pixels``; ``low_saturation_share`` and
        ``grey_share`` (saturation exactly 0, hue undefined) as floats.
    """
    hue = torch.zeros(bins, dtype=torch.int64)
    hue_sat = torch.zeros(bins, dtype=torch.int64)
    sat = torch.zeros(bins, dtype=torch.int64)
    low = grey = pixels = 0
    for hsv in _hsv_chunks(images, chunk):
        h = (hsv[:, 0] * bins).long().clamp_(0, bins - 1).flatten()
        s = hsv[:, 1].flatten()
        keep = s >= low_saturation
        hue += torch.bincount(h, minlength=bins)
        hue_sat += torch.bincount(h[keep], minlength=bins)
        sat += torch.bincount((s * bins).long().clamp_(0, bins - 1), minlength=bins)
        low += int((~keep).sum())
        grey += int((s == 0).sum())
        pixels += s.numel()
    return {
        "hue": hue,
        "hue_saturated": hue_sat,
        "saturation": sat,
        "pixels": pixels,
        "low_saturation_share": low / max(pixels, 1),
        "grey_share": grey / max(pixels, 1),
    }


def hue_jitter(images: Tensor, saturation_bins: int = 10, seed: int = 0, chunk: int = 256) -> tuple[Tensor, Tensor]:
    """How far hue moves when each 8-bit channel moves by at most one level, by saturation.

    Each channel gets independent noise in {-1, 0, +1} (clamped to [0, 255]),
    about the size of a JPEG rounding error; the hue change is measured on the
    circle (at most 1/2).

    Args:
        images: ``(N, 3, H, W)`` uint8 RGB.
        saturation_bins: equal bins of the original pixel's saturation over [0, 1].
        seed: seeds the noise.

    Returns:
        ``edges`` ``(saturation_bins + 1,)`` and ``mean_change`` ``(saturation_bins,)``
        (NaN where a bin has no pixel), in units of the full hue circle.
    """
    g = torch.Generator().manual_seed(seed)
    total = torch.zeros(saturation_bins, dtype=torch.float64)
    count = torch.zeros(saturation_bins, dtype=torch.float64)
    for i, hsv in enumerate(_hsv_chunks(images, chunk)):
        rgb = images[i * chunk : (i + 1) * chunk].long()
        noisy = (rgb + torch.randint(-1, 2, rgb.shape, generator=g)).clamp_(0, 255).to(torch.uint8)
        (hsv2,) = _hsv_chunks(noisy, noisy.shape[0])
        d = (hsv2[:, 0] - hsv[:, 0]).abs()
        d = torch.minimum(d, 1.0 - d).flatten().double()
        b = (hsv[:, 1].flatten() * saturation_bins).long().clamp_(0, saturation_bins - 1)
        total += torch.bincount(b, weights=d, minlength=saturation_bins)
        count += torch.bincount(b, minlength=saturation_bins).double()
    edges = torch.linspace(0.0, 1.0, saturation_bins + 1)
    return edges, (total / count).float()


# --------------------------------------------------------- what the stages read


def cache_sample(records: Sequence[ImageRecord], split: Split, limit: int | None) -> list[ImageRecord]:
    """The images to cache: all of them, or ``limit`` drawn from both sides of the split.

    The split's order is a seeded shuffle, so its heads are random samples of
    train and test; the test side gets ``test_fraction`` of them (at least 2).
    """
    if not limit or limit >= len(records):
        return list(records)
    n_test = max(2, round(limit * split.test_fraction))
    sample = set(split.train[: limit - n_test] + split.test[:n_test])
    return [r for r in records if r.name in sample]


def ensure_data(
    splits_path: str | os.PathLike,
    cache_path: str | os.PathLike,
    *,
    data_root: str | os.PathLike = "data",
    limit: int | None = 200,
    seed: int = 0,
    test_fraction: float = 0.1,
    load_size: int = 72,
) -> tuple[Split, ImageCache]:
    """The split and image cache that notebook 01 writes, the split cut down to the cached images.

    In the pipeline both files exist (stage ``data``) and are only read. A
    notebook run on its own at smoke scale finds them missing and builds them
    here the way notebook 01 does, from ``limit`` images.

    Returns:
        ``(split, cache)`` with every name of ``split`` in ``cache``.
    """
    splits_path, cache_path = Path(splits_path), Path(cache_path)
    if not (splits_path.is_file() and cache_path.is_file()):
        records = list_images(data_root)
        split = make_split([r.name for r in records], seed, test_fraction, find_duplicates(records))
        write_splits(split, splits_path)
        save_cache(build_cache(cache_sample(records, split, limit), load_size), cache_path)
    split, cache = read_splits(splits_path), load_cache(cache_path)
    cached = set(cache.names)
    split = dataclasses.replace(split, train=tuple(n for n in split.train if n in cached),
                                test=tuple(n for n in split.test if n in cached))
    return split, cache


def work_from_project_root() -> Path:
    """Change to the repository root and return it.

    nbval starts a notebook's kernel in ``notebooks/``, papermill in the
    directory it was called from; the notebooks' relative paths are from the root.
    """
    root = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file()), None)
    if root is None:
        raise DataError(f"no pyproject.toml above {Path.cwd()}: run the notebooks inside the huenet repository")
    os.chdir(root)
    return root
