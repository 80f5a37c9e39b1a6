"""Cyclic hue histogram matching: the classical method the paper's EMD loss rewards directly.

The source's hue is remapped so that its histogram becomes the target's while
saturation and value stay the source's: ``out = hsv_to_rgb(T(H_src), S_src, V_src)``.

Hue lives on a circle, so plain quantile (CDF) matching depends on where the
circle is cut open. The cut used here is the optimal one for Wasserstein-1:
with ``K`` hard bins, ``D_k = F_src(b_k) - F_tar(b_k)`` the CDF difference at
bin boundary ``b_k = (k + 1) / K``, the circle is cut at a boundary where
``D_k`` equals its median (``huenet.core.losses.cyclic_w1`` computes the distance
with the same median). Measured from that point, both CDFs are shifted by
the same constant as ``D - median(D)``, so the 1D W1 of the unrolled histograms
equals the circular W1, and the monotone (quantile) map of the unrolled line
is an optimal transport map on the circle (Rabin, Delon & Gousseau 2011).

On the unrolled circle each histogram is read as a piecewise-uniform density
(mass spread evenly inside its bin), so both CDFs are piecewise linear:

    T(u) = F_tar^{-1}(F_src(u))

is continuous and non-decreasing and does not snap hues to bin centres; the
result is wrapped back by adding the cut and taking it mod 1.

Grey pixels (S = 0) have hue 0 by convention (``huenet.core.color``), are counted
in the source histogram like every other pixel, get a new hue like every other
pixel, and stay grey in RGB. This is the convention the 8-bit metrics use too.
"""

from __future__ import annotations

import torch
from torch import Tensor

from huenet.core.checks import check_source_target
from huenet.core.color import hsv_to_rgb, rgb_to_hsv

__all__ = ["hue_histogram_matching", "match_cyclic"]


def _bin_index(h: Tensor, bins: int) -> Tensor:
    """Hard bin of each hue in [0, 1): ``(B, N)`` float -> ``(B, N)`` int64 in [0, K)."""
    return (h * bins).floor().long().clamp(0, bins - 1)


def _hard_histogram(idx: Tensor, bins: int) -> Tensor:
    """``(B, N)`` bin indices -> ``(B, K)`` float64 histogram summing to 1."""
    ones = torch.ones_like(idx, dtype=torch.float64)
    hist = torch.zeros(idx.shape[0], bins, dtype=torch.float64, device=idx.device).scatter_add_(1, idx, ones)
    return hist / idx.shape[1]


def _roll_rows(x: Tensor, shift: Tensor) -> Tensor:
    """Row ``b`` rolled left by ``shift[b]``: ``out[b, j] = x[b, (j + shift[b]) mod K]``."""
    k = x.shape[1]
    idx = torch.remainder(torch.arange(k, device=x.device).view(1, k) + shift.view(-1, 1), k)
    return x.gather(1, idx)


def match_cyclic(h_src: Tensor, h_tar: Tensor, bins: int = 256) -> Tensor:
    """Remap cyclic values so that their histogram matches another's.

    Args:
        h_src: ``(B, N)`` values in [0, 1) (hue) to remap.
        h_tar: ``(B, M)`` values in [0, 1) whose distribution is wanted.
        bins: number of histogram bins ``K`` used for both CDFs.

    Returns:
        ``(B, N)`` float64 remapped values in [0, 1).
    """
    if h_src.ndim != 2 or h_tar.ndim != 2 or h_src.shape[0] != h_tar.shape[0]:
        shapes = f"{tuple(h_src.shape)} and {tuple(h_tar.shape)}"
        raise ValueError(f"h_src and h_tar must be (B, N) and (B, M), got {shapes}")
    if not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    h_src = torch.remainder(h_src.to(torch.float64), 1.0)
    h_tar = torch.remainder(h_tar.to(torch.float64), 1.0)
    idx_src = _bin_index(h_src, bins)
    p_src = _hard_histogram(idx_src, bins)
    p_tar = _hard_histogram(_bin_index(h_tar, bins), bins)

    # Optimal cut: the boundary (k + 1) / K where D_k = median(D). torch.median
    # returns one of the K values (the lower median) and its index.
    d = torch.cumsum(p_src - p_tar, -1)
    shift = torch.remainder(d.median(-1).indices + 1, bins)  # first bin after the cut
    cut = shift.to(torch.float64) / bins

    # Unroll the circle from the cut: bin j of the rolled histograms is bin j + shift.
    p_src = _roll_rows(p_src, shift)
    p_tar = _roll_rows(p_tar, shift)
    zero = p_src.new_zeros(p_src.shape[0], 1)
    c_src = torch.cat((zero, torch.cumsum(p_src, -1)), -1)  # CDF at the K + 1 boundaries
    c_tar = torch.cat((zero, torch.cumsum(p_tar, -1)), -1)

    # F_src at each source value, linear inside its bin.
    j = torch.remainder(idx_src - shift.view(-1, 1), bins)
    frac = (h_src * bins - idx_src).clamp(0.0, 1.0)
    q = c_src.gather(1, j) + p_src.gather(1, j) * frac

    # F_tar^{-1}(q): the first bin whose upper CDF exceeds q has positive mass.
    # Keep q just below the target's total so that rounding never asks for the
    # quantile past the last non-empty bin.
    q = torch.minimum(q.clamp_min(0.0), c_tar[:, -1:] * (1.0 - 1e-12))
    jt = (torch.searchsorted(c_tar[:, 1:].contiguous(), q.contiguous(), right=True)).clamp(max=bins - 1)
    lower = c_tar.gather(1, jt)
    mass = p_tar.gather(1, jt)
    inside = torch.where(mass > 0, (q - lower) / torch.where(mass > 0, mass, torch.ones_like(mass)), torch.ones_like(q))
    u = (jt.to(torch.float64) + inside.clamp(0.0, 1.0)) / bins
    out = torch.remainder(u + cut.view(-1, 1), 1.0)
    return torch.where(out >= 1.0, out - 1.0, out)  # remainder of -tiny can round to 1.0


def hue_histogram_matching(source: Tensor, target: Tensor, bins: int = 256) -> Tensor:
    """Give ``source`` the hue histogram of ``target``, keeping its S and V.

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1].
        target: ``(B, 3, H', W')`` or ``(1, 3, H', W')`` RGB in [0, 1]; any size.
        bins: histogram bins for the CDFs (the mapping interpolates inside bins).

    Returns:
        ``(B, 3, H, W)`` RGB with the source's dtype.
    """
    check_source_target(source, target)
    b, _, h, w = source.shape
    hsv = rgb_to_hsv(source.to(torch.float64).clamp(0.0, 1.0))
    h_tar = rgb_to_hsv(target.to(torch.float64).clamp(0.0, 1.0))[:, 0].flatten(1).expand(b, -1)
    new_hue = match_cyclic(hsv[:, 0].flatten(1), h_tar, bins).view(b, 1, h, w)
    return hsv_to_rgb(torch.cat((new_hue, hsv[:, 1:]), 1)).to(source.dtype)
