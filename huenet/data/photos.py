"""Photos that ship inside the scikit-image and scikit-learn wheels: test and notebook images without a download.

Both libraries are dev dependencies (``pip install -e ".[dev]"``), imported only when a photo is asked for.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["SKLEARN_PHOTOS", "photo_pixels", "sample_photo"]

# scikit-learn's two sample images; every other name is a function of skimage.data
SKLEARN_PHOTOS = ("china", "flower")


def photo_pixels(name: str) -> np.ndarray:
    """A sample photo as its library ships it, uncropped: ``(H, W, 3)`` uint8 RGB.

    Args:
        name: ``"china"`` or ``"flower"`` (scikit-learn), or a colour photo of ``skimage.data``
            (``"astronaut"``, ``"chelsea"``, ``"coffee"``, ``"rocket"``, ``"stereo_motorcycle"``, ...).
    """
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    img = getattr(skimage.data, name)()
    return img[0] if isinstance(img, tuple) else img  # e.g. stereo_motorcycle: (left, right, disparity)


def sample_photo(name: str, size: int, *, quantize: bool = False) -> Tensor:
    """A sample photo, centre-cropped square and resized: ``(1, 3, size, size)`` float64 RGB in [0, 1].

    Args:
        name: a photo of :func:`photo_pixels`.
        size: side of the square, in pixels.
        quantize: round to 8-bit levels, as a decoded image file would be.
    """
    img = photo_pixels(name)
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    x = torch.from_numpy(np.ascontiguousarray(img[top : top + s, left : left + s])).permute(2, 0, 1)[None]
    x = x.double() / 255
    # anti-aliasing: without it, downsizing adds hue noise
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                        align_corners=False).clamp(0, 1)
    return (torch.round(x * 255) / 255).contiguous() if quantize else x.contiguous()
