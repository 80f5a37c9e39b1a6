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

Three implementations share this interface:

* ``impl="dense"``: the paper's construction word for word: ``K`` replicated
  channels, ``Pi`` applied to each, a mean over pixels (1D) or the matrix
  product ``Pi_x^T Pi_y / N`` (joint). ``O(N K)`` and ``O(N K^2)`` work.
* ``impl="torch"``: ``Pi_k(x)`` decays like ``exp(-r |k - bin(x)|)``, so only
  the ``2b + 1`` bins nearest each pixel are computed (``b`` from
  :func:`band_halfwidth`), with tensor operations that run on any device. The
  1D histogram scatters them; the joint histogram multiplies the banded
  membership matrices when that ``(N, K)`` matrix is small (coarse histograms),
  and otherwise scatters the ``(2b + 1)^2`` products per pixel band row by band
  row, with a hand-written backward pass so that memory stays ``O(N b)``.
* ``impl="fast"`` (default): the same bands computed by the compiled CPU
  kernels of :mod:`huenet.core.histogram_kernels` (numba, imported on first use)
  for CPU tensors, one pass over the pixels per direction; ``"torch"`` on
  other devices, for ``r > 230`` and where numba is not installed. The kernels are ``torch.library`` custom
  operators, opaque to ``torch.compile``, whose backward passes recompute the
  band instead of storing it.

The band and the fold are the same in both banded paths, so they agree with
each other to rounding and with ``"dense"`` to the mass left out of the band.

**Devices.** Any device: the CPU kernels on the CPU, tensor operations
elsewhere (CUDA included). The forward and backward passes read nothing back to
the host; the value checks (finite, in [0, 1]) do, once per input, in eager mode
only: under ``torch.compile`` they are skipped, and the functions compile with
``fullgraph=True``. **Dtypes.** float32 and float64; half-precision inputs are
computed in float32 (:func:`in_float32`), and the CPU kernels sum in float64
whatever the input. **Determinism.** The CPU kernels and ``"dense"`` are
deterministic. The ``"torch"`` path scatters with ``scatter_add``, whose float
atomics on CUDA add in a varying order, so two runs may differ in the last bits
there (``torch.use_deterministic_algorithms(True)`` refuses a scatter it has no
deterministic kernel for); ``"dense"``, matrix products, repeats bit for bit.

Every function treats values as hue by default (``cyclic=True``), as do the
losses: the quantity this package is for. Pass ``cyclic=False`` for an
intensity.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Callable
from typing import Literal, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from huenet.core.checks import check_int

__all__ = ["IMPLS", "soft_histogram", "joint_histogram", "SoftHistogram", "JointHistogram", "band_halfwidth",
           "in_float32"]

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


Impl = Literal["fast", "torch", "dense"]
IMPLS = ("fast", "torch", "dense")

# Per-pixel kernel mass, per side, that the banded paths may leave out: half an ulp of a float32 pixel mass of 1
# (6e-8), so that a float32 histogram cannot tell the band from the whole kernel, and a bin is off by at most
# twice that, far within the 1e-6 agreement asked of the bands. The mass left out changes with x at most K r times
# as fast, so an input gradient is off by at most 2 K r tol / N per unit of upstream gradient: 2e-8 for 256 bins
# of a 64 x 64 image.
_BAND_TOL = 2.0**-24
# Values this far outside [0, 1] are rounding, not a bug in the caller.
_RANGE_TOL = 1e-5
# The kernels pad the band to a multiple of this many bins (zero-mass lanes), so that their loops over it run
# in whole vector registers with no scalar remainder.
_LANES = 8
# The kernels multiply exponentials of up to r (2b + 1), which must stay within float64's range (e^709): true for
# every r up to 230; beyond, "fast" takes the torch path.
_KERNEL_MAX_EXPONENT = 700.0
# The torch path multiplies banded membership matrices when a pixel's band covers at least this share of the
# K bins, and scatters the (2b + 1)^2 products per pixel band row by band row otherwise. On one CPU thread,
# forward + backward at r = 2.5, the product is 4x faster at K = 32, 1.4x at K = 128 and 2x slower at K = 256,
# where its (N, K) matrices also take K / (2b + 1) times the band's memory.
_DENSE_BAND_SHARE = 0.1


