"""Small synthetic data for tests that must not depend on the real dataset, and the committed version of a file."""

import shutil
import subprocess
from pathlib import Path

import torch

from huenet.data.cache import ImageCache
from huenet.data.pairs import PairDataset


def synthetic_cache(n: int = 12, size: int = 24, seed: int = 0) -> ImageCache:
    """``n`` smooth colourful images: a random colour per quadrant plus a gradient."""
    g = torch.Generator().manual_seed(seed)
    corners = torch.rand(n, 3, 2, 2, generator=g)
    images = torch.nn.functional.interpolate(corners, size=(size, size), mode="bilinear", align_corners=True)
    images = (images * 255).round().to(torch.uint8)
    return ImageCache(images=images, names=tuple(f"img_{i:03d}" for i in range(n)), labels=torch.arange(n) % 3)


def synthetic_pairs(crop_size: int = 16, seed: int = 0, **kwargs) -> PairDataset:
    cache = synthetic_cache(**kwargs)
    return PairDataset(cache, cache.names, crop_size=crop_size, mode="train", seed=seed)


def committed(root: Path, path: str) -> str | None:
    """``path`` as committed at ``HEAD`` of ``root``; None if ``root`` is not the top of a git checkout."""
    if shutil.which("git") is None:
        return None
    top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
        return None  # a tarball, or a folder inside some other repository
    return subprocess.run(["git", "-C", str(root), "show", f"HEAD:{path}"], capture_output=True, text=True,
                          check=True).stdout
