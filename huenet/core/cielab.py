"""sRGB <-> CIE 1976 L*a*b* (D65) on ``(B, 3, H, W)`` tensors, in float64.

Not Reinhard's l-alpha-beta (``huenet.baselines.reinhard.rgb_to_lab``): that one is a log-LMS space built for moment
matching, with black clamped to one 8-bit level before the logarithm, so it cannot return black; this one is the
CIELAB of colour science, for blending (``huenet.paint.blend``), where black must stay black.

Choices: sRGB decoding and encoding as IEC 61966-2-1 (linear below 0.04045 / 0.0031308), extended to negative
values by symmetry so that out-of-gamut blends stay finite; the linear-RGB -> XYZ matrix is scikit-image's
(``skimage.color.xyz_from_rgb``, the sRGB primaries); the white point is that matrix applied to RGB white, so every
grey has a* = b* = 0 exactly (scikit-image's D65 tuple differs from it by 1e-5, 0.003 in a* and b*).
"""

from __future__ import annotations

import torch
from torch import Tensor

from huenet.core.checks import check_images

__all__ = ["rgb_to_cielab", "cielab_to_rgb", "XYZ_FROM_RGB", "WHITE"]

XYZ_FROM_RGB = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
WHITE = XYZ_FROM_RGB.sum(1)
_RGB_FROM_XYZ = torch.linalg.inv(XYZ_FROM_RGB)
_DELTA = 6.0 / 29.0


def _apply(matrix: Tensor, x: Tensor) -> Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(x.device), x)


def _decode(c: Tensor) -> Tensor:
    a = c.abs()
    return torch.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4) * c.sign()


def _encode(c: Tensor) -> Tensor:
    a = c.abs()
    return torch.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055) * c.sign()


def rgb_to_cielab(rgb: Tensor) -> Tensor:
    """sRGB -> CIELAB.

    Args:
        rgb: ``(B, 3, H, W)`` floating tensor, sRGB in [0, 1].

    Returns:
        ``(B, 3, H, W)`` float64: L* in [0, 100], a*, b*.

    >>> lab = rgb_to_cielab(torch.tensor([1.0, 0.5, 0.0, 1.0, 0.5, 0.0, 1.0, 0.5, 0.0]).view(1, 3, 1, 3))
    >>> lab[0, :, 0].round(decimals=2)  # white, mid grey, black
    tensor([[100.0000,  53.3900,   0.0000],
            [  0.0000,   0.0000,   0.0000],
            [  0.0000,   0.0000,   0.0000]], dtype=torch.float64)
    """
    check_images(rgb, "rgb")
    xyz = _apply(XYZ_FROM_RGB, _decode(rgb.to(torch.float64))) / WHITE.to(rgb.device).view(1, 3, 1, 1)
    f = torch.where(xyz > _DELTA**3, xyz.clamp_min(_DELTA**3) ** (1 / 3), xyz / (3 * _DELTA**2) + 4 / 29)
    fx, fy, fz = f.unbind(1)
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)), 1)


def cielab_to_rgb(lab: Tensor) -> Tensor:
    """CIELAB -> sRGB, the inverse of :func:`rgb_to_cielab`.

    Args:
        lab: ``(B, 3, H, W)`` floating tensor.

    Returns:
        ``(B, 3, H, W)`` float64 sRGB, not clipped (a blend may leave the gamut).

    >>> rgb = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    >>> bool((cielab_to_rgb(rgb_to_cielab(rgb)) - rgb).abs().max() < 1e-12)
    True
    """
    check_images(lab, "lab")
    lab = lab.to(torch.float64)
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack((fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200), 1)
    xyz = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29)) * WHITE.to(lab.device).view(1, 3, 1, 1)
    return _encode(_apply(_RGB_FROM_XYZ, xyz))
