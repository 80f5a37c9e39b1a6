"""Differentiable RGB <-> HSV conversions on ``(B, 3, H, W)`` tensors in [0, 1], and colours as RGB triples.

Conventions follow scikit-image's ``rgb2hsv``/``hsv2rgb``: hue in [0, 1) (0 and 1
are the same red), saturation 0 where the value is 0, hue 0 where the pixel is
grey. Gradients are finite everywhere: the divisions that are undefined on grey
(delta = 0) or black (V = 0) pixels use a safe denominator and their result is
masked, so no ``0 * inf`` reaches autograd.

A colour, the aim of the colour methods (Soiffer & Zhang 2018), is one RGB triple in [0, 1]:
:func:`parse_color` reads ``'#aabbcc'``, :func:`mean_color` takes an image's.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor

from huenet.core.checks import check_images, check_rgb

__all__ = ["rgb_to_hsv", "hsv_to_rgb", "parse_color", "mean_color"]

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def rgb_to_hsv(rgb: Tensor) -> Tensor:
    """Convert RGB to HSV.

    Args:
        rgb: ``(B, 3, H, W)`` floating tensor in [0, 1].

    Returns:
        ``(B, 3, H, W)`` tensor: hue in [0, 1), saturation and value in [0, 1].

    >>> pixels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25]])
    >>> hsv = rgb_to_hsv(pixels.T.reshape(1, 3, 1, 4))  # red, green, blue, a dull red: one image, 1 x 4
    >>> hsv.shape
    torch.Size([1, 3, 1, 4])
    >>> (hsv[0, 0, 0] * 360).round()  # hue in degrees
    tensor([  0., 120., 240.,   0.])
    >>> hsv[0, 1:, 0]  # saturation, then value
    tensor([[1.0000, 1.0000, 1.0000, 0.5000],
            [1.0000, 1.0000, 1.0000, 0.5000]])
    """
    check_images(rgb, "rgb")
    r, g, b = rgb.unbind(1)
    v, _ = rgb.max(1)
    delta = v - rgb.min(1).values

    has_value = v > 0
    s = torch.where(has_value, delta / torch.where(has_value, v, torch.ones_like(v)), torch.zeros_like(v))

    has_hue = delta > 0
    d = torch.where(has_hue, delta, torch.ones_like(delta))
    # scikit-image's precedence when two channels tie for the maximum: b, then g, then r.
    h = torch.where(
        b == v,
        4.0 + (r - g) / d,
        torch.where(g == v, 2.0 + (b - r) / d, (g - b) / d),
    )
    h = torch.remainder(h / 6.0, 1.0)
    # remainder of a tiny negative number can round to exactly 1.0
    h = torch.where(h >= 1.0, h - 1.0, h)
    h = torch.where(has_hue, h, torch.zeros_like(h))
    return torch.stack((h, s, v), 1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """Convert HSV to RGB.

    Uses the piecewise-linear form ``c = v - v s clamp(min(k, 4 - k), 0, 1)`` with
    ``k = (n + 6h) mod 6`` for n = 5, 3, 1, which equals the sector formula of
    scikit-image but is continuous in hue, so a generated hue gets a gradient
    on every side of a sector boundary.

    Args:
        hsv: ``(B, 3, H, W)`` floating tensor, hue in [0, 1], s and v in [0, 1].

    Returns:
        ``(B, 3, H, W)`` RGB tensor in [0, 1].
    """
    check_images(hsv, "hsv")
    h, s, v = hsv.unbind(1)
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hsv.dtype, device=hsv.device).view(1, 3, 1, 1)
    k = torch.remainder(n + 6.0 * h.unsqueeze(1), 6.0)
    ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return v.unsqueeze(1) * (1.0 - s.unsqueeze(1) * ramp)


def parse_color(spec: str) -> Tensor:
    """``'#aabbcc'`` (or ``'aabbcc'``) -> ``(3,)`` float32 RGB in [0, 1], e.g. ``'#ff8000'`` -> ``(1, 0.502, 0)``."""
    if not isinstance(spec, str):
        raise ValueError(f"colour must be a string like '#aabbcc', got {type(spec).__name__}")
    match = _HEX.fullmatch(spec.strip())
    if match is None:
        raise ValueError(f"colour must be 6 hex digits like '#aabbcc', got {spec!r}")
    digits = match.group(1)
    return torch.tensor([int(digits[i : i + 2], 16) for i in (0, 2, 4)], dtype=torch.float32) / 255.0


def mean_color(rgb: Tensor) -> Tensor:
    """Mean RGB colour of each image: ``(B, 3, H, W)`` -> ``(B, 3)``."""
    check_rgb(rgb, "rgb")
    return rgb.mean((2, 3))
