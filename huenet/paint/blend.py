"""Strength and masks: paint a transfer's output over the source only partly, or only somewhere.

One rule for both: a strength is a number in [0, 1] or a per-pixel map ``(B, 1, H, W)`` in [0, 1], and a mask is
a strength map (white paints, black keeps the source, grey blends). Two blends:

* :func:`blend_hue` for methods that change only the hue (Hue-Net, histogram matching): the hue moves the shorter
  way round the circle, ``h = h_src + strength * wrap(h_out - h_src)`` with ``wrap`` to [-0.5, 0.5) turns, so half
  way from 0.95 to 0.05 is 0.0 (red), not 0.5 (cyan); saturation and value are the output's (the source's, for
  those methods). An exact half turn goes the negative way (``wrap(0.5) = -0.5``).
* :func:`blend_lab` for any other method: a straight line in CIELAB (``huenet.core.cielab``, D65), where equal steps
  look roughly equal; the result is clipped to [0, 1], since CIELAB lines between two sRGB colours can leave the
  sRGB gamut.

Where the strength is exactly 0 the result is the source's own values, bit for bit; elsewhere it is computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from huenet.core.checks import check_images
from huenet.core.cielab import cielab_to_rgb, rgb_to_cielab
from huenet.core.color import hsv_to_rgb, rgb_to_hsv

__all__ = ["wrap", "check_strength", "blend_hue", "blend_lab", "apply_mask", "TILE_PIXELS"]

Strength = float | Tensor
# pixels a tile: the float64 temporaries of one tile stay near 100 MB
TILE_PIXELS = 1 << 18


def wrap(turns: Tensor) -> Tensor:
    """A hue difference in turns, wrapped to [-0.5, 0.5): the shorter way round.

    >>> wrap(torch.tensor([0.1, -0.9, 0.5, 0.7]))
    tensor([ 0.1000,  0.1000, -0.5000, -0.3000])
    """
    return torch.remainder(turns + 0.5, 1.0) - 0.5


def _check_pair(source: Tensor, output: Tensor) -> None:
    check_images(source, "source")
    check_images(output, "output")
    if source.shape != output.shape:
        raise ValueError(f"source {tuple(source.shape)} and output {tuple(output.shape)} must have the same shape")


def check_strength(strength: Strength, source: Tensor, name: str = "strength") -> Strength:
    """A float in [0, 1], or a ``(B or 1, 1, H, W)`` floating map in [0, 1] for a ``(B, 3, H, W)`` source, returned
    as a float or as the map in the source's float dtype (float32 for an 8-bit source); raise a one-line
    ``ValueError`` otherwise."""
    if isinstance(strength, Tensor):
        b, _, h, w = source.shape
        if strength.ndim != 4 or strength.shape[1] != 1 or strength.shape[0] not in (1, b) or \
                strength.shape[-2:] != (h, w):
            raise ValueError(f"{name} map must have shape ({b}, 1, {h}, {w}) or (1, 1, {h}, {w}) for a source of "
                             f"{tuple(source.shape)}, got {tuple(strength.shape)}")
        if not strength.is_floating_point():
            raise ValueError(f"{name} map must be a floating tensor in [0, 1], got {strength.dtype}")
        if strength.isnan().any() or (strength < 0).any() or (strength > 1).any():
            raise ValueError(f"{name} map values must lie in [0, 1] (no NaN), got min {strength.min().item():g} and "
                             f"max {strength.max().item():g}")
        return strength.to(source.device, source.dtype if source.is_floating_point() else torch.float32)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
        raise ValueError(f"{name} must be a number in [0, 1] or a (B, 1, H, W) tensor, got {type(strength).__name__}")
    if math.isnan(strength) or not 0 <= strength <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {strength!r}")
    return float(strength)


def _hue_rows(source: Tensor, output: Tensor, strength: Strength) -> Tensor:
    """:func:`blend_hue` on a few rows, in float64 (float32 would cost 7e-7 at strength 1, all in the HSV trip)."""
    hsv_src, hsv_out = rgb_to_hsv(source.to(torch.float64)), rgb_to_hsv(output.to(torch.float64))
    weight = strength.to(torch.float64) if isinstance(strength, Tensor) else strength
    hue = torch.remainder(hsv_src[:, :1] + weight * wrap(hsv_out[:, :1] - hsv_src[:, :1]), 1.0)
    return hsv_to_rgb(torch.cat((hue, hsv_out[:, 1:]), 1))


def _lab_rows(source: Tensor, output: Tensor, strength: Strength) -> Tensor:
    """:func:`blend_lab` on a few rows (the CIELAB conversions run in float64)."""
    lab_src, lab_out = rgb_to_cielab(source), rgb_to_cielab(output)
    weight = strength.to(torch.float64) if isinstance(strength, Tensor) else strength
    return cielab_to_rgb(lab_src + weight * (lab_out - lab_src)).clamp(0.0, 1.0)


def _by_rows(blend: Callable[[Tensor, Tensor, Strength], Tensor], source: Tensor, output: Tensor,
             strength: Strength) -> Tensor:
    """Run a per-pixel float64 blend in row tiles (memory: a tile, not a 12 MP photo in float64), cast back, and keep
    the source's own values where the strength is exactly 0."""
    out = torch.empty_like(source)
    height, width = source.shape[-2:]
    rows = max(1, TILE_PIXELS // max(width, 1))
    for start in range(0, height, rows):
        tile = slice(start, start + rows)
        weight = strength[:, :, tile] if isinstance(strength, Tensor) else strength
        blended = blend(source[:, :, tile], output[:, :, tile], weight).to(source.dtype)
        if isinstance(weight, Tensor):
            blended = torch.where(weight == 0, source[:, :, tile], blended)
        out[:, :, tile] = blended
    return out


def _blend(rows: Callable[[Tensor, Tensor, Strength], Tensor], source: Tensor, output: Tensor,
           strength: Strength) -> Tensor:
    """The checks and the exact strength-0 shortcut both blends share, then ``rows`` tile by tile."""
    _check_pair(source, output)
    strength = check_strength(strength, source)
    if not isinstance(strength, Tensor) and strength == 0:
        return source.clone()
    return _by_rows(rows, source, output, strength)


def blend_hue(source: Tensor, output: Tensor, strength: Strength) -> Tensor:
    """Move each pixel's hue from the source's towards the output's by ``strength``, the shorter way round.

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1].
        output: ``(B, 3, H, W)`` a hue-only method's output for it.
        strength: a float in [0, 1] or a ``(B or 1, 1, H, W)`` map in [0, 1].

    Returns:
        ``(B, 3, H, W)``: ``hsv_to_rgb(h_src + strength * wrap(h_out - h_src), S_out, V_out)``, computed in
        float64, in the source's dtype; the source itself where the strength is 0.

    >>> red_ish = hsv_to_rgb(torch.tensor([0.95, 1.0, 1.0]).view(1, 3, 1, 1))
    >>> orange_ish = hsv_to_rgb(torch.tensor([0.05, 1.0, 1.0]).view(1, 3, 1, 1))
    >>> blend_hue(red_ish, orange_ish, 0.5).flatten().round(decimals=6)  # pure red, half way across the seam
    tensor([1., 0., 0.])
    """
    return _blend(_hue_rows, source, output, strength)


def blend_lab(source: Tensor, output: Tensor, strength: Strength) -> Tensor:
    """Blend linearly in CIELAB: ``lab_src + strength * (lab_out - lab_src)``, back to sRGB, clipped to [0, 1].

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1].
        output: ``(B, 3, H, W)`` any method's output for it.
        strength: a float in [0, 1] or a ``(B or 1, 1, H, W)`` map in [0, 1].

    Returns:
        ``(B, 3, H, W)`` in the source's dtype (computed in float64); the source itself where the strength is 0.

    >>> black, white = torch.zeros(1, 3, 1, 1), torch.ones(1, 3, 1, 1)
    >>> blend_lab(black, white, 0.5).flatten()  # L* = 50: a mid grey, darker than RGB's 0.5 average
    tensor([0.4663, 0.4663, 0.4663])
    """
    return _blend(_lab_rows, source, output, strength)


def apply_mask(source: Tensor, output: Tensor, mask: Tensor, *, space: str, strength: float = 1.0) -> Tensor:
    """Paint ``output`` over ``source`` where ``mask`` is white, at ``strength``; a soft mask blends.

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1].
        output: ``(B, 3, H, W)`` the method's output.
        mask: ``(B or 1, 1, H, W)`` floating, in [0, 1]: 1 paints, 0 keeps the source.
        space: ``"hue"`` (:func:`blend_hue`, for hue-only methods) or ``"lab"`` (:func:`blend_lab`).
        strength: a float in [0, 1] multiplying the mask.

    Returns:
        ``(B, 3, H, W)``: the blend with strength map ``mask * strength``.

    >>> source, output = torch.zeros(1, 3, 1, 2), torch.ones(1, 3, 1, 2)
    >>> apply_mask(source, output, torch.tensor([[[[1.0, 0.0]]]]), space="lab")[0, 0]
    tensor([[1., 0.]])
    """
    blends = {"hue": blend_hue, "lab": blend_lab}
    if space not in blends:
        raise ValueError(f"space must be 'hue' or 'lab', got {space!r}")
    check_images(source, "source")
    mask = check_strength(mask, source, "mask")
    if not isinstance(mask, Tensor):
        raise ValueError(f"mask must be a (B, 1, H, W) tensor, got {type(mask).__name__}")
    strength = check_strength(strength, source)
    if isinstance(strength, Tensor):
        raise ValueError("strength must be a number when a mask is given: multiply the maps into one mask")
    # a product of two numbers in [0, 1] stays in [0, 1], and 0 stays exactly 0
    return blends[space](source, output, mask * strength)