def band_halfwidth(kernel_width_ratio: float, tol: float = _BAND_TOL) -> int:
    """Bins on each side of a pixel's own bin that the banded paths compute.

    The band reaches at least ``b`` bins beyond ``x`` on either side (``b + 1``
    on one of them, by how far into its bin ``x`` lies), so the kernel mass it
    leaves out per side is at most ``sigmoid(-r b) < exp(-r b)``; ``b`` is the
    smallest integer for which that is below ``tol``. The band moves a whole bin
    as ``x`` crosses a bin edge, so a histogram jumps there by at most that mass.
    """
    return max(1, math.ceil(math.log(1.0 / tol) / kernel_width_ratio))


def _periods(bins: int, kernel_width_ratio: float) -> int:
    """Periods of images to fold: the kernel mass beyond ``n`` periods is ``sigmoid(-n K r) < 1e-16``."""
    return max(1, math.ceil(37.0 / (bins * kernel_width_ratio)))


def _flatten_values(x: Tensor, name: str) -> Tensor:
    """Check ``x`` and return it as ``(B, N)`` clamped into [0, 1].

    The value checks read the data back (one host sync), so they run in eager mode only.
    """
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
    if not torch.compiler.is_compiling():
        lo, hi = torch.stack(torch.aminmax(x.detach())).tolist()  # one pass, one sync; a NaN propagates to both
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name} contains NaN or inf")
        if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
            raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return x.clamp(0.0, 1.0)


def _check_options(bins: int, kernel_width_ratio: float, impl: str) -> None:
    check_int(bins, "bins", 2)
    if not kernel_width_ratio > 0 or not math.isfinite(kernel_width_ratio):
        raise ValueError(f"kernel_width_ratio must be a positive number, got {kernel_width_ratio!r}")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")


@functools.cache
def _have_numba() -> bool:
    # numba is the photo tool's and the pipeline's dependency, not the core's: without it "fast" is "torch"
    return importlib.util.find_spec("numba") is not None


def _use_kernels(x: Tensor, kernel_width_ratio: float, impl: str) -> bool:
    return (impl == "fast" and x.device.type == "cpu" and _have_numba()
            and kernel_width_ratio * (2 * band_halfwidth(kernel_width_ratio) + 1) <= _KERNEL_MAX_EXPONENT)


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


# ---------------------------------------------------------------------- band


def _fold_table(bins: int, b: int, width: int, cyclic: bool, device: torch.device) -> Tensor:
    """Map padded bin ``p = c + i`` (band slot ``i < width`` of a pixel in bin ``c``), i.e. bin ``j = p - b`` of
    the kernel's extended grid, to the bin in [0, K) that its images fold onto: ``(K + width - 1,)``."""
    j = torch.arange(-b, bins - 1 + width - b, device=device)
    if cyclic:
        return torch.remainder(j, bins)
    j = torch.remainder(j, 2 * bins)
    return torch.where(j >= bins, 2 * bins - 1 - j, j)


def _band_memberships(x: Tensor, bins: int, r: float, cyclic: bool) -> tuple[Tensor, Tensor]:
    """``Pi`` of every pixel for its ``2b + 1`` nearest bins, as tensor operations.

    Returns:
        ``(weights, index)``, both ``(B, N, 2b + 1)``; index in [0, K).
    """
    b = band_halfwidth(r)
    centre = torch.nan_to_num((x.detach() * bins).floor()).clamp(0, bins - 1)  # a NaN stays in the weights only
    edges = centre.unsqueeze(-1) + torch.arange(-b, b + 2, dtype=x.dtype, device=x.device)
    # (x - j L) / W = (x K - j) r
    cdf = torch.sigmoid((x.unsqueeze(-1) * bins - edges) * r)
    slots = centre.long().unsqueeze(-1) + torch.arange(2 * b + 1, device=x.device)
    return cdf[..., :-1] - cdf[..., 1:], _fold_table(bins, b, 2 * b + 1, cyclic, x.device)[slots]


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


