"""Hue noise: how much an output's hue wobbles where the source is flat.

Context dependence (:mod:`huenet.eval.context`) rewards any hue that no map of the source colour explains, and
per-pixel noise is such a hue: a speckled output scores high there too. This is its companion. Where the source
is flat (a sky, a smooth petal), a method that paints by region gives a region one hue, and noise shows as a
local spread of hue among neighbouring pixels.

**Per pair** (the constants below):

1. Both images at their 8-bit levels (:func:`huenet.eval.metrics.quantize_8bit`), in HSV
   (:func:`huenet.core.color.rgb_to_hsv`).
2. **Flat pixels of the source**: the 3 x 3 window around the pixel varies by less than 0.02 in saturation and in
   value (max minus min, about five 8-bit levels), and the saturation is at least 0.1, where a hue is more than
   8-bit rounding.
3. **Local spread** of an image's hue at a pixel: ``1 - |mean of exp(i h)|`` over its 3 x 3 window, the
   circular variance of the window's hues (0 when they are one hue; for a small spread of ``s`` radians about
   ``s^2 / 2``, so 0.01 is about 8 degrees).
4. **Hue noise** of an image on a source's flat pixels: the mean local spread over them; NaN when the source has
   fewer than :data:`MIN_FLAT_PIXELS` flat pixels (undefined: no flat region to read).

A table reports the output's hue noise beside the source's own on the same pixels (the hue the source itself
has there), and how many pairs are defined. :func:`huenet.pipeline.report`'s claim that the painting is not a
colour map asks for both: context dependence above the colour maps', and hue noise not above the source's by more
than :data:`NOISE_MARGIN`, a margin fixed before any number of a trained model was seen.

``benchmarks/bench_transfer.py`` measures a lifted photo's hue noise with :func:`hue_noise`, at the working size.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from huenet.core.color import rgb_to_hsv
from huenet.eval.metrics import check_cpu_images, quantize_8bit

__all__ = ["FLATNESS", "MIN_SATURATION", "MIN_FLAT_PIXELS", "NOISE_MARGIN", "flat_pixels", "local_spread",
           "hue_noise"]

FLATNESS = 0.02
"""A flat pixel's 3 x 3 window spans less than this in saturation and in value."""
MIN_SATURATION = 0.1
"""A flat pixel's saturation is at least this."""
MIN_FLAT_PIXELS = 16
"""Fewer flat pixels in the source leave the pair undefined (NaN)."""
NOISE_MARGIN = 0.01
"""How far an output's hue noise may exceed the source's own before it is noise: a spread of 0.01 is a hue
wobble of about 8 degrees among neighbouring pixels."""


def flat_pixels(hsv: Tensor) -> Tensor:
    """``(B, 3, H, W)`` HSV -> ``(B, H, W)`` bool: flat, saturated pixels (the module's step 2)."""
    flat = torch.ones_like(hsv[:, 0], dtype=torch.bool)
    for channel in (hsv[:, 1:2], hsv[:, 2:3]):
        window_range = F.max_pool2d(channel, 3, 1, 1) + F.max_pool2d(-channel, 3, 1, 1)
        flat &= window_range[:, 0] < FLATNESS
    return flat & (hsv[:, 1] >= MIN_SATURATION)


def local_spread(hue: Tensor) -> Tensor:
    """``(B, 1, H, W)`` hue in [0, 1) -> ``(B, H, W)``: the circular variance of each 3 x 3 window's hues."""
    angle = 2 * torch.pi * hue
    mean = F.avg_pool2d(torch.cat((torch.cos(angle), torch.sin(angle)), 1), 3, 1, 1, count_include_pad=False)
    return 1 - torch.hypot(mean[:, 0], mean[:, 1])


def hue_noise(source: Tensor, image: Tensor) -> np.ndarray:
    """The hue noise of ``image`` on the flat pixels of ``source``, per pair.

    Args:
        source, image: ``(B, 3, H, W)`` RGB in [0, 1]; ``image`` is an output, or the source itself for its own.

    Returns:
        ``(B,)`` float64 in [0, 1]; NaN where the source has fewer than :data:`MIN_FLAT_PIXELS` flat pixels.

    >>> sky = torch.tensor([0.2, 0.4, 0.8]).view(1, 3, 1, 1).expand(1, 3, 16, 16)  # one flat blue
    >>> hue_noise(sky, sky).round(4)
    array([0.])
    >>> speckled = sky.clone()
    >>> speckled[..., ::2, ::2] = torch.tensor([0.8, 0.4, 0.2]).view(1, 3, 1, 1)  # every fourth pixel orange
    >>> float(hue_noise(sky, speckled)[0]) > 0.1
    True
    """
    source = check_cpu_images(source, "source")
    image = check_cpu_images(image, "image")
    if source.shape != image.shape:
        raise ValueError(f"source and image must have the same shape, got {tuple(source.shape)} and "
                         f"{tuple(image.shape)}")
    source_hsv = rgb_to_hsv(quantize_8bit(source).double() / 255)
    flat = flat_pixels(source_hsv)
    spread = local_spread(rgb_to_hsv(quantize_8bit(image).double() / 255)[:, :1])
    counts = flat.sum((1, 2))
    sums = (spread * flat).sum((1, 2))
    noise = (sums / counts.clamp_min(1)).numpy()
    return np.where(counts.numpy() >= MIN_FLAT_PIXELS, noise, np.nan)
