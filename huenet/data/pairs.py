"""Seeded (source, target) pairs of HSV crops from the image cache, and their loader."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.data.cache import ImageCache
from huenet.data.split import Split

__all__ = ["FLIPS", "VALIDATION_SEED", "PairDataset", "pair_loader", "validation_pairs"]

FLIPS = ("vertical", "horizontal", "both", "none")
"""The training crops' random flips: "vertical" is the paper's ("We augmented the training images with vertical
flips", section 2.6); "horizontal" is pix2pix's, which this project used before version 0.2.0."""

# The seed of the validation pairs every choice is scored on: fixed, not a run's seed, so that runs of
# different seeds are compared on the same pairs.
VALIDATION_SEED = 0


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
    ``load_size`` square and their own random flip, each with probability 1/2: upside down (``flips="vertical"``,
    the paper's), left to right (``"horizontal"``, pix2pix's), each of the two independently (``"both"``) or never
    (``"none"``).

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
        flips: str = "vertical",
    ) -> None:
        """Args:
        cache: the decoded images.
        names: the images to draw from (e.g. ``split.train``), all in ``cache``.
        crop_size: side of the crops, ``1 <= crop_size <= cache.load_size``.
        mode: ``"train"`` or ``"eval"``.
        seed: seeds the pair order, targets, crops and flips.
        n_pairs: eval mode only: how many fixed pairs (default: one per image).
        flips: train mode only: one of :data:`FLIPS`.
        """
        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
        if not 1 <= crop_size <= cache.load_size:
            raise ValueError(f"crop_size must be in [1, {cache.load_size}] (the cache's load_size), got {crop_size}")
        if len(names) < 2:
            raise ValueError(f"need at least 2 images to make pairs, got {len(names)}")
        if n_pairs is not None and (mode != "eval" or n_pairs < 1):
            raise ValueError("n_pairs is for mode='eval' and must be >= 1")
        if flips not in FLIPS:
            raise ValueError(f"flips must be one of {', '.join(FLIPS)}, got {flips!r}")
        self.cache = cache
        self.pool = cache.indices(names)  # (M,) cache positions of the usable images
        self.crop_size = crop_size
        self.mode = mode
        self.seed = seed
        self.flips = flips if mode == "train" else "none"
        self.epoch = 0
        self._n = len(self.pool) if n_pairs is None else n_pairs
        self._draw(0)

    def __len__(self) -> int:
        return self._n

    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of what the pairs are drawn from: the images' names and pixels, the crop size,
        the mode, the seed, the number of pairs and the flips.

        A training checkpoint records it, so that a run on another split, cache or crop size trains afresh
        instead of keeping a model of other data.

        >>> from huenet.data.cache import ImageCache
        >>> cache = ImageCache(torch.zeros(3, 3, 8, 8, dtype=torch.uint8), ("a", "b", "c"), torch.zeros(3))
        >>> def pairs(names): return PairDataset(cache, names, crop_size=4)
        >>> pairs(["a", "b"]).fingerprint() == pairs(["a", "c"]).fingerprint()
        False
        """
        digest = hashlib.sha256(repr((self.mode, self.crop_size, self.seed, self._n, self.flips)).encode())
        for i in self.pool.tolist():
            digest.update(self.cache.names[i].encode() + b"\0")
        digest.update(self.cache.images[self.pool].contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    def set_epoch(self, epoch: int) -> None:
        """Draw the pairs, crops and flips of ``epoch`` (train mode); eval pairs never change."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = epoch
        if self.mode == "train":
            self._draw(epoch)

    def _draw(self, epoch: int) -> None:
        """Fill ``_src``/``_tgt`` (N,) cache positions, ``_offsets`` (N, 2, 2) crop corners, ``_flips`` (N, 2, 2)."""
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
            first = torch.rand(n, 2, generator=g) < 0.5  # [item, source/target]
            # The first draw is the one flip of "vertical" and "horizontal"; "both" draws the other axis after it,
            # so the pairs, crops and first flips are the same draws whatever the setting.
            other = torch.rand(n, 2, generator=g) < 0.5 if self.flips == "both" else torch.zeros_like(first)
            vertical = first if self.flips == "vertical" else other
            horizontal = first if self.flips in ("horizontal", "both") else torch.zeros_like(first)
            flips = torch.stack((vertical, horizontal), -1) & (self.flips != "none")  # [item, source/target, y/x]
        else:
            offsets = torch.full((n, 2, 2), slack // 2, dtype=torch.int64)
            flips = torch.zeros(n, 2, 2, dtype=torch.bool)
        self._src, self._tgt = self.pool[src], self.pool[tgt]
        self._offsets, self._flips = offsets, flips

    def pairs(self) -> Tensor:
        """``(N, 2)`` int64 cache positions of (source, target) for the current epoch."""
        return torch.stack((self._src, self._tgt), 1)

    def _crops(self, which: Tensor, items: Tensor, slot: int) -> Tensor:
        """Gather crops (flipped where drawn) in one indexing op: ``(B, 3, c, c)`` uint8."""
        ar = torch.arange(self.crop_size)
        rows, cols = (self._offsets[items, slot, axis, None] + ar for axis in (0, 1))  # (B, c) each
        # A flip is a reversed row or column index, so cropping and flipping cost one gather.
        rows = torch.where(self._flips[items, slot, 0, None], rows.flip(1), rows)
        cols = torch.where(self._flips[items, slot, 1, None], cols.flip(1), cols)
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


def validation_pairs(cache: ImageCache, split: Split, *, crop_size: int, n_pairs: int) -> tuple[Tensor, Tensor]:
    """The fixed validation pairs that training, the colour GAN and the calibration are scored on, as RGB.

    Centre crops of ``split.validation`` only (never a test image), drawn once
    from :data:`VALIDATION_SEED`, so every run and every setting meets the same pairs.

    Returns:
        ``(source, target)``, each ``(n_pairs, 3, crop_size, crop_size)`` in [0, 1].
    """
    pairs = PairDataset(cache, split.validation, crop_size=crop_size, mode="eval", seed=VALIDATION_SEED,
                        n_pairs=n_pairs)
    batch = pairs.batch(torch.arange(len(pairs)))
    return hsv_to_rgb(batch["source"]), hsv_to_rgb(batch["target"])
