"""What travels to the GPU machine: training images and Table 1's first test pairs at 256 px, WebP, in one folder.

The GPU machine gets the repository's tracked files and at most 64 MiB in all, so the release's JPEGs (135 MB at
256 px for the 8189) cannot go: the pack holds the first ``train_images`` of the split's training list
(the split's order is a seeded shuffle, so its head is a random sample) and the images of the first ``test_pairs``
of Table 1's test pairs, drawn exactly as notebook 05 draws them (:func:`table1_test_pairs`). Each image is what the
pixel cache holds at ``load_size`` (:func:`huenet.data.cache.build_cache`: shorter side resized, centre square),
encoded as WebP: lossless would take 70 KB an image, the pack's qualities about 10 (training) and 20 (test).
The colour error this adds is measured against the cache's pixels when the pack is built, hue EMD
(:func:`huenet.eval.metrics.hue_emd`) and CIEDE2000, and kept in the manifest::

    gpu_pack/manifest.json     the names, labels, pairs, qualities, colour error, sizes and a digest of the images
    gpu_pack/train/*.webp
    gpu_pack/test/*.webp

``python -m huenet.pipeline.gpu.pack`` builds it from ``data/`` and ``artifacts/splits.json`` with
``params_gpu.yaml``'s ``pack`` group; :func:`load_pack` reads it back on the GPU machine, which needs Pillow only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from huenet.data.cache import ImageCache, build_cache
from huenet.data.pairs import PairDataset
from huenet.data.release import ImageRecord, list_images
from huenet.data.split import Split, read_splits
from huenet.eval.metrics import hue_emd
from huenet.pipeline.gpu.profile import PackSettings, read_profile

__all__ = ["PACK_FORMAT", "MANIFEST", "Pack", "table1_test_pairs", "colour_error", "build_pack", "load_pack",
           "subset", "main"]

PACK_FORMAT = 1
MANIFEST = "manifest.json"
_SIDES = ("train", "test")


@dataclass(frozen=True)
class Pack:
    """A pack read back: the training and the test images, the test pairs by name, and the split they come from.

    ``split.train`` and ``split.test`` are the pack's images only; its seed and fractions are the split's.
    """

    train: ImageCache
    test: ImageCache
    pairs: tuple[tuple[str, str], ...]
    split: Split
    manifest: dict


def table1_test_pairs(test_names: Sequence[str], *, n_pairs: int, seed: int) -> list[tuple[str, str]]:
    """Table 1's test pairs as (source, target) names, drawn as :func:`huenet.eval.evaluate.fixed_pairs` draws them.

    The draw depends on the names' order, their count, ``n_pairs`` and ``seed`` only, not on the pixels, so a
    one-pixel stand-in cache gives the pairs without decoding a test image.
    """
    stand_in = ImageCache(torch.zeros(len(test_names), 3, 1, 1, dtype=torch.uint8), tuple(test_names),
                          torch.zeros(len(test_names), dtype=torch.int64))
    drawn = PairDataset(stand_in, test_names, crop_size=1, mode="eval", seed=seed, n_pairs=n_pairs).pairs()
    return [(test_names[s], test_names[t]) for s, t in drawn.tolist()]


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _encode(image: Tensor, path: Path, quality: int) -> None:
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(path, "WEBP", quality=quality)


def _decode(path: Path) -> Tensor:
    with Image.open(path) as image:
        return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).contiguous()


def colour_error(reference: Tensor, decoded: Tensor, batch: int = 64) -> dict:
    """What a codec did to the colours: per image, the hue EMD and the mean CIEDE2000 between the two.

    Args:
        reference, decoded: ``(N, 3, S, S)`` uint8 RGB, the same images before and after the codec.

    Returns:
        ``{"images": N, "hue_emd": {"mean", "max"}, "ciede2000": {"mean", "max"}}``: over images of the per-image
        values (hue EMD: cyclic W1 of the 8-bit hue histograms, Table 1's EMD; CIEDE2000: the mean over pixels).
    """
    from skimage.color import deltaE_ciede2000, rgb2lab  # the pipeline extra; only building a pack needs it

    emd, delta_e = [], []
    for start in range(0, reference.shape[0], batch):
        a, b = (x[start:start + batch].float() / 255 for x in (reference, decoded))
        emd.append(hue_emd(a, b))
        lab_a, lab_b = (rgb2lab(x.permute(0, 2, 3, 1).numpy()) for x in (a, b))
        delta_e.append(deltaE_ciede2000(lab_a, lab_b).mean(axis=(1, 2)))
    summary = {"images": int(reference.shape[0])}
    for key, values in (("hue_emd", np.concatenate(emd)), ("ciede2000", np.concatenate(delta_e))):
        summary[key] = {"mean": round(float(values.mean()), 5), "max": round(float(values.max()), 5)}
    return summary


def _write_side(cache: ImageCache, folder: Path, quality: int) -> dict:
    """Encode every image of ``cache`` into ``folder``; the side's manifest entry with its measured colour error."""
    folder.mkdir(parents=True)
    paths = [folder / f"{Path(name).stem}.webp" for name in cache.names]
    for image, path in zip(cache.images, paths):
        _encode(image, path, quality)
    decoded = torch.stack([_decode(path) for path in paths])
    return {"quality": quality, "names": list(cache.names), "labels": cache.labels.tolist(),
            "bytes": sum(path.stat().st_size for path in paths), "colour_error": colour_error(cache.images, decoded)}


def _digest(folder: Path, manifest: dict) -> str:
    """SHA-256 (16 hex digits) of the pack's image files, in the manifest's order."""
    digest = hashlib.sha256()
    for side in _SIDES:
        for name in manifest[side]["names"]:
            digest.update((folder / side / f"{Path(name).stem}.webp").read_bytes())
    return digest.hexdigest()[:16]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build_pack(records: Sequence[ImageRecord], split: Split, settings: PackSettings, folder: str | os.PathLike) -> dict:
    """Write the pack into the new folder ``folder``; its manifest.

    Args:
        records: the release's images (:func:`huenet.data.release.list_images`), at least those the pack takes.
        split: the split (``artifacts/splits.json``).
        settings: ``params_gpu.yaml``'s ``pack`` group.

    Raises:
        ValueError: the split has too few training images, or the pack is larger than ``settings.max_mib``.
    """
    folder = Path(folder)
    if len(split.train) < settings.train_images:
        raise ValueError(f"the split has {len(split.train)} training images, the pack asks for "
                         f"{settings.train_images}")
    pairs = table1_test_pairs(split.test, n_pairs=settings.table1_pairs,
                              seed=settings.table1_seed)[:settings.test_pairs]
    by_name = {r.name: r for r in records}
    names = {"train": list(split.train[:settings.train_images]), "test": _unique(n for pair in pairs for n in pair)}
    quality = {"train": settings.train_quality, "test": settings.test_quality}
    manifest: dict = {"format": PACK_FORMAT, "load_size": settings.load_size,
                      "split": {"seed": split.seed, "test_fraction": split.test_fraction,
                                "validation_fraction": split.validation_fraction},
                      "table1_pairs": {"n_pairs": settings.table1_pairs, "seed": settings.table1_seed},
                      "pairs": [list(pair) for pair in pairs]}
    for side in _SIDES:
        cache = build_cache([by_name[n] for n in names[side]], settings.load_size)
        manifest[side] = _write_side(cache, folder / side, quality[side])
    manifest["digest"] = _digest(folder, manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    size = _size(folder)
    if size > settings.max_mib * 2**20:
        raise ValueError(f"the pack takes {size / 2**20:.1f} MiB, over max_mib {settings.max_mib}: "
                         "lower pack.train_images or a quality in params_gpu.yaml")
    return manifest


def load_pack(folder: str | os.PathLike) -> Pack:
    """Read a pack written by :func:`build_pack`, checking its images against the manifest's digest.

    Raises:
        ValueError: no pack there, another format, or images that are not the manifest's (a partial copy).
    """
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise ValueError(f"no pack in {folder}: build it with tools/gpu_prepare.sh")
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != PACK_FORMAT:
        raise ValueError(f"{folder} holds a pack of format {manifest.get('format')}, not {PACK_FORMAT}")
    if _digest(folder, manifest) != manifest["digest"]:
        raise ValueError(f"the images in {folder} are not those of its manifest: copy or build the pack again")
    # Pillow decodes without the GIL: 2,200 images take about 10 s on one core, a second on the GPU machine's 16
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        caches = {side: ImageCache(torch.stack(list(pool.map(
                      _decode, [folder / side / f"{Path(n).stem}.webp" for n in manifest[side]["names"]]))),
                      tuple(manifest[side]["names"]), torch.tensor(manifest[side]["labels"]))
                  for side in _SIDES}
    split = Split(train=caches["train"].names, validation=(), test=caches["test"].names, **manifest["split"])
    return Pack(train=caches["train"], test=caches["test"], pairs=tuple(tuple(p) for p in manifest["pairs"]),
                split=split, manifest=manifest)


def subset(cache: ImageCache, names: Sequence[str]) -> ImageCache:
    """The images of ``cache`` named ``names``, in that order."""
    positions = cache.indices(names)
    return ImageCache(cache.images[positions], tuple(names), cache.labels[positions])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m huenet.pipeline.gpu.pack``: build the pack of ``params_gpu.yaml`` from the data and the split."""
    parser = argparse.ArgumentParser(prog="python -m huenet.pipeline.gpu.pack", description=main.__doc__)
    parser.add_argument("--params-gpu", type=Path, default=Path("params_gpu.yaml"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, default=Path("data"), help="the folder that holds flowers-102/")
    parser.add_argument("--splits", type=Path, default=Path("artifacts/splits.json"))
    args = parser.parse_args(argv)
    try:
        settings = read_profile(args.params_gpu, args.params).pack
        partial = settings.dir.with_name(settings.dir.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        manifest = build_pack(list_images(args.data), read_splits(args.splits), settings, partial)
    except (ValueError, OSError) as err:
        print(f"gpu pack: error: {err}", file=sys.stderr)
        return 2
    if (settings.dir / MANIFEST).is_file():
        shutil.rmtree(settings.dir)  # only a folder that holds a pack: never anything else of that name
    elif settings.dir.exists():
        print(f"gpu pack: error: {settings.dir} exists and holds no pack; the new one is in {partial}",
              file=sys.stderr)
        return 2
    partial.rename(settings.dir)
    errors = {side: manifest[side]["colour_error"] for side in _SIDES}
    print(f"{settings.dir}: {len(manifest['train']['names'])} training images, {len(manifest['pairs'])} test pairs "
          f"({len(manifest['test']['names'])} images), {_size(settings.dir) / 2**20:.1f} MiB; "
          f"colour error: {json.dumps(errors)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