def _torch_joint(x: Tensor, y: Tensor, bins: int, r: float, cyclic: bool) -> Tensor:
    wx, ix = _band_memberships(x, bins, r, cyclic)
    wy, iy = _band_memberships(y, bins, r, cyclic)
    if wx.shape[-1] >= _DENSE_BAND_SHARE * bins:
        pi_x = x.new_zeros(*x.shape, bins).scatter_add(2, ix, wx)
        pi_y = y.new_zeros(*y.shape, bins).scatter_add(2, iy, wy)
        return pi_x.transpose(1, 2) @ pi_y
    return _BandedJoint.apply(wx, ix, wy, iy, bins)


# ------------------------------------------------------------- CPU kernels


def _kernels():
    """:mod:`huenet.core.histogram_kernels`, imported on the first CPU histogram (numba's import takes a few tenths
    of a second that a process which builds no histogram should not pay)."""
    from huenet.core import histogram_kernels

    return histogram_kernels


@functools.lru_cache(maxsize=64)
def _kernel_tables(bins: int, ratio: float, cyclic: bool) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' fold table ``(K + L - 1,)`` and band table ``(3, L)``: ``g_i = exp((i - b) r)`` at each
    slot's lower and upper edge and ``g_i (e^r - 1)``, zero on the ``L - 2b - 1`` padding slots."""
    b = band_halfwidth(ratio)
    lanes = -(-(2 * b + 1) // _LANES) * _LANES
    fold = _fold_table(bins, b, lanes, cyclic, torch.device("cpu")).numpy()
    edge = np.arange(lanes + 1)
    growth = np.exp(ratio * (np.minimum(edge, 2 * b + 1) - b)) * (edge <= 2 * b + 1)
    slot = edge[:-1]
    mass = np.exp(ratio * (np.minimum(slot, 2 * b) - b)) * math.expm1(ratio) * (slot <= 2 * b)
    return fold, np.stack([growth[:-1], growth[1:], mass])


def _array(t: Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


@torch.library.custom_op("huenet::band_histogram", mutates_args=(), device_types="cpu")
def _band_histogram(x: Tensor, bins: int, ratio: float, cyclic: bool) -> Tensor:
    """``mean_n Pi_k(x[b, n])``, the unnormalised histogram: ``(B, N)`` -> ``(B, K)``."""
    out = x.new_empty(x.shape[0], bins)
    _kernels().histogram_forward(_array(x), ratio, *_kernel_tables(bins, ratio, cyclic), out.numpy())
    return out


@torch.library.custom_op("huenet::band_histogram_backward", mutates_args=(), device_types="cpu")
def _band_histogram_backward(grad: Tensor, x: Tensor, bins: int, ratio: float, cyclic: bool) -> Tensor:
    out = x.new_empty(x.shape)
    _kernels().histogram_backward(_array(grad), _array(x), ratio, *_kernel_tables(bins, ratio, cyclic), out.numpy())
    return out


@torch.library.custom_op("huenet::band_joint", mutates_args=(), device_types="cpu")
def _band_joint(x: Tensor, y: Tensor, bins: int, ratio: float, cyclic: bool) -> Tensor:
    """``mean_n Pi_i(x[b, n]) Pi_j(y[b, n])``, the unnormalised joint histogram: ``(B, N)`` twice -> ``(B, K, K)``."""
    out = x.new_empty(x.shape[0], bins, bins)
    _kernels().joint_forward(_array(x), _array(y), ratio, *_kernel_tables(bins, ratio, cyclic), out.numpy())
    return out


@torch.library.custom_op("huenet::band_joint_backward", mutates_args=(), device_types="cpu")
def _band_joint_backward(grad: Tensor, x: Tensor, y: Tensor, bins: int, ratio: float,
                         cyclic: bool) -> tuple[Tensor, Tensor]:
    out_x, out_y = x.new_empty(x.shape), y.new_empty(y.shape)
    _kernels().joint_backward(_array(grad), _array(x), _array(y), ratio, *_kernel_tables(bins, ratio, cyclic),
                              out_x.numpy(), out_y.numpy())
    return out_x, out_y


@_band_histogram.register_fake
def _(x: Tensor, bins: int, ratio: float, cyclic: bool) -> Tensor:
    return x.new_empty(x.shape[0], bins)


@_band_histogram_backward.register_fake
def _(grad: Tensor, x: Tensor, bins: int, ratio: float, cyclic: bool) -> Tensor:
    return x.new_empty(x.shape)


@_band_joint.register_fake
def _(x: Tensor, y: Tensor, bins: int, ratio: float, cyclic: bool) -> Tensor:
    return x.new_empty(x.shape[0], bins, bins)


@_band_joint_backward.register_fake
def _(grad: Tensor, x: Tensor, y: Tensor, bins: int, ratio: float, cyclic: bool) -> tuple[Tensor, Tensor]:
    return x.new_empty(x.shape), y.new_empty(y.shape)


def _save_inputs(ctx, inputs: tuple, output: Tensor) -> None:
    *tensors, bins, ratio, cyclic = inputs
    ctx.save_for_backward(*tensors)
    ctx.options = (bins, ratio, cyclic)


def _histogram_grad(ctx, grad: Tensor):
    return torch.ops.huenet.band_histogram_backward(grad, *ctx.saved_tensors, *ctx.options), None, None, None


def _joint_grad(ctx, grad: Tensor):
    return *torch.ops.huenet.band_joint_backward(grad, *ctx.saved_tensors, *ctx.options), None, None, None


_band_histogram.register_autograd(_histogram_grad, setup_context=_save_inputs)
_band_joint.register_autograd(_joint_grad, setup_context=_save_inputs)


# ------------------------------------------------------------------- public


@in_float32
def soft_histogram(
    x: Tensor,
    bins: int = 256,
    *,
    cyclic: bool = True,
    kernel_width_ratio: float = 2.5,
    impl: Impl = "fast",
) -> Tensor:
    """Differentiable normalised histogram (paper Eq. 7).

    Args:
        x: ``(B, N)`` or ``(B, 1, H, W)`` floating tensor, values in [0, 1].
        bins: number of bins ``K >= 2``.
        cyclic: treat 0 and 1 as the same value (hue, the default); ``False``
            for an intensity, whose kernel is reflected at 0 and 1.
        kernel_width_ratio: ``r = L / W``; larger is closer to a hard histogram.
        impl: ``"fast"`` (banded, CPU kernels), ``"torch"`` (banded, tensor
            operations) or ``"dense"`` (the paper's construction).

    Returns:
        ``(B, K)`` non-negative tensor, each row summing to 1, of ``x``'s dtype
        (float32 for half precision) on ``x``'s device.

    >>> x = torch.tensor([[0.05, 0.1, 0.6, 0.9]])  # one image of four pixels
    >>> h = soft_histogram(x, bins=4, cyclic=False)
    >>> h.shape
    torch.Size([1, 4])
    >>> round(h.sum().item(), 4)
    1.0
    >>> h.argmax(-1)  # the fullest bin is [0, 0.25), which holds two of the four values
    tensor([0])
    """
    _check_options(bins, kernel_width_ratio, impl)
    x = _flatten_values(x, "x")
    r = float(kernel_width_ratio)
    if impl == "dense":
        hist = _dense_memberships(x, bins, r, cyclic).mean(1)
    elif _use_kernels(x, r, impl):
        hist = torch.ops.huenet.band_histogram(x, bins, r, cyclic)
    else:
        weights, index = _band_memberships(x, bins, r, cyclic)
        hist = x.new_zeros(x.shape[0], bins).scatter_add(1, index.flatten(1), weights.flatten(1))
    return hist / hist.sum(-1, keepdim=True)


@in_float32
def joint_histogram(
    x: Tensor,
    y: Tensor,
    bins: int = 256,
    *,
    cyclic: bool = True,
    kernel_width_ratio: float = 2.5,
    impl: Impl = "fast",
) -> Tensor:
    """Differentiable normalised joint histogram ``P = Pi_x^T Pi_y / N`` (Eq. 24).

    Args:
        x, y: ``(B, N)`` or ``(B, 1, H, W)`` floating tensors of the same shape,
            values in [0, 1]; pixel ``n`` of ``x`` is paired with pixel ``n`` of ``y``.
        bins: number of bins ``K >= 2`` on each axis.
        cyclic: treat 0 and 1 as the same value on both axes (hue, the default).
        kernel_width_ratio: ``r = L / W``.
        impl: ``"fast"`` (banded, CPU kernels), ``"torch"`` (banded, tensor
            operations) or ``"dense"`` (the paper's matrix product).

    Returns:
        ``(B, K, K)`` non-negative tensor summing to 1, rows indexing ``x``, of
        ``x``'s dtype (float32 for half precision) on ``x``'s device.

    >>> x = torch.tensor([[0.1, 0.4, 0.6, 0.9]])
    >>> p = joint_histogram(x, x.flip(-1), bins=4, cyclic=False)  # the pairs (0.1, 0.9), (0.4, 0.6), ...
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
    r = float(kernel_width_ratio)
    if impl == "dense":
        pi_x = _dense_memberships(x, bins, r, cyclic)
        pi_y = _dense_memberships(y, bins, r, cyclic)
        joint = pi_x.transpose(1, 2) @ pi_y / x.shape[1]
    elif _use_kernels(x, r, impl):
        joint = torch.ops.huenet.band_joint(x, y, bins, r, cyclic)
    else:
        joint = _torch_joint(x, y, bins, r, cyclic)
    return joint / joint.sum((1, 2), keepdim=True)


class _Histogram(nn.Module):
    """A histogram layer's settings, named in the constructor and checked there."""

    def __init__(self, bins: int = 256, *, cyclic: bool = True, kernel_width_ratio: float = 2.5,
                 impl: Impl = "fast") -> None:
        super().__init__()
        _check_options(bins, kernel_width_ratio, impl)
        self.bins, self.cyclic, self.kernel_width_ratio, self.impl = bins, cyclic, kernel_width_ratio, impl

    def extra_repr(self) -> str:
        return (f"bins={self.bins}, cyclic={self.cyclic}, kernel_width_ratio={self.kernel_width_ratio}, "
                f"impl={self.impl!r}")


class SoftHistogram(_Histogram):
    """:func:`soft_histogram` as a module: ``forward(x)``, ``(B, N)`` or ``(B, 1, H, W)`` values in [0, 1] ->
    ``(B, K)``.

    >>> SoftHistogram(bins=4)(torch.tensor([[0.1, 0.35, 0.6, 0.85]])).round(decimals=2)
    tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
    """

    def forward(self, x: Tensor) -> Tensor:
        return soft_histogram(x, self.bins, cyclic=self.cyclic, kernel_width_ratio=self.kernel_width_ratio,
                              impl=self.impl)


class JointHistogram(_Histogram):
    """:func:`joint_histogram` as a module: ``forward(x, y)``, two ``(B, N)`` or ``(B, 1, H, W)`` -> ``(B, K, K)``.

    >>> x = torch.rand(8, 1, 16, 16)  # a batch of hue channels
    >>> JointHistogram(bins=32)(x, x.flip(-1)).shape
    torch.Size([8, 32, 32])
    """

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return joint_histogram(x, y, self.bins, cyclic=self.cyclic, kernel_width_ratio=self.kernel_width_ratio,
                               impl=self.impl)
