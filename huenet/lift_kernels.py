"""The full-size step of ``huenet.upsample``'s lifts as one pass over the photo's pixels (numba).

Each full-size pixel reads its local affine model (``a, b``, upsampled bilinearly from the working size), applies it
to its own colour and writes its output. Written as a chain of tensor operations the same step makes some 20 passes
over the photo and is bound by memory traffic (0.42 s for 12 megapixels on 2 cores, against 0.08 s for Pillow to
decode and re-encode the JPEG); fused, it reads the photo once and writes the output once. The loops have no
branches and call no library function (the angle is a polynomial, :func:`atan2`), so that the compiler can run
several pixels at once in vector registers. The arithmetic is float64 whatever the photo's type.

Arrays are ``(H, W, 3)`` views of one image (8-bit levels, or float in [0, 1]); ``coef`` is ``(h, W, M)``: the
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
def _tap(coef: np.ndarray, lo: int, hi: int, t: float, x: int, m: int) -> float:
    return coef[lo, x, m] + t * (coef[hi, x, m] - coef[lo, x, m])


@numba.njit(inline="always", **_FLAGS)
def _channel(offset: float, sixths: float, v: float, delta: float) -> float:
    """One RGB channel of an HSV colour: ``V - (V - min) clamp(min(k, 4 - k), 0, 1)``, ``k = (n + 6 h) mod 6``."""
    k = offset + sixths
    k -= 6.0 * math.floor(k * (1.0 / 6.0))
    return v - delta * min(max(min(k, 4.0 - k), 0.0), 1.0)


@numba.njit(parallel=True, cache=True, **_FLAGS)
def paint_hue_shift(source, coef, lo, hi, t, strength, strength_map, scale, levels, offset, out):
    """Turn each pixel's hue by ``strength`` (times ``strength_map[y, x]`` where that map is not empty) times the
    angle of its lifted shift vector ``(q0, q1) = a . I + b`` (``coef``'s 8 channels: ``a`` for ``q0`` on R, G,
    B, then for ``q1``, then ``b0, b1``); saturation and value stay the source's. A pixel whose turn is exactly 0
    is copied, so a zero shift returns the source's own values. The hue comes from the sector formula, ties
    broken b, then g, then r (``huenet.color``'s and scikit-image's precedence)."""
    height, width = source.shape[0], source.shape[1]
    mapped = strength_map.shape[0] > 0
    for y in numba.prange(height):
        y0, y1, ty = lo[y], hi[y], t[y]
        for x in range(width):
            r, g, b = source[y, x, 0] * scale, source[y, x, 1] * scale, source[y, x, 2] * scale
            q0 = _tap(coef, y0, y1, ty, x, 6) + _tap(coef, y0, y1, ty, x, 0) * r + \
                _tap(coef, y0, y1, ty, x, 1) * g + _tap(coef, y0, y1, ty, x, 2) * b
            q1 = _tap(coef, y0, y1, ty, x, 7) + _tap(coef, y0, y1, ty, x, 3) * r + \
                _tap(coef, y0, y1, ty, x, 4) * g + _tap(coef, y0, y1, ty, x, 5) * b
            amount = strength * strength_map[y, x] if mapped else strength
            turns = atan2(q1, q0) * (amount / _TURN)
            v, low = max(r, g, b), min(r, g, b)
            delta = v - low
            inverse = 1.0 / delta if delta > 0.0 else 0.0
            sector = 4.0 + (r - g) * inverse if b == v else (2.0 + (b - r) * inverse if g == v else (g - b) * inverse)
            sixths = sector + 6.0 * turns
            keep = turns == 0.0
            red = _channel(5.0, sixths, v, delta) * levels + offset
            green = _channel(3.0, sixths, v, delta) * levels + offset
            blue = _channel(1.0, sixths, v, delta) * levels + offset
            out[y, x, 0] = source[y, x, 0] if keep else red
            out[y, x, 1] = source[y, x, 1] if keep else green
            out[y, x, 2] = source[y, x, 2] if keep else blue


@numba.njit(parallel=True, cache=True, **_FLAGS)
def paint_rgb_change(source, coef, lo, hi, t, scale, levels, offset, out):
    """Add each pixel's lifted change ``q = a . I + b`` (``coef``'s 12 channels: ``a`` for R's change on R, G, B,
    then G's, then B's, then ``b``) to its colour, clipped to [0, 1]."""
    height, width = source.shape[0], source.shape[1]
    for y in numba.prange(height):
        y0, y1, ty = lo[y], hi[y], t[y]
        for x in range(width):
            r, g, b = source[y, x, 0] * scale, source[y, x, 1] * scale, source[y, x, 2] * scale
            for k in range(3):
                value = source[y, x, k] * scale + _tap(coef, y0, y1, ty, x, 9 + k) + \
                    _tap(coef, y0, y1, ty, x, 3 * k) * r + _tap(coef, y0, y1, ty, x, 3 * k + 1) * g + \
                    _tap(coef, y0, y1, ty, x, 3 * k + 2) * b
                out[y, x, k] = min(max(value, 0.0), 1.0) * levels + offset
