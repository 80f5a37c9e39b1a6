"""HistoGAN's RGB-uv histogram and the Hellinger distance between two images' histograms.

Afifi, Brubaker & Brown, "HistoGAN: Controlling Colors of GAN-Generated and Real Images via Color
Histograms", CVPR 2021, Eq. 1-3; their ``RGBuvHistBlock`` (``histogram_classes/RGBuvHistBlock.py``) with its
defaults. The definition, as implemented here:

* **Input.** ``(B, 3, H, W)`` RGB in [0, 1], first quantised to 8 bits (``round(255 x) / 255``) as every
  Table 1 metric is (``huenet.eval.metrics``): outputs are scored as they would be saved, and HistoGAN computes its
  histograms of decoded image files, which are 8-bit too.
* **Size.** An image with a side over 150 px is resized to 150 x 150 (the aspect ratio is not kept, as in
  HistoGAN), bilinear with antialiasing (``F.interpolate(..., antialias=True)``). HistoGAN's default
  (``resizing='interpolation'``) is bilinear *without* antialiasing, which on a large downscale samples a few
  pixels per output pixel; ``antialias=False`` reproduces that. Images up to 150 px are used as they are.
* **Coordinates.** For each channel ``c`` of R, G, B and the other two channels ``o1, o2`` in RGB order,
  ``u = log(I_c + eps) - log(I_o1 + eps)``, ``v = log(I_c + eps) - log(I_o2 + eps)``, ``eps = 1e-6``: plane R
  is ``(log R/G, log R/B)``, G is ``(log G/R, log G/B)``, B is ``(log B/R, log B/G)``.
* **Bins and kernel.** 64 bin centres ``linspace(-3, 3, 64)`` on each axis (spacing 6/63). A pixel adds
  ``k(u - c_i) k(v - c_j)`` to bin ``(i, j)`` of its channel's plane, with the inverse-quadratic kernel
  ``k(d) = 1 / (1 + (d / 0.02)^2)``. The range is HistoGAN's and has a consequence worth knowing: a pixel
  whose two channels differ by more than a factor ``e^3 = 20`` (a channel at or near 0: saturated primaries,
  deep shadows with one channel at level 0) lies beyond +-3 on an axis and adds only its kernel's tails,
  about 1e-4 of an in-range pixel's mass. Such pixels are all but ignored unless the whole image is made of
  them (half an image of pure red moves a grey image's histogram by a Hellinger distance of 0.0009).
* **Intensity weight.** Each pixel's contribution is multiplied by ``sqrt(R^2 + G^2 + B^2 + eps)``, so dark
  pixels, whose log-chroma is noise, count little.
* **Normalisation.** One division by the sum over all three 64 x 64 planes together: the histogram sums to 1
  and the planes keep their relative mass. HistoGAN divides by that sum plus 1e-6; the sum here is never
  below about 1e-3 (the weight of one black pixel times its kernel mass), so the difference is a relative
  1e-6 or less, and dropping it makes the histogram sum to exactly 1.
* **Precision.** float64 throughout; HistoGAN's kernels and planes are float32.

**Hellinger distance.** HistoGAN's histogram loss is ``(1 / sqrt 2) ||sqrt(p) - sqrt(q)||_2`` (``SCALE``
times the Frobenius norm in ``ReHistoGAN/rehistoGAN.py``; there it is taken over the whole batch at once and
divided by the batch size). Here it is per image: ``H(p, q) = (1 / sqrt 2) ||sqrt(p) - sqrt(q)||_2``, which
equals ``sqrt(1 - sum sqrt(p q))`` (one minus the Bhattacharyya coefficient) because both histograms sum to
1. The norm form is the one computed: it is exactly 0 for identical histograms, where ``1 - BC`` loses all
its digits to cancellation. Values lie in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from huenet.eval.metrics import check_cpu_images, quantize_8bit

__all__ = ["EPS", "BINS", "BOUNDARY", "SIGMA", "MAX_SIZE", "bin_centres", "rgbuv_histogram", "rgbuv_hellinger"]

EPS = 1e-6  # HistoGAN's EPS: inside the logarithms and the intensity weight
BINS = 64
BOUNDARY = 3.0  # bin centres span [-3, 3]
SIGMA = 0.02  # inverse-quadratic kernel width
MAX_SIZE = 150  # larger images are resized to 150 x 150 first
# Each (chunk, 3, N, 64) kernel tensor is kept to ~64 MB in float64: B = 64 images of 64 x 64 run in 7 chunks.
_CHUNK_ELEMENTS = 2**23
# HistoGAN's plane order: for channel c, the two channels it is divided by.
_OTHERS = ((1, 2), (0, 2), (0, 1))


def bin_centres() -> Tensor:
    """The 64 bin centres ``linspace(-3, 3, 64)`` shared by both axes: ``(64,)`` float64."""
    return torch.linspace(-BOUNDARY, BOUNDARY, BINS, dtype=torch.float64)


def _prepare(rgb: Tensor, antialias: bool) -> Tensor:
    """8-bit levels, resized to 150 x 150 when a side is larger: ``(B, 3, H', W')`` float64 in [0, 1]."""
    x = quantize_8bit(rgb).to(torch.float64) / 255.0
    if x.shape[-2] > MAX_SIZE or x.shape[-1] > MAX_SIZE:
        x = F.interpolate(x, size=(MAX_SIZE, MAX_SIZE), mode="bilinear", align_corners=False, antialias=antialias)
    return x.clamp(0.0, 1.0)  # bilinear weights are >= 0: this only removes rounding below 0 before the log


def _kernel(coord: Tensor, centres: Tensor) -> Tensor:
    """Inverse-quadratic weights of coordinates to every bin centre: ``(..., N)`` -> ``(..., N, 64)``."""
    # in place on the one (..., N, 64) tensor: Table 1 builds these for thousands of images, and each
    # temporary of that size costs more than the arithmetic (5.7x slower measured)
    scaled = (coord.unsqueeze(-1) - centres).mul_(1.0 / SIGMA)
    return scaled.mul_(scaled).add_(1.0).reciprocal_()


def rgbuv_histogram(rgb: Tensor, *, antialias: bool = True) -> Tensor:
    """HistoGAN's RGB-uv histogram of each image (module docstring for every choice).

    Args:
        rgb: ``(B, 3, H, W)`` float RGB in [0, 1].
        antialias: antialias the resize of images over 150 px; ``False`` is HistoGAN's own resize.

    Returns:
        ``(B, 3, 64, 64)`` float64 tensor, each image's three planes summing to 1 together; plane ``c``
        is indexed ``[u bin, v bin]``.

    >>> grey = torch.full((1, 3, 4, 4), 0.5)
    >>> hist = rgbuv_histogram(grey)
    >>> hist.shape, round(float(hist.sum()), 12)
    (torch.Size([1, 3, 64, 64]), 1.0)
    >>> [round(float(plane.sum()), 3) for plane in hist[0]]  # u = v = 0 in every plane: equal thirds
    [0.333, 0.333, 0.333]
    """
    check_cpu_images(rgb, "rgb")
    x = _prepare(rgb, antialias).flatten(2)  # (B, 3, N)
    log = torch.log(x + EPS)
    u = torch.stack([log[:, c] - log[:, o1] for c, (o1, _) in enumerate(_OTHERS)], 1)  # (B, 3, N)
    v = torch.stack([log[:, c] - log[:, o2] for c, (_, o2) in enumerate(_OTHERS)], 1)
    weight = torch.sqrt((x * x).sum(1, keepdim=True) + EPS)  # (B, 1, N)
    centres = bin_centres()
    chunk = max(1, _CHUNK_ELEMENTS // (3 * x.shape[-1] * BINS))
    planes = []
    for i in range(0, x.shape[0], chunk):
        ku = _kernel(u[i : i + chunk], centres) * weight[i : i + chunk].unsqueeze(-1)  # (b, 3, N, 64)
        kv = _kernel(v[i : i + chunk], centres)
        planes.append(torch.einsum("bcni,bcnj->bcij", ku, kv))
    hist = torch.cat(planes)
    return hist / hist.sum((1, 2, 3), keepdim=True)


def rgbuv_hellinger(a: Tensor, b: Tensor, *, antialias: bool = True) -> np.ndarray:
    """Hellinger distance between the RGB-uv histograms of paired images (HistoGAN's histogram loss).

    ``H(p, q) = (1 / sqrt 2) ||sqrt(p) - sqrt(q)||_2 = sqrt(1 - sum sqrt(p q))`` per image, over all
    3 x 64 x 64 bins.

    Args:
        a, b: ``(B, 3, H, W)`` and ``(B, 3, H', W')`` float RGB in [0, 1]; the sizes may differ (only the
            histograms are compared).
        antialias: as in :func:`rgbuv_histogram`.

    Returns:
        ``(B,)`` float64 distances in [0, 1]; 0 for identical histograms.

    >>> x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> rgbuv_hellinger(x, x)
    array([0., 0.])
    >>> bool((rgbuv_hellinger(x, x.flip(1)) > 0.05).all())  # R and B swapped
    True
    """
    check_cpu_images(a, "a")
    check_cpu_images(b, "b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must have the same batch size, got {a.shape[0]} and {b.shape[0]}")
    p = rgbuv_histogram(a, antialias=antialias).flatten(1)
    q = rgbuv_histogram(b, antialias=antialias).flatten(1)
    distance = torch.linalg.vector_norm(p.sqrt() - q.sqrt(), dim=1) / math.sqrt(2.0)
    return distance.clamp(0.0, 1.0).numpy()
