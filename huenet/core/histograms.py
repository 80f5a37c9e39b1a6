"""Differentiable 1D, cyclic and joint histograms (paper Eq. 1-7, 19-24).

Values ``x`` lie in [0, 1]. With ``K`` bins of width ``L = 1/K``, centres
``mu_k = (k + 1/2) L`` and kernel width ``W = L / r`` (``r`` is
``kernel_width_ratio``), a pixel's contribution to bin ``k`` is the paper's
sigmoid difference (Eq. 6)::

    Pi_k(x) = sigmoid((x - mu_k + L/2) / W) - sigmoid((x - mu_k - L/2) / W)

i.e. the mass of a logistic kernel centred on ``x`` that falls inside bin ``k``.
The paper leaves the kernel's tails beyond the ends of [0, 1] unassigned; here
they are folded back so that each pixel keeps its mass:

* ``cyclic=True`` (hue): the kernel is wrapped around the circle, i.e. the
  images of ``x`` at ``x + m`` for integers ``m`` contribute too;
* ``cyclic=False``: the kernel is reflected about 0 and 1, i.e. the images at
  ``2m + x`` and ``2m - x`` contribute.

Images are kept up to ``n`` periods away, with ``n`` the smallest integer for
which the kernel mass beyond them (``sigmoid(-n K r)``) is below 1e-16: one
period for the usual ``K r >= 37`` (three images, as in the paper's picture),
more for coarse histograms. The fold is then exact to double precision, so a
cyclic histogram rolls by exactly one bin when the hue moves by one bin width.
Histograms are divided by their total so that each sums to 1.

Two implementations share this interface:

* ``impl="dense"``: the paper's construction word for word: ``K`` replicated
  channels, ``Pi`` applied to each, a mean over pixels (1D) or the matrix
  product ``Pi_x^T Pi_y / N`` (joint). ``O(N K)`` and ``O(N K^2)`` work.
* ``impl="fast"``: ``Pi_k(x)`` decays like ``exp(-r |k - bin(x)|)``, so only the
  ``2b + 1`` bins nearest each pixel are computed (``b`` chosen so that the
  mass left out is below 1e-8) and scattered into the histogram: ``O(N b)``
  for 1D and ``O(N b^2)`` for the joint histogram, whose backward pass is
  written by hand so that no ``(N, b, b)`` tensor is ever stored.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal, TypeVar

import torch
from torch import Tensor

from huenet.core.checks import check_int

__all__ = ["soft_histogram", "joint_histogram", "band_halfwidth", "in_float32"]

Fn = TypeVar("Fn", bound=Callable[..., Tensor])
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def in_float32(fn: Fn) -> Fn:
    """Run ``fn`` in float32 whatever the caller's precision: a histogram layer or loss.

    Under autocast (``train.amp``) a network's output is bfloat16, whose 8-bit
    mantissa cannot resolve 256 hue bins, and autocast would run the dense
    histograms' matrix products in bfloat16 too. So half-precision tensor
    arguments are cast to float32 and autocast is off inside ``fn``; float32 and
    float64 inputs pass unchanged, and outside autocast nothing else happens.
    """

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> Tensor:
        args = tuple(a.float() if isinstance(a, Tensor) and a.dtype in _LOW_PRECISION else a for a in args)
        device = next((a.device.type for a in args if isinstance(a, Tensor)), "cpu")
        if not torch.is_autocast_enabled(device):
            return fn(*args, **kwargs)
        with torch.autocast(device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

Impl = Literal["fast", "dense"]

# Per-pixel kernel mass, per side, that the fast path may leave out.
_BAND_TOL = 1e-8
# Values this far outside [0, 1] are rounding, not a bug in the caller.
_RANGE_TOL = 1e-5


def band_halfwidth(kernel_width_ratio: float, tol: float = _BAND_TOL) -> int:
    """Bins on each side of a pixel's own bin that the fast path computes.

    The kernel mass beyond ``b + 1/2`` bins from ``x`` is
    ``sigmoid(-r (b + 1/2)) < exp(-r (b + 1/2))``, so ``b`` is the smallest
    integer for which that is below ``tol``.
    """
    return max(1, math.ceil(math.log(1.0 / tol) / kernel_width_ratio - 0.5))


def _periods(bins: int, kernel_width_ratio: float) -> int:
    """Periods of images to fold: the kernel mass beyond ``n`` periods is ``sigmoid(-n K r) < 1e-16``."""
    return max(1, math.ceil(37.0 / (bins * kernel_width_ratio)))


def _flatten_values(x: Tensor, name: str) -> Tensor:
    """Check ``x`` and return it as ``(B, N)`` clamped into [0, 1]."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must have shape (B, N) or (B, 1, H, W), got {tuple(x.shape)}")
        x = x.flatten(1)
    elif x.ndim != 2:
        raise ValueError(f"{name} must have shape (B, N) or (B, 1, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor with values in [0, 1], got {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    lo, hi = x.min().item(), x.max().item()
    if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return x.clamp(0.0, 1.0)


def _check_options(bins: int, kernel_width_ratio: float, impl: str) -> None:
    check_int(bins, "bins", 2)
    if not kernel_width_ratio > 0 or not math.isfinite(kernel_width_ratio):
        raise ValueError(f"kernel_width_ratio must be a positive number, got {kernel_width_ratio!r}")
    if impl not in ("fast", "dense"):
        raise ValueError(f"impl must be 'fast' or 'dense', got {impl!r}")


# --------------------------------------------------------------------- dense


def _images(x: Tensor, periods: int, cyclic: bool) -> list[Tensor]:
    """The images of ``x`` whose values fall inside ``[-periods, periods + 1]``."""
    if cyclic:
        return [x + m for m in range(-periods, periods + 1)]
    half = periods // 2
    return [2 * m + x for m in range(-half, half + 1)] + [
        2 * m - x for m in range(-((periods - 1) // 2), (periods + 1) // 2 + 1)
    ]


def _dense_memberships(x: Tensor, bins: int, r: float, cyclic: bool) -> Tensor:
    """``Pi`` of every pixel for every bin (K replicated channels): ``(B, N)`` -> ``(B, N, K)``."""
    L = 1.0 / bins
    W = L / r
    mu = (torch.arange(bins, dtype=x.dtype, device=x.device) + 0.5) * L
    pi = 0.0
    for z in _images(x, _periods(bins, r), cyclic):
        d = z.unsqueeze(-1) - mu
        pi = pi + torch.sigmoid((d + L / 2) / W) - torch.sigmoid((d - L / 2) / W)
    return pi


# ---------------------------------------------------------------------- fast


def _fold_table(bins: int, periods: int, cyclic: bool, device: torch.device) -> Tensor:
    """Map an extended bin ``j`` in ``[-nK, (n + 1) K)`` (stored at ``j + nK``) to [0, K)."""
    j = torch.arange(-periods * bins, (periods + 1) * bins, device=device)
    if cyclic:
        return torch.remainder(j, bins)
    j = torch.remainder(j, 2 * bins)
    return torch.where(j >= bins, 2 * bins - 1 - j, j)


def _banded_memberships(x: Tensor, bins: int, r: float, cyclic: bool) -> tuple[Tensor, Tensor]:
    """``Pi`` of every pixel for its ``2b + 1`` nearest bins.

    The images of the kernel are one kernel on an extended grid of bins over
    ``[-n, n + 1]``, folded back onto [0, 1). Edge positions are clamped to
    that grid, so bins off the grid get two equal edges and zero weight.

    Returns:
        ``(weights, index)``, both ``(B, N, 2b + 1)``; index in [0, K).
    """
    b = band_halfwidth(r)
    n = _periods(bins, r)
    lo, hi = -n * bins, (n + 1) * bins
    centre = (x.detach() * bins).floor().clamp(0, bins - 1)
    offsets = torch.arange(-b, b + 2, dtype=x.dtype, device=x.device)
    edges = (centre.unsqueeze(-1) + offsets).clamp(lo, hi)
    # (x - j L) / W = (x K - j) r
    cdf = torch.sigmoid((x.unsqueeze(-1) * bins - edges) * r)
    weights = cdf[..., :-1] - cdf[..., 1:]
    extended = edges[..., :-1].clamp(max=hi - 1).long() - lo
    return weights, _fold_table(bins, n, cyclic, x.device)[extended]


class _BandedJoint(torch.autograd.Function):
    """``P[i, j] = sum_n wx[n, a] wy[n, c]`` over band slots with ``ix = i, iy = j``.

    Loops over the x band so that memory stays ``O(N b)``; the backward pass
    gathers the upstream gradient at the same positions.
    """

    @staticmethod
    def forward(ctx, wx: Tensor, ix: Tensor, wy: Tensor, iy: Tensor, bins: int) -> Tensor:
        ctx.save_for_backward(wx, ix, wy, iy)
        ctx.bins = bins
        batch = wx.shape[0]
        joint = wx.new_zeros(batch, bins * bins)
        for a in range(wx.shape[-1]):
            flat = (ix[..., a : a + 1] * bins + iy).flatten(1)
            joint.scatter_add_(1, flat, (wx[..., a : a + 1] * wy).flatten(1))
        return joint.view(batch, bins, bins)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        wx, ix, wy, iy = ctx.saved_tensors
        bins = ctx.bins
        grad = grad.reshape(grad.shape[0], bins * bins)
        grad_wx = torch.empty_like(wx) if ctx.needs_input_grad[0] else None
        grad_wy = torch.zeros_like(wy) if ctx.needs_input_grad[2] else None
        for a in range(wx.shape[-1]):
            flat = (ix[..., a : a + 1] * bins + iy).flatten(1)
            g = grad.gather(1, flat).view_as(wy)
            if grad_wx is not None:
                grad_wx[..., a] = (g * wy).sum(-1)
            if grad_wy is not None:
                grad_wy += g * wx[..., a : a + 1]
        return grad_wx, None, grad_wy, None, None


# ------------------------------------------------------------------- public


@in_float32
def soft_histogram(
    x: Tensor,
    bins: int = 256,
    *,
    cyclic: bool = False,
    kernel_width_ratio: float = 2.5,
    impl: Impl = "fast",
) -> Tensor:
    """Differentiable normalised histogram (paper Eq. 7).

    Args:
        x: ``(B, N)`` or ``(B, 1, H, W)`` floating tensor, values in [0, 1].
        bins: number of bins ``K >= 2``.
        cyclic: treat 0 and 1 as the same value (hue).
        kernel_width_ratio: ``r = L / W``; larger is closer to a hard histogram.
        impl: ``"fast"`` (banded) or ``"dense"`` (the paper's construction).

    Returns:
        ``(B, K)`` non-negative tensor, each row summing to 1.

    >>> x = torch.tensor([[0.05, 0.1, 0.6, 0.9]])  # one image of four pixels
    >>> h = soft_histogram(x, bins=4)
    >>> h.shape
    torch.Size([1, 4])
    >>> round(h.sum().item(), 4)
    1.0
    >>> h.argmax(-1)  # the fullest bin is [0, 0.25), which holds two of the four values
    tensor([0])
    """
    _check_options(bins, kernel_width_ratio, impl)
    x = _flatten_values(x, "x")
    if impl == "dense":
        hist = _dense_memberships(x, bins, kernel_width_ratio, cyclic).mean(1)
    else:
        weights, index = _banded_memberships(x, bins, kernel_width_ratio, cyclic)
        hist = x.new_zeros(x.shape[0], bins).scatter_add(1, index.flatten(1), weights.flatten(1))
    return hist / hist.sum(-1, keepdim=True)


@in_float32
def joint_histogram(
    x: Tensor,
    y: Tensor,
    bins: int = 256,
    *,
    cyclic: bool = False,
    kernel_width_ratio: float = 2.5,
    impl: Impl = "fast",
) -> Tensor:
    """Differentiable normalised joint histogram ``P = Pi_x^T Pi_y / N`` (Eq. 24).

    Args:
        x, y: ``(B, N)`` or ``(B, 1, H, W)`` floating tensors of the same shape,
            values in [0, 1]; pixel ``n`` of ``x`` is paired with pixel ``n`` of ``y``.
        bins: number of bins ``K >= 2`` on each axis.
        cyclic: treat 0 and 1 as the same value on both axes (hue).
        kernel_width_ratio: ``r = L / W``.
        impl: ``"fast"`` (banded) or ``"dense"`` (the paper's matrix product).

    Returns:
        ``(B, K, K)`` non-negative tensor summing to 1; rows index ``x``.

    >>> x = torch.tensor([[0.1, 0.4, 0.6, 0.9]])
    >>> p = joint_histogram(x, x.flip(-1), bins=4)  # the pairs (0.1, 0.9), (0.4, 0.6), ...
    >>> p.shape
    torch.Size([1, 4, 4])
    >>> round(p.sum().item(), 4)
    1.0
    >>> p[0].argmax(-1)  # for each bin of x, the bin of y it is paired with most
    tensor([3, 2, 1, 0])
    """
    _check_options(bins, kernel_width_ratio, impl)
    if isinstance(x, Tensor) and isinstance(y, Tensor) and x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    x = _flatten_values(x, "x")
    y = _flatten_values(y, "y")
    if x.dtype != y.dtype:
        raise ValueError(f"x and y must have the same dtype, got {x.dtype} and {y.dtype}")
    if impl == "dense":
        pi_x = _dense_memberships(x, bins, kernel_width_ratio, cyclic)
        pi_y = _dense_memberships(y, bins, kernel_width_ratio, cyclic)
        joint = pi_x.transpose(1, 2) @ pi_y / x.shape[1]
    else:
        wx, ix = _banded_memberships(x, bins, kernel_width_ratio, cyclic)
        wy, iy = _banded_memberships(y, bins, kernel_width_ratio, cyclic)
        joint = _BandedJoint.apply(wx, ix, wy, iy, bins)
    return joint / joint.sum((1, 2), keepdim=True)
