"""Reinhard et al. (2001), "Color transfer between images", the baseline of paper section 3.

Each pixel goes RGB -> LMS (cone space) -> log10 -> l-alpha-beta (Ruderman's
decorrelating transform); every l-alpha-beta channel of the source is shifted
and scaled so that its mean and standard deviation become the target's, and
the result goes back through the inverse transforms::

    lab_out = (lab_src - mean_src) * std_tar / std_src + mean_tar

Choices the paper leaves open, written down here:

* RGB is used as given (gamma-encoded sRGB in [0, 1]), as the original and
  most re-implementations do; no linearisation.
* The forward RGB -> LMS matrix is Reinhard's published one. The way back uses
  its exact inverse (``torch.linalg.inv``), not the published 4-digit inverse,
  which differs from it by up to 0.017 (third row) and would make
  ``reinhard(x, x) != x``.
* log(0): RGB is clamped to at least ``eps = 1/255`` (one 8-bit level) before
  the logarithm. Black is then treated as the darkest non-black grey, any 8-bit
  image changes by at most one level, and, since every entry of the LMS matrix
  is positive, LMS stays >= ``eps * 0.0241 > 0``. A much smaller epsilon would
  send black pixels to log10 ~ -12, outliers that would dominate the l-channel
  standard deviation of any image with a few black pixels.
* Statistics are per image and per channel over all pixels, population
  standard deviation (divide by N). A constant source channel (std 0) is moved
  to the target's mean.
* Out of gamut: the transfer can leave the RGB cube; ``clip=True`` (default)
  clips the output to [0, 1]. ``clip=False`` returns the unclipped RGB, whose
  l-alpha-beta statistics (with ``rgb_to_lab(..., eps=0)``) equal the target's
  exactly: the property the method is built on.
* Computation runs in float64; the output has the source's dtype.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from huenet.core.checks import check_images, check_source_target

__all__ = ["reinhard", "rgb_to_lab", "lab_to_rgb", "match_moments", "RGB_TO_LMS", "LOG_LMS_TO_LAB"]

# Reinhard et al. 2001, Eq. 4 (the product of their RGB->XYZ and XYZ->LMS matrices).
RGB_TO_LMS = torch.tensor(
    [
        [0.3811, 0.5783, 0.0402],
        [0.1967, 0.7244, 0.0782],
        [0.0241, 0.1288, 0.8444],
    ],
    dtype=torch.float64,
)
# Reinhard et al. 2001, Eq. 6 (Ruderman et al.): diag(1/sqrt3, 1/sqrt6, 1/sqrt2) @ [[1,1,1],[1,1,-2],[1,-1,0]].
LOG_LMS_TO_LAB = torch.diag(
    torch.tensor([1 / math.sqrt(3), 1 / math.sqrt(6), 1 / math.sqrt(2)], dtype=torch.float64)
) @ torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]], dtype=torch.float64)
_LMS_TO_RGB = torch.linalg.inv(RGB_TO_LMS)
_LAB_TO_LOG_LMS = torch.linalg.inv(LOG_LMS_TO_LAB)

# One 8-bit level: see the module docstring.
EPS = 1.0 / 255.0


def _apply(matrix: Tensor, x: Tensor) -> Tensor:
    """``(3, 3) @`` every pixel of a ``(B, 3, H, W)`` tensor."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(x.device, x.dtype), x)


def rgb_to_lab(rgb: Tensor, eps: float = EPS) -> Tensor:
    """RGB -> Reinhard's l-alpha-beta, in float64.

    Args:
        rgb: ``(B, 3, H, W)`` floating tensor (in [0, 1] for images).
        eps: RGB is clamped to ``>= eps`` before the logarithm; ``eps=0``
            disables the clamp (then LMS must be positive, as it is for the
            unclipped output of ``reinhard``).

    Returns:
        ``(B, 3, H, W)`` float64 tensor: channels l, alpha, beta.
    """
    check_images(rgb, "rgb")
    x = rgb.to(torch.float64)
    if eps > 0:
        x = x.clamp_min(eps)
    return _apply(LOG_LMS_TO_LAB, torch.log10(_apply(RGB_TO_LMS, x)))


def lab_to_rgb(lab: Tensor) -> Tensor:
    """Reinhard's l-alpha-beta -> RGB (exact inverse of ``rgb_to_lab`` without the clamp).

    Args:
        lab: ``(B, 3, H, W)`` floating tensor.

    Returns:
        ``(B, 3, H, W)`` float64 RGB, not clipped (it may leave [0, 1]).
    """
    check_images(lab, "lab")
    lms = torch.pow(10.0, _apply(_LAB_TO_LOG_LMS, lab.to(torch.float64)))
    return _apply(_LMS_TO_RGB, lms)


def match_moments(source: Tensor, target: Tensor) -> Tensor:
    """Give each channel of ``source`` the mean and std of ``target``'s (per image).

    Args:
        source: ``(B, C, H, W)`` floating tensor.
        target: ``(B or 1, C, H', W')`` floating tensor.

    Returns:
        ``(B, C, H, W)`` tensor: ``(source - mean_s) * std_t / std_s + mean_t``.
    """
    mu_s = source.mean((2, 3), keepdim=True)
    sd_s = source.std((2, 3), keepdim=True, correction=0)
    mu_t = target.mean((2, 3), keepdim=True)
    sd_t = target.std((2, 3), keepdim=True, correction=0)
    # A flat source channel has nothing to scale: it lands on the target mean.
    scale = torch.where(sd_s > 0, sd_t / torch.where(sd_s > 0, sd_s, torch.ones_like(sd_s)), torch.zeros_like(sd_s))
    return (source - mu_s) * scale + mu_t


def reinhard(source: Tensor, target: Tensor, *, clip: bool = True, eps: float = EPS) -> Tensor:
    """Reinhard colour transfer of ``target``'s colour statistics onto ``source``.

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1].
        target: ``(B, 3, H', W')`` or ``(1, 3, H', W')`` RGB in [0, 1]; its size
            may differ from the source's (only its statistics are used).
        clip: clip the output to [0, 1] (out-of-gamut values); ``False`` returns
            the raw inverse transform, for checking the method's property.
        eps: RGB floor before the logarithm (default one 8-bit level).

    Returns:
        ``(B, 3, H, W)`` RGB with the source's dtype.
    """
    check_source_target(source, target)
    out = lab_to_rgb(match_moments(rgb_to_lab(source, eps), rgb_to_lab(target, eps)))
    if clip:
        out = out.clamp(0.0, 1.0)
    return out.to(source.dtype)
