"""What hue looks like in a set of images: hue and saturation histograms, and how far 8-bit noise moves hue.

Notebook 01 draws these for the image cache; nothing in training reads them.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from huenet.core.color import rgb_to_hsv

__all__ = ["hsv_statistics", "hue_jitter"]


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
