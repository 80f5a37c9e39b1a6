"""Carry a change computed at a small working size to the full-resolution source, guided by the source.

The networks run at 64-192 px; a photo has millions of pixels. The change the method made at the working size is
fitted there as a local affine function of the small source's colour (the fast guided filter of He et al., "Guided
Image Filtering", ECCV 2010 / TPAMI 2013, and He & Sun, "Fast Guided Filter", arXiv:1505.00996, 2015: fit the
coefficients ``a, b`` at the small size, upsample them bilinearly, apply them to the full-size guide), so the change
follows the full-size source's edges instead of the working size's pixel grid.

Two routes:

* :func:`lift_hue` for methods that change only the hue (Hue-Net, histogram matching): the hue shift
  ``d = h_out - h_src`` is lifted as the unit vector ``(cos d, sin d)`` (so the red seam at hue 0 = 1 is not
  averaged into cyan), renormalised by taking its angle, and added to the full source's hue; saturation and value
  stay the full source's.
* :func:`lift_rgb` for any other method (e.g. a colour GAN): the RGB change ``output - source`` is lifted the same
  way and added to the full source. A guided filter of the *change*, not of the output: its regularisation pulls the
  local model towards "add a constant", which keeps the full-size source's texture, where a guided filter of the
  output itself would pull it towards "a constant colour" and blur that texture away.

Choices (see ``docs/full_resolution.md``): the guide is the small source's RGB (He's colour guided filter), because
a colour change's edges are colour edges and many have no luminance step (a red object on a green one of the same
brightness); ``radius = 2`` working-size pixels (5 x 5 windows) and ``eps = 1e-4`` (a guide standard deviation of
0.01, 2.5 8-bit levels: variation below that is treated as noise, above it the change may follow the guide).

Each lift agrees with the method at the working size's pixels: the local models are corrected there so that, applied
to the small source, they give the method's own output (for the hue route a turn of the shift vector, for the RGB
route a shift of ``b``). The guided filter's models average over windows, so without that correction the lift
smooths away whatever the output does between neighbouring working-size pixels, and the full-size output, shrunk
back, misses the working-size one (by 16 degrees of hue on average on the rocket photo at 96 px, when the correction
was added); with it the guide only decides where, between those pixels, a change falls.

The full-size step is one fused pass over the photo (:mod:`huenet.paint.lift_kernels`, numba): nothing the photo's size
is allocated but the output, and an 8-bit photo is read and written in 8 bits.

This is not the bilateral guided upsampling of Chen et al. (SIGGRAPH Asia 2016): that fits affine models in a
bilateral grid by a global sparse solve; the guided filter is closed-form, local and fits in a few lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from huenet.core.checks import check_images, check_int
from huenet.core.color import rgb_to_hsv
from huenet.paint.blend import check_strength

__all__ = ["RADIUS", "EPS", "shrink", "unit_float", "guided_coefficients", "apply_coefficients",
           "lift_hue", "lift_rgb"]

RADIUS = 2
EPS = 1e-4
_NO_MAP = np.zeros((0, 0), np.float32)  # the hue kernel's "no strength map"


def _check_parameters(radius: int, eps: float) -> None:
    check_int(radius, "radius")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")


def _check_full(image: Tensor, name: str) -> None:
    """A ``(B, 3, H, W)`` float image in [0, 1], or 8-bit (``torch.uint8``, levels 0-255)."""
    if isinstance(image, Tensor) and image.dtype == torch.uint8 and image.ndim == 4 and image.shape[1] == 3:
        return
    check_images(image, name)


def _check_triple(source_full: Tensor, source_small: Tensor, output_small: Tensor) -> None:
    _check_full(source_full, "source_full")
    check_images(source_small, "source_small")
    check_images(output_small, "output_small")
    if source_small.shape != output_small.shape:
        raise ValueError(f"source_small {tuple(source_small.shape)} and output_small {tuple(output_small.shape)} "
                         "must have the same shape")
    if source_small.shape[0] != source_full.shape[0]:
        raise ValueError(f"source_full has {source_full.shape[0]} images but source_small has {source_small.shape[0]}")
    (h, w), (big_h, big_w) = source_small.shape[-2:], source_full.shape[-2:]
    if h > big_h or w > big_w:
        raise ValueError(f"the working size {h}x{w} must not exceed the full size {big_h}x{big_w}")


def shrink(image: Tensor, long_side: int) -> Tensor:
    """Resize so that the longer side is ``long_side`` pixels (antialiased bilinear), never enlarging.

    Args:
        image: ``(B, 3, H, W)`` RGB in [0, 1], or 8-bit (``torch.uint8``: resized in 8 bits, the result rounded to
            8-bit levels, as a decoded small image would be; a photo is then never converted to float at full size).
        long_side: pixels of the longer side at the working size, >= 1.

    Returns:
        ``(B, 3, h, w)`` float RGB in [0, 1] with ``max(h, w) == min(long_side, max(H, W))``, the aspect ratio
        rounded.

    >>> shrink(torch.rand(1, 3, 300, 400), 64).shape
    torch.Size([1, 3, 48, 64])
    """
    _check_full(image, "image")
    check_int(long_side, "long_side")
    big_h, big_w = image.shape[-2:]
    scale = long_side / max(big_h, big_w)
    if scale >= 1:
        return unit_float(image) if image.dtype == torch.uint8 else image.clone()
    size = (max(1, round(big_h * scale)), max(1, round(big_w * scale)))
    small = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
    return unit_float(small).clamp(0.0, 1.0)


def _box(x: Tensor, radius: int) -> Tensor:
    """Mean over the ``(2r+1)^2`` window, clipped at the border and divided by the pixels inside (He's ``N``)."""
    return F.avg_pool2d(x, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)


def guided_coefficients(guide: Tensor, p: Tensor, radius: int = RADIUS, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Fit the colour guided filter ``q = a . I + b`` of ``p`` on ``guide`` and average it over the windows.

    Computed in float64 (the 3 x 3 solves are at the working size, so that costs nothing that matters).

    Args:
        guide: ``(B, C, h, w)`` guide ``I``.
        p: ``(B, K, h, w)`` the quantity to filter.
        radius: window radius in pixels (window ``2 radius + 1`` square).
        eps: regularisation of ``a``, in the guide's squared units.

    Returns:
        ``a`` of shape ``(B, K * C, h, w)`` (channel ``k * C + c`` multiplies guide channel ``c`` for output ``k``)
        and ``b`` of shape ``(B, K, h, w)``: the window means of He's Algorithm 1, so that ``q = sum_c a I_c + b``.

    >>> guide = torch.rand(1, 3, 8, 8)
    >>> a, b = guided_coefficients(guide, guide[:, :1] * 2 + 1)  # p is an affine function of the guide
    >>> a.shape, b.shape
    (torch.Size([1, 3, 8, 8]), torch.Size([1, 1, 8, 8]))
    """
    if guide.ndim != 4 or p.ndim != 4 or guide.shape[0] != p.shape[0] or guide.shape[-2:] != p.shape[-2:]:
        raise ValueError(f"guide (B, C, h, w) and p (B, K, h, w) must agree, got {tuple(guide.shape)} and "
                         f"{tuple(p.shape)}")
    _check_parameters(radius, eps)
    n, c, h, w = guide.shape
    k = p.shape[1]
    i, p = guide.to(torch.float64), p.to(torch.float64)
    mean_i = _box(i, radius)
    mean_p = _box(p, radius)
    corr_ii = _box((i.unsqueeze(1) * i.unsqueeze(2)).flatten(1, 2), radius).view(n, c, c, h, w)
    corr_ip = _box((i.unsqueeze(2) * p.unsqueeze(1)).flatten(1, 2), radius).view(n, c, k, h, w)
    var_i = corr_ii - mean_i.unsqueeze(1) * mean_i.unsqueeze(2)
    cov_ip = corr_ip - mean_i.unsqueeze(2) * mean_p.unsqueeze(1)
    eye = torch.eye(c, dtype=torch.float64) * eps
    # (B, h, w, C, C) \ (B, h, w, C, K): one small solve per working-size pixel
    a = torch.linalg.solve(var_i.permute(0, 3, 4, 1, 2) + eye, cov_ip.permute(0, 3, 4, 1, 2))
    a = a.permute(0, 4, 3, 1, 2)  # (B, K, C, h, w)
    b = mean_p - (a * mean_i.unsqueeze(1)).sum(2)
    return _box(a.flatten(1, 2), radius), _box(b, radius)


def _linear_taps(out_size: int, in_size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Source indices and weights of each output pixel, as ``interpolate(align_corners=False)`` has them."""
    dst = torch.arange(out_size, dtype=torch.float64)
    src = ((dst + 0.5) * (in_size / out_size) - 0.5).clamp_min(0.0)
    lo = src.floor().long().clamp_max(in_size - 1)
    hi = (lo + 1).clamp_max(in_size - 1)
    return lo, hi, (src - lo).clamp(0.0, 1.0)


def kernels():
    """:mod:`huenet.paint.lift_kernels`, imported on the first full-size lift (numba's import takes a few tenths of a
    second that a command which lifts nothing should not pay)."""
    from huenet.paint import lift_kernels

    return lift_kernels


def unit_float(image: Tensor) -> Tensor:
    """An 8-bit (``torch.uint8``) image as float32 RGB in [0, 1]; a float image as it is.

    >>> unit_float(torch.tensor([0, 51, 255], dtype=torch.uint8))
    tensor([0.0000, 0.2000, 1.0000])
    """
    return image.to(torch.float32).div_(255.0) if image.dtype == torch.uint8 else image


def apply_coefficients(a: Tensor, b: Tensor, guide: Tensor) -> Tensor:
    """``q = a . I + b`` on the guide, with ``a, b`` upsampled bilinearly to its size: the lift's fitted change,
    at whatever size the guide has (the lifts apply it at full size in one fused pass instead).

    Args:
        a: ``(B, K * C, h, w)`` and b: ``(B, K, h, w)`` from :func:`guided_coefficients`.
        guide: ``(B, C, H, W)``, ``H >= h, W >= w``.

    Returns:
        ``(B, K, H, W)`` in float64.

    >>> guide = torch.rand(1, 3, 8, 8)
    >>> a, b = guided_coefficients(guide, guide[:, :1] * 2 + 1, eps=1e-9)  # an affine p is reproduced
    >>> bool((apply_coefficients(a, b, guide) - (guide[:, :1] * 2 + 1)).abs().max() < 1e-4)
    True
    """
    n, c = guide.shape[:2]
    size = guide.shape[-2:]
    if a.shape[-2:] != size:
        a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
    return (a.view(n, -1, c, *size) * guide.to(a.dtype).unsqueeze(1)).sum(2) + b


def _full_size(source_full: Tensor, coefficients: Tensor, kernel: Callable[..., None],
               extra: Callable[[int], tuple] = lambda i: ()) -> Tensor:
    """``kernel(source, coef, lo, hi, t, *extra(i), scale, levels, offset, out)`` (one of
    :mod:`huenet.paint.lift_kernels`) on each image ``i`` of ``source_full``, with ``coefficients`` ``(B, M, h, w)``.
    The output has the source's dtype and memory layout (an 8-bit channels-last source gives an 8-bit channels-last
    output, rounded); nothing the size of the photo is allocated but the output."""
    out = torch.empty_like(source_full)
    height, width = source_full.shape[-2:]
    lo, hi, t = (x.numpy() for x in _linear_taps(height, coefficients.shape[-2]))
    eight_bit = source_full.dtype == torch.uint8
    scale, levels, offset = (1 / 255, 255.0, 0.5) if eight_bit else (1.0, 1.0, 0.0)
    # the width half of the bilinear upsampling, done once at the working size's height: (M, h, W) per image;
    # float32 coefficients are off by 1e-6, far below an 8-bit level, but not below a float's
    coefficients = coefficients.to(torch.float32 if eight_bit else torch.float64)
    widened = F.interpolate(coefficients, size=(coefficients.shape[-2], width), mode="bilinear", align_corners=False)
    for i in range(source_full.shape[0]):
        kernel(source_full[i].permute(1, 2, 0).numpy(), widened[i].numpy(), lo, hi, t, *extra(i), scale, levels,
               offset, out[i].permute(1, 2, 0).numpy())
    return out


def _per_image(strength: float | Tensor) -> Callable[[int], tuple[float, np.ndarray]]:
    """The hue kernel's strength and map for image ``i`` of a batch: a number with an empty map, or 1 with that
    image's map (a one-image map serves the whole batch)."""
    if not isinstance(strength, Tensor):
        return lambda i: (strength, _NO_MAP)
    maps = strength[:, 0].to(torch.float32).numpy()
    return lambda i: (1.0, maps[min(i, len(maps) - 1)])


def _agreeing(a: Tensor, b: Tensor, guide: Tensor, want: Tensor) -> tuple[Tensor, Tensor]:
    """The lift's shift-vector coefficients turned, at each working-size pixel, by the angle between what they give
    there and the method's own shift ``want`` ``(B, h, w)`` (radians): the lift then agrees with the working-size
    output at the working size's pixels, and in between the guide still places the edges. A turn of the model
    ``q = a . I + b`` is ``(R a) . I + R b``, still a local affine model, so it costs nothing per full-size pixel."""
    n, c = guide.shape[:2]
    q = apply_coefficients(a, b, guide)
    turn = want - torch.atan2(q[:, 1], q[:, 0])
    cos, sin = torch.cos(turn).unsqueeze(1), torch.sin(turn).unsqueeze(1)
    a = a.view(n, 2, c, *a.shape[-2:])
    a = torch.stack((cos * a[:, 0] - sin * a[:, 1], sin * a[:, 0] + cos * a[:, 1]), 1).flatten(1, 2)
    return a, torch.cat((cos * b[:, :1] - sin * b[:, 1:], sin * b[:, :1] + cos * b[:, 1:]), 1)


def lift_hue(source_full: Tensor, source_small: Tensor, output_small: Tensor, *, strength: float | Tensor = 1.0,
             radius: int = RADIUS, eps: float = EPS) -> Tensor:
    """Apply the hue change ``source_small -> output_small`` to the full-size source.

    Args:
        source_full: ``(B, 3, H, W)`` RGB in [0, 1], or 8-bit (``torch.uint8``; the output is then 8-bit too,
            rounded, with the source's memory layout, so a photo is never held in float at full size).
        source_small: ``(B, 3, h, w)``, the source resized down (e.g. :func:`shrink`), ``h <= H, w <= W``.
        output_small: ``(B, 3, h, w)``, the method's output at the working size; only its hue is used.
        strength: how far along the lifted shift each pixel moves: a number or a ``(B or 1, 1, H, W)`` map in
            [0, 1], e.g. a mask times ``--strength``; ``h_src + strength * d`` is ``huenet.paint.blend.blend_hue``'s
            shorter way round, since ``d`` lies within half a turn.
        radius: guided-filter window radius, in working-size pixels.
        eps: guided-filter regularisation (guide is RGB in [0, 1]).

    Returns:
        ``(B, 3, H, W)``: ``hsv_to_rgb(h_src + strength * d, S_src, V_src)``, ``d`` the lifted hue shift (the
        method's own at the working size's pixels); pixels whose shift is exactly 0 (strength 0 among them) are the
        source's own values (so an unchanged image comes back bit for bit).

    >>> source = torch.rand(1, 3, 32, 32)
    >>> small = shrink(source, 8)
    >>> bool(torch.equal(lift_hue(source, small, small), source))
    True
    """
    _check_triple(source_full, source_small, output_small)
    _check_parameters(radius, eps)
    strength = check_strength(strength, source_full)
    d = 2 * math.pi * (rgb_to_hsv(output_small)[:, 0] - rgb_to_hsv(source_small)[:, 0])
    a, b = guided_coefficients(source_small, torch.stack((torch.cos(d), torch.sin(d)), 1), radius, eps)
    a, b = _agreeing(a, b, source_small, d)
    return _full_size(source_full, torch.cat((a, b), 1), kernels().paint_hue_shift, _per_image(strength))


def lift_rgb(source_full: Tensor, source_small: Tensor, output_small: Tensor, *, radius: int = RADIUS,
             eps: float = EPS) -> Tensor:
    """Apply the RGB change ``source_small -> output_small`` to the full-size source.

    Args:
        source_full: ``(B, 3, H, W)`` RGB in [0, 1], or 8-bit (the output is then 8-bit too, as in :func:`lift_hue`).
        source_small: ``(B, 3, h, w)``, the source resized down, ``h <= H, w <= W``.
        output_small: ``(B, 3, h, w)``, any method's output at the working size.
        radius: guided-filter window radius, in working-size pixels.
        eps: guided-filter regularisation.

    Returns:
        ``(B, 3, H, W)``: ``clip(source_full + q)``, ``q`` the guided-filter lift of ``output_small - source_small``
        (that change itself at the working size's pixels).

    >>> source = torch.rand(1, 3, 32, 32)
    >>> small = shrink(source, 8)
    >>> bool(torch.equal(lift_rgb(source, small, small), source))
    True
    """
    _check_triple(source_full, source_small, output_small)
    _check_parameters(radius, eps)
    change = output_small.to(torch.float64) - source_small.to(torch.float64)
    a, b = guided_coefficients(source_small, change, radius, eps)
    b = b + change - apply_coefficients(a, b, source_small)  # agree with the output at the working size's pixels
    return _full_size(source_full, torch.cat((a, b), 1), kernels().paint_rgb_change)
