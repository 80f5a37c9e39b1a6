"""The CPU kernels of :mod:`huenet.core.histograms`' banded histograms: one pass over the pixels each (numba).

Written with tensor operations, a banded histogram stores ``(B, N, 2b + 1)`` weights and indices and makes a
dozen passes over them, and the joint histogram scatters its ``(2b + 1)^2`` products per pixel in ``2b + 1``
passes: the two histogram losses took a third of a CPU training step. Here each pixel's band is computed in
registers and added into a histogram padded on both sides, folded onto the ``K`` bins once at the end; the
backward passes recompute the band from ``x`` (one exponential per pixel) rather than store it.

A pixel at ``u = x K`` (bin units) in bin ``c`` has ``f = u - c`` in [0, 1]; its band slot ``i`` is bin
``c - b + i``, between edges where the kernel's CDF is ``s_i = 1 / (1 + a_i)`` and ``s_(i+1) = 1 / (1 + a_i')``
with ``a_i = t g_i``, ``a_i' = t g_(i+1)``, ``t = exp(-r f)`` and ``g_i = exp((i - b) r)``. The edges are a whole
bin apart, so one exponential serves the whole band, and the slot's mass and its slope are

    w_i = s_i - s_(i+1) = t g_i (e^r - 1) q,    dw_i / du = r w_i (a_i a_i' - 1) q,    q = s_i s_(i+1),

one division per slot and no difference of nearly equal numbers. The arithmetic and the sums are float64
whatever the tensors' type.

Arrays: ``x``, ``y`` ``(B, N)``, values in [0, 1] (a NaN gives NaNs, never an index outside the band);
``fold`` ``(K + L - 1,)`` maps padded bin ``c + i`` to its bin in [0, K); ``table`` ``(3, L)`` holds ``g_i``,
``g_(i+1)`` and ``g_i (e^r - 1)`` for the ``2b + 1`` slots, padded with zeros to ``L`` lanes (zero mass);
``ratio`` is ``r``. Results go into ``out``, of the inputs' type. Compiled on first use and cached beside this
file (``cache=True``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["histogram_forward", "histogram_backward", "joint_forward", "joint_backward"]

# no "nnan"/"ninf": a NaN input must stay a NaN and not become an index; nogil: the caller's other threads run on
_FLAGS = {"error_model": "numpy", "fastmath": {"contract", "reassoc"}, "nogil": True}


@numba.njit(inline="always", **_FLAGS)
def _band(u, top, ratio, table, w, dw, slopes):
    """Fill ``w`` with the masses of the pixel's band at ``u`` bins and, if ``slopes``, ``dw`` with their slopes
    ``dw / (r du)``; return the pixel's own bin ``c``, which is also the band's first padded bin."""
    c = math.floor(u) if u < top else top  # also NaN
    c = c if c > 0 else 0
    t = math.exp(ratio * (c - u))
    for i in range(w.size):
        a, a_next = t * table[0, i], t * table[1, i]
        q = 1.0 / ((1.0 + a) * (1.0 + a_next))
        w[i] = t * table[2, i] * q
        if slopes:
            dw[i] = w[i] * (a * a_next - 1.0) * q
    return c


@numba.njit(inline="always", **_FLAGS)
def _scratch(table):
    return np.empty(table.shape[1]), np.empty(table.shape[1])


@numba.njit(inline="always", **_FLAGS)
def _rows(table):
    """The band's real slots: a joint histogram's padding rows would only add zeros."""
    return int(np.sum(table[2] > 0.0))


@numba.njit(cache=True, **_FLAGS)
def histogram_forward(x, ratio, fold, table, out):
    """``out[b, k] = mean_n Pi_k(x[b, n])``: ``(B, N)`` -> ``(B, K)``."""
    bins = out.shape[1]
    w, dw = _scratch(table)
    padded = np.empty(fold.size)
    folded = np.empty(bins)
    for batch in range(x.shape[0]):
        padded[:] = 0.0
        for n in range(x.shape[1]):
            dst = padded[_band(x[batch, n] * bins, bins - 1, ratio, table, w, dw, False):]
            for i in range(w.size):
                dst[i] += w[i]
        folded[:] = 0.0
        for p in range(fold.size):
            folded[fold[p]] += padded[p]
        for k in range(bins):
            out[batch, k] = folded[k] / x.shape[1]


@numba.njit(cache=True, **_FLAGS)
def histogram_backward(grad, x, ratio, fold, table, out):
    """Gradient of :func:`histogram_forward` with respect to ``x`` for the upstream ``grad`` ``(B, K)``."""
    bins = grad.shape[1]
    w, dw = _scratch(table)
    padded = np.empty(fold.size)
    for batch in range(x.shape[0]):
        for p in range(fold.size):
            padded[p] = grad[batch, fold[p]] * (bins * ratio / x.shape[1])
        for n in range(x.shape[1]):
            src = padded[_band(x[batch, n] * bins, bins - 1, ratio, table, w, dw, True):]
            total = 0.0
            for i in range(w.size):
                total += src[i] * dw[i]
            out[batch, n] = total


@numba.njit(cache=True, **_FLAGS)
def joint_forward(x, y, ratio, fold, table, out):
    """``out[b, i, j] = mean_n Pi_i(x[b, n]) Pi_j(y[b, n])``: ``(B, N)`` twice -> ``(B, K, K)``."""
    bins = out.shape[1]
    wx, dwx = _scratch(table)
    wy, dwy = _scratch(table)
    rows = _rows(table)
    padded = np.empty((fold.size, fold.size))
    folded = np.empty((bins, bins))
    for batch in range(x.shape[0]):
        padded[:] = 0.0
        for n in range(x.shape[1]):
            cx = _band(x[batch, n] * bins, bins - 1, ratio, table, wx, dwx, False)
            cy = _band(y[batch, n] * bins, bins - 1, ratio, table, wy, dwy, False)
            for i in range(rows):
                dst = padded[cx + i, cy:]
                a = wx[i]
                for j in range(wy.size):
                    dst[j] += a * wy[j]
        folded[:] = 0.0
        for p in range(fold.size):
            for q in range(fold.size):
                folded[fold[p], fold[q]] += padded[p, q]
        for i in range(bins):
            for j in range(bins):
                out[batch, i, j] = folded[i, j] / x.shape[1]


@numba.njit(cache=True, **_FLAGS)
def joint_backward(grad, x, y, ratio, fold, table, out_x, out_y):
    """Gradients of :func:`joint_forward` with respect to ``x`` and ``y`` for the upstream ``grad`` ``(B, K, K)``."""
    bins = grad.shape[1]
    wx, dwx = _scratch(table)
    wy, dwy = _scratch(table)
    rows = _rows(table)
    padded = np.empty((fold.size, fold.size))
    for batch in range(x.shape[0]):
        for p in range(fold.size):
            for q in range(fold.size):
                padded[p, q] = grad[batch, fold[p], fold[q]] * (bins * ratio / x.shape[1])
        for n in range(x.shape[1]):
            cx = _band(x[batch, n] * bins, bins - 1, ratio, table, wx, dwx, True)
            cy = _band(y[batch, n] * bins, bins - 1, ratio, table, wy, dwy, True)
            gx = gy = 0.0
            for i in range(rows):
                src = padded[cx + i, cy:]
                along_w = along_dw = 0.0
                for j in range(wy.size):
                    along_w += src[j] * wy[j]
                    along_dw += src[j] * dwy[j]
                gx += dwx[i] * along_w
                gy += wx[i] * along_dw
            out_x[batch, n] = gx
            out_y[batch, n] = gy
