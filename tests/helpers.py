"""Small synthetic data for tests that must not depend on the real dataset."""

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


def sample_photo(name: str, size: int, *, quantize: bool = False) -> torch.Tensor:
    """A scikit-image sample photo, centre-cropped square and resized: ``(1, 3, size, size)`` float64 in [0, 1].

    ``quantize`` rounds to 8-bit levels, as a decoded image file would be.
    """
    import skimage.data  # only the tests that use photos pay for it

    x = getattr(skimage.data, name)()
    x = x[0] if isinstance(x, tuple) else x
    s = min(x.shape[:2])
    top, left = (x.shape[0] - s) // 2, (x.shape[1] - s) // 2
    x = torch.from_numpy(x[top : top + s, left : left + s].copy()).permute(2, 0, 1)[None].double() / 255
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                        align_corners=False).clamp(0, 1)
    return (torch.round(x * 255) / 255).contiguous() if quantize else x
