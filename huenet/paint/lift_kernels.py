"""The full-size step of ``huenet.paint.upsample``'s lifts as one pass over the photo's pixels (numba).

Each full-size pixel reads its local affine model (``a, b``, upsampled bilinearly from the working size), applies it
to its own colour and writes its output. Written as a chain of tensor operations the same step makes some 20 passes
over the photo and is bound by memory traffic (a 12-megapixel transfer took 5.4 times as long as Pillow's decoding
and re-encoding of the JPEG, most of it in this step); fused, it reads the photo once and writes the output once.
Each row is copied into three channel rows first, and the arithmetic loop has no branches and calls no library
function (the angle is a polynomial, :func:`atan2`), so that the compiler runs several pixels at once in vector
registers (a loop over the interleaved ``(W, 3)`` pixels directly was not vectorised). The arithmetic is float64
whatever the photo's type.

Arrays are ``(H, W, 3)`` views of one image (8-bit levels, or float in [0, 1]); ``coef`` is ``(M, h, W)``: the
coefficients at the working size's rows, already interpolated to the full width, so a pixel's coefficients are the
blend of rows ``lo[y]`` and ``hi[y]`` with weight ``t[y]`` (``torch.nn.functional.interpolate``'s bilinear taps,
``align_corners=False``). ``scale`` turns the source's values into [0, 1]; ``levels`` and ``offset`` turn an output
in [0, 1] into the output array's values (255 and 0.5 round to 8-bit levels, since the cast truncates).

Compiled on first use and cached beside this file (``cache=True``), so later processes load it in a fraction of a
second.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["ATAN_TERMS", "atan2", "paint_hue_shift", "paint_rgb_change"]

ATAN_TERMS = 10


def _atan_coefficients(terms: int) -> tuple[float, ...]:
    """Least-squares odd polynomial ``sum_k c_k a^(2k+1)`` for ``atan(a)`` on [0, 1], fitted on Chebyshev nodes:
    10 terms are within 1e-9 radians (tested), a hundred-thousandth of an 8-bit level of the output."""
    a = np.cos(np.pi * (np.arange(2000) + 0.5) / 2000) * 0.5 + 0.5
    powers = np.stack([a ** (2 * k + 1) for k in range(terms)], 1)
    return tuple(float(c) for c in np.linalg.lstsq(powers, np.arctan(a), rcond=None)[0])


_ATAN = _atan_coefficients(ATAN_TERMS)
_TURN = 2.0 * math.pi
_FLAGS = {"error_model": "numpy", "fastmath": {"contract", "arcp", "reassoc"}}


@numba.njit(inline="always", **_FLAGS)
def atan2(y: float, x: float) -> float:
    """``math.atan2(y, x)`` to within 1e-9 radians, without a library call: the octant folded onto [0, 1]."""
    ax, ay = abs(x), abs(y)
    big, small = max(ax, ay), min(ax, ay)
    a = small / big if big > 0.0 else 0.0
    s = a * a
    p = _ATAN[ATAN_TERMS - 1]
    for k in range(ATAN_TERMS - 2, -1, -1):
        p = p * s + _ATAN[k]
    r = a * p
    r = 0.5 * math.pi - r if ay > ax else r
    r = math.pi - r if x < 0.0 else r
    return -r if y < 0.0 else r


@numba.njit(inline="always", **_FLAGS)
def _tap(coef: np.ndarray, m: int, lo: int, hi: int, t: float, x: int) -> float:
    return coef[m, lo, x] + t * (coef[m, hi, x] - coef[m, lo, x])


@numba.njit(inline="always", **_FLAGS)
def _channel(offset: float, sixths: float, v: float, delta: float) -> float:
    """One RGB channel of an HSV colour: ``V - (V - min) clamp(min(k, 4 - k), 0, 1)``, ``k = (n + 6 h) mod 6``."""
    k = offset + sixths
    k -= 6.0 * np.floor(k * (1.0 / 6.0))
    return v - delta * min(max(min(k, 4.0 - k), 0.0), 1.0)


@numba.njit(inline="always", **_FLAGS)
def _row_in(source: np.ndarray, y: int, scale: float, rows: np.ndarray) -> None:
    """Row ``y`` of the ``(H, W, 3)`` source into the ``(3, W)`` float64 ``rows``, in [0, 1]: the arithmetic then
    reads each channel contiguously, which is what lets the compiler vectorise it."""
    for x in range(source.shape[1]):
        for c in range(3):
            rows[c, x] = source[y, x, c] * scale


@numba.njit(inline="always", **_FLAGS)
def _row_out(rows: np.ndarray, y: int, levels: float, offset: float, out: np.ndarray) -> None:
    for x in range(out.shape[1]):
        for c in range(3):
            out[y, x, c] = rows[c, x] * levels + offset


@numba.njit(parallel=True, cache=True, **_FLAGS)
def paint_hue_shift(source, coef, lo, hi, t, strength, strength_map, scale, levels, offset, out):
    """Turn each pixel's hue by ``strength`` (times ``strength_map[y, x]`` where that map is not empty) times the
    angle of its lifted shift vector ``(q0, q1) = a . I + b`` (``coef`` ``(8, h, W)``: ``a`` for ``q0`` on R, G,
    B, then for ``q1``, then ``b0, b1``); saturation and value stay the source's. A pixel whose turn is exactly 0
    keeps its own values, so a zero shift returns the source. The hue comes from the sector formula, ties broken b,
    then g, then r (``huenet.core.color``'s and scikit-image's precedence)."""
    height, width = source.shape[0], source.shape[1]
    mapped = strength_map.shape[0] > 0
    for y in numba.prange(height):
        y0, y1, ty = lo[y], hi[y], t[y]
        rows = np.empty((3, width))
        painted = np.empty((3, width))
        _row_in(source, y, scale, rows)
        amounts = np.empty(width)
        for x in range(width):
            amounts[x] = strength * strength_map[y, x] if mapped else strength
        for x in range(width):
            r, g, b = rows[0, x], rows[1, x], rows[2, x]
            q0 = _tap(coef, 6, y0, y1, ty, x) + _tap(coef, 0, y0, y1, ty, x) * r + \
                _tap(coef, 1, y0, y1, ty, x) * g + _tap(coef, 2, y0, y1, ty, x) * b
            q1 = _tap(coef, 7, y0, y1, ty, x) + _tap(coef, 3, y0, y1, ty, x) * r + \
                _tap(coef, 4, y0, y1, ty, x) * g + _tap(coef, 5, y0, y1, ty, x) * b
            turns = atan2(q1, q0) * (amounts[x] / _TURN)
            v, low = max(r, g, b), min(r, g, b)
            delta = v - low
            inverse = 1.0 / delta if delta > 0.0 else 0.0
            sector = 4.0 + (r - g) * inverse if b == v else (2.0 + (b - r) * inverse if g == v else (g - b) * inverse)
            sixths = sector + 6.0 * turns
            keep = turns == 0.0
            painted[0, x] = r if keep else _channel(5.0, sixths, v, delta)
            painted[1, x] = g if keep else _channel(3.0, sixths, v, delta)
            painted[2, x] = b if keep else _channel(1.0, sixths, v, delta)
        _row_out(painted, y, levels, offset, out)


@numba.njit(parallel=True, cache=True, **_FLAGS)
def paint_rgb_change(source, coef, lo, hi, t, scale, levels, offset, out):
    """Add each pixel's lifted change ``q = a . I + b`` (``coef`` ``(12, h, W)``: ``a`` for R's change on R, G, B,
    then G's, then B's, then ``b``) to its colour, clipped to [0, 1]."""
    height, width = source.shape[0], source.shape[1]
    for y in numba.prange(height):
        y0, y1, ty = lo[y], hi[y], t[y]
        rows = np.empty((3, width))
        painted = np.empty((3, width))
        _row_in(source, y, scale, rows)
        for x in range(width):
            r, g, b = rows[0, x], rows[1, x], rows[2, x]
            for k in range(3):
                value = rows[k, x] + _tap(coef, 9 + k, y0, y1, ty, x) + _tap(coef, 3 * k, y0, y1, ty, x) * r + \
                    _tap(coef, 3 * k + 1, y0, y1, ty, x) * g + _tap(coef, 3 * k + 2, y0, y1, ty, x) * b
                painted[k, x] = min(max(value, 0.0), 1.0)
        _row_out(painted, y, levels, offset, out)
