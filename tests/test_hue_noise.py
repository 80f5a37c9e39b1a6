"""Hue noise (huenet.eval.hue_noise) against a plain loop over pixels with scikit-image's HSV, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from skimage.color import rgb2hsv

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.data.photos import sample_photo
from huenet.eval.hue_noise import FLATNESS, MIN_FLAT_PIXELS, MIN_SATURATION, hue_noise


def _loop(source: np.ndarray, image: np.ndarray) -> float:
    """One pair, ``(H, W, 3)`` float RGB: the definition, pixel by pixel."""
    s_hsv = rgb2hsv(np.round(source * 255) / 255)
    hue = rgb2hsv(np.round(image * 255) / 255)[..., 0] * 2 * np.pi
    h, w = hue.shape
    spreads = []
    for i in range(h):
        for j in range(w):
            rows, cols = slice(max(i - 1, 0), i + 2), slice(max(j - 1, 0), j + 2)
            window = s_hsv[rows, cols]
            flat = all(np.ptp(window[..., c]) < FLATNESS for c in (1, 2)) and s_hsv[i, j, 1] >= MIN_SATURATION
            if flat:
                angles = hue[rows, cols]
                spreads.append(1 - np.hypot(np.cos(angles).mean(), np.sin(angles).mean()))
    return float(np.mean(spreads)) if len(spreads) >= MIN_FLAT_PIXELS else float("nan")


def _blocky(seed: int, size: int = 24) -> torch.Tensor:
    """Flat patches of random colours with 8-bit noise in some: flat and non-flat pixels both."""
    g = torch.Generator().manual_seed(seed)
    patches = torch.rand(1, 3, 3, 3, generator=g).repeat_interleave(size // 3, -1).repeat_interleave(size // 3, -2)
    noise = (torch.rand(1, 3, size, size, generator=g) - 0.5) * 0.03 * (torch.rand(1, 1, size, size, generator=g) > 0.7)
    return (patches + noise).clamp(0, 1)


@pytest.mark.parametrize("seed", range(4))
def test_equals_the_loop_with_scikit_image(seed: int) -> None:
    source = _blocky(seed)
    image = _blocky(seed + 100)
    got = hue_noise(source, image)[0]
    want = _loop(*(x[0].permute(1, 2, 0).numpy().astype(np.float64) for x in (source, image)))
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, abs=1e-9)


@given(st.floats(0.0, 1.0))
def test_a_global_hue_rotation_keeps_the_sources_own_noise(turn: float) -> None:
    source = sample_photo("coffee", 48)
    hsv = rgb_to_hsv(source)
    rotated = hsv_to_rgb(torch.cat((torch.remainder(hsv[:, :1] + turn, 1.0), hsv[:, 1:]), 1)).clamp(0, 1)
    # 8-bit rounding of the rotated colours moves hues by a fraction of a degree
    assert hue_noise(source, rotated)[0] == pytest.approx(hue_noise(source, source)[0], abs=2e-3)


def test_one_hue_has_none_and_speckle_has_much() -> None:
    source = sample_photo("coffee", 48)
    hsv = rgb_to_hsv(source)
    one_hue = hsv_to_rgb(torch.cat((torch.full_like(hsv[:, :1], 0.6), hsv[:, 1:]), 1))
    g = torch.Generator().manual_seed(0)
    speckle = hsv_to_rgb(torch.cat((torch.rand(hsv[:, :1].shape, generator=g), hsv[:, 1:]), 1))
    assert hue_noise(source, one_hue)[0] == pytest.approx(0.0, abs=1e-3)
    assert hue_noise(source, speckle)[0] > 0.5


def test_a_source_without_flat_pixels_is_undefined() -> None:
    g = torch.Generator().manual_seed(0)
    noisy = torch.rand(2, 3, 16, 16, generator=g)
    assert np.isnan(hue_noise(noisy, noisy)).all()
