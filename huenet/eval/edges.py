"""Edge-structure SSIM: SSIM between the Sobel edge maps of two images' grey levels.

Photorealistic colour and style transfer scores content preservation as the SSIM between the edge maps of the
content (source) image and the output (WCT^2, Yoo et al. 2019; issue 23 names later work such as Neural
Preset, Ke et al. 2023). A colour transfer should move colours and leave edges where they were; SSIM of
the grey levels (``huenet.eval.metrics.grey_ssim``) also drops when a method only changes contrast or brightness,
which edge maps are less sensitive to. The definition, as implemented here:

* **Grey channel**: ``huenet.eval.metrics.grey_levels``, the ITU-R 601 luma of the 8-bit image, the same channel
  grey SSIM uses.
* **Edge map**: scikit-image's ``filters.sobel`` magnitude, written in torch so a batch runs at once:
  ``g_k`` = the image convolved with ``[1, 0, -1]`` along axis ``k`` and ``[1, 2, 1] / 4`` along the other,
  ``E = sqrt((g_0^2 + g_1^2) / 2)``. Borders as scikit-image's ``mode='reflect'`` (scipy's half-sample
  symmetric: the row beyond the edge is the edge row itself), which for a 3-tap kernel is torch's
  ``'replicate'`` padding. Sobel rather than whichever detector a paper used (not always stated, so the numbers
  are not comparable to published ones): it has no weights to download or version, its smoothing makes it
  nearly isotropic (a rotated edge keeps most of its magnitude, unlike plain differences), and it is what
  scikit-image, hence the tests, computes.
* **Data range 1** for the SSIM constants ``C1 = (0.01)^2``, ``C2 = (0.03)^2``. With scikit-image's
  normalisation a unit step has magnitude 1/sqrt(2) across it and no 3 x 3 patch of [0, 1] values exceeds
  ``sqrt(10) / 4 = 0.79``, so [0, 1] bounds the edge maps as it bounds the grey levels. A fixed range keeps the
  constants the same absolute values for every image; the range of each edge map instead would make a nearly
  flat pair's few 8-bit ripples count as structure.
* **SSIM**: ``huenet.eval.metrics.ssim``, scikit-image's ``structural_similarity`` defaults (7 x 7 uniform window,
  sample covariance, the 3-pixel border of the SSIM map dropped).

Values are in [-1, 1], 1 when the edge maps are equal; a pure chroma change (luma kept) leaves it at 1 up to
8-bit rounding, a blur lowers it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from huenet.eval.metrics import check_cpu_images, grey_levels, ssim

__all__ = ["sobel_magnitude", "edge_ssim"]

_SMOOTH = (1.0, 2.0, 1.0)  # scikit-image's SOBEL_SMOOTH, divided by 4 below
_EDGE = (1.0, 0.0, -1.0)


def _sobel_kernels(dtype: torch.dtype, device: torch.device) -> Tensor:
    """``(2, 1, 3, 3)``: the derivative along rows, then along columns, each smoothed across."""
    smooth = torch.tensor(_SMOOTH, dtype=dtype, device=device) / 4.0
    edge = torch.tensor(_EDGE, dtype=dtype, device=device)
    # Correlation here, convolution in scipy: the kernel flips, which only changes the sign of g_k.
    return torch.stack((torch.outer(edge, smooth), torch.outer(smooth, edge))).unsqueeze(1)


def sobel_magnitude(grey: Tensor) -> Tensor:
    """Sobel edge magnitude, as ``skimage.filters.sobel`` of each image.

    Args:
        grey: ``(B, 1, H, W)`` floating tensor.

    Returns:
        ``(B, 1, H, W)`` float64 tensor, ``sqrt((g_0^2 + g_1^2) / 2)``, borders as ``mode='reflect'``.

    >>> step = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    >>> step[..., 2:] = 1.0  # a vertical step edge
    >>> sobel_magnitude(step)[0, 0]
    tensor([[0.0000, 0.7071, 0.7071, 0.0000],
            [0.0000, 0.7071, 0.7071, 0.0000],
            [0.0000, 0.7071, 0.7071, 0.0000],
            [0.0000, 0.7071, 0.7071, 0.0000]], dtype=torch.float64)
    """
    if grey.ndim != 4 or grey.shape[1] != 1 or not grey.is_floating_point():
        raise ValueError(f"grey must be a (B, 1, H, W) floating tensor, got {tuple(grey.shape)} {grey.dtype}")
    x = F.pad(grey.to(torch.float64), (1, 1, 1, 1), mode="replicate")
    g = F.conv2d(x, _sobel_kernels(torch.float64, grey.device))
    return torch.sqrt((g * g).sum(1, keepdim=True) / 2.0)


def edge_ssim(a: Tensor, b: Tensor) -> np.ndarray:
    """SSIM between the Sobel edge maps of the grey levels of two 8-bit images, e.g. source and output.

    Args:
        a, b: ``(B, 3, H, W)`` float RGB in [0, 1], the same shape, at least 7 x 7.

    Returns:
        ``(B,)`` float64 values in [-1, 1]; 1 for identical edge maps.

    >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> edge_ssim(x, x)
    array([1., 1.])
    >>> edge_ssim(x, x[:, [2, 0, 1]]).round(2)  # channels permuted: another luma, other edges
    array([0.24, 0.42])
    """
    check_cpu_images(a, "a")
    check_cpu_images(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (pixels are paired), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return ssim(sobel_magnitude(grey_levels(a)), sobel_magnitude(grey_levels(b)), data_range=1.0).numpy()
