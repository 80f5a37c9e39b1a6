"""HistoGAN's RGB-uv histogram and Hellinger distance (huenet.eval.rgbuv) against a plain loop of the definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from huenet.data.photos import sample_photo
from huenet.eval.rgbuv import MAX_SIZE, _prepare, rgbuv_hellinger, rgbuv_histogram


def _loop_histogram(image: np.ndarray) -> np.ndarray:
    """The definition written out pixel by pixel: ``(3, H, W)`` 8-bit levels in [0, 1] -> ``(3, 64, 64)``."""
    eps, sigma = 1e-6, 0.02
    centres = np.linspace(-3.0, 3.0, 64)
    others = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
    hist = np.zeros((3, 64, 64))
    pixels = image.reshape(3, -1).T
    for rgb in pixels:
        weight = math.sqrt(rgb[0] ** 2 + rgb[1] ** 2 + rgb[2] ** 2 + eps)
        for c in range(3):
            o1, o2 = others[c]
            u = math.log(rgb[c] + eps) - math.log(rgb[o1] + eps)
            v = math.log(rgb[c] + eps) - math.log(rgb[o2] + eps)
            ku = 1.0 / (1.0 + ((u - centres) / sigma) ** 2)
            kv = 1.0 / (1.0 + ((v - centres) / sigma) ** 2)
            hist[c] += weight * np.outer(ku, kv)
    return hist / hist.sum()


def _random_images(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, h, w, generator=g, dtype=torch.float64)
    x[:, :, :2] = 0.0  # black and channel-zero pixels: the eps paths
    x[0, 1, 3] = 1.0
    return x


def test_histogram_equals_the_pixel_loop_on_random_images():
    x = _random_images(2, 12, 14, seed=1)
    ours = rgbuv_histogram(x).numpy()
    levels = torch.round(x * 255).numpy() / 255  # the 8-bit quantisation comes first
    for i in range(2):
        np.testing.assert_allclose(ours[i], _loop_histogram(levels[i]), rtol=0, atol=1e-6 * ours[i].max())
        np.testing.assert_allclose(ours[i], _loop_histogram(levels[i]), rtol=1e-9, atol=1e-15)


def test_hellinger_equals_the_loop_formula():
    x, y = _random_images(2, 10, 10, seed=2), _random_images(2, 10, 10, seed=3)
    levels_x, levels_y = torch.round(x * 255).numpy() / 255, torch.round(y * 255).numpy() / 255
    for i, value in enumerate(rgbuv_hellinger(x, y)):
        p, q = _loop_histogram(levels_x[i]), _loop_histogram(levels_y[i])
        np.testing.assert_allclose(value, np.sqrt(1.0 - np.sqrt(p * q).sum()), atol=1e-6)
        np.testing.assert_allclose(value, np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / np.sqrt(2), atol=1e-12)


def test_histogram_sums_to_one_and_planes_are_as_documented():
    hist = rgbuv_histogram(_random_images(3, 9, 7, seed=4))
    assert hist.shape == (3, 3, 64, 64) and hist.dtype == torch.float64
    np.testing.assert_allclose(hist.sum((1, 2, 3)).numpy(), 1.0, atol=1e-12)
    # a pure colour with log R/G = 0.6 and log R/B = -0.6 peaks at those coordinates of plane R
    r = 0.5
    pixel = torch.tensor([r, r / math.exp(0.6), r * math.exp(0.6)], dtype=torch.float64).view(1, 3, 1, 1)
    plane = rgbuv_histogram(pixel.expand(1, 3, 4, 4).clone())[0, 0]
    centres = np.linspace(-3, 3, 64)
    i, j = np.unravel_index(int(plane.argmax()), plane.shape)
    assert abs(centres[i] - 0.6) < 0.06 and abs(centres[j] + 0.6) < 0.06  # 8-bit rounding moves it a little


def test_identical_images_give_zero():
    x = sample_photo("astronaut", 64)
    assert rgbuv_hellinger(x, x)[0] == 0.0
    # and the same colours at another size: only the histograms are compared
    assert rgbuv_hellinger(x, torch.repeat_interleave(x, 2, -1))[0] < 1e-12


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("swap", [[1, 0, 2], [2, 1, 0], [0, 2, 1]])
def test_swapping_two_channels_moves_it(name, swap):
    x = sample_photo(name, 64)
    assert rgbuv_hellinger(x, x[:, swap])[0] > 0.05


def test_a_small_hue_change_scores_less_than_a_large_one():
    x = sample_photo("coffee", 64)
    mixed = 0.9 * x + 0.1 * x[:, [1, 2, 0]]
    assert 0 < rgbuv_hellinger(x, mixed)[0] < rgbuv_hellinger(x, x[:, [1, 2, 0]])[0]


@given(seed=st.integers(0, 2**16), h=st.integers(1, 12), w=st.integers(1, 12), dark=st.floats(0.0, 1.0))
def test_values_lie_in_the_unit_interval(seed, h, w, dark):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, h, w, generator=g) * dark
    b = torch.rand(2, 3, h + 1, w, generator=g) ** 3
    d = rgbuv_hellinger(a, b)
    assert d.shape == (2,) and d.dtype == np.float64
    assert np.all((d >= 0) & (d <= 1))


def test_disjoint_histograms_come_close_to_one():
    grey = torch.full((1, 3, 8, 8), 0.5)  # log-chroma (0, 0) in every plane
    colour = torch.tensor([0.8, 0.16, 0.04]).view(1, 3, 1, 1).expand(1, 3, 8, 8).clone()  # |log ratios| >= 1.4
    assert 0.99 < rgbuv_hellinger(grey, colour)[0] <= 1.0  # measured 0.996: only the kernels' tails overlap


def test_pixels_beyond_the_range_count_almost_nothing():
    # Pure red has |log R/G| = |log R/B| = 13.8, far beyond +-3: its kernel tails are ~1e-4 of an in-range
    # pixel's mass, so half an image of pure red hardly moves the histogram of the grey half (HistoGAN's
    # range, kept; documented in the module).
    grey = torch.full((1, 3, 8, 8), 0.5)
    half_red = grey.clone()
    half_red[:, :, :, :4] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert rgbuv_hellinger(grey, half_red)[0] < 0.002  # measured 0.0009


def test_large_images_are_resized_to_150_antialiased():
    x = sample_photo("rocket", 200, quantize=True)

    def resized(image: torch.Tensor, antialias: bool) -> np.ndarray:
        out = F.interpolate(image, size=(MAX_SIZE, MAX_SIZE), mode="bilinear", align_corners=False, antialias=antialias)
        return out.numpy()

    np.testing.assert_allclose(_prepare(x, True).numpy(), resized(x, True), atol=1e-12)
    np.testing.assert_allclose(_prepare(x, False).numpy(), resized(x, False), atol=1e-12)
    assert not np.allclose(resized(x, True), resized(x, False), atol=1e-3)  # the choice matters
    # a side of exactly 150 px is used as it is; one over it is resized, even when the other is small
    edge = sample_photo("rocket", MAX_SIZE, quantize=True)
    np.testing.assert_allclose(_prepare(edge, True).numpy(), edge.numpy(), atol=1e-12)
    wide = torch.cat((x[..., :40, :], x[..., :40, :]), -1)  # 40 x 400: squashed to 150 x 150, as HistoGAN does
    np.testing.assert_allclose(_prepare(wide, True).numpy(), resized(wide, True), atol=1e-12)
    # a uniform colour keeps its histogram through the resize
    flat = torch.full((1, 3, 300, 300), 0.2).index_fill_(1, torch.tensor([2]), 0.6)
    np.testing.assert_allclose(rgbuv_histogram(flat).numpy(), rgbuv_histogram(flat[..., :10, :10]).numpy(),
                               atol=1e-12)


@pytest.mark.slow
def test_a_batch_of_64_at_64_px_is_chunked_and_equals_one_at_a_time():
    x = torch.rand(64, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    y = x.roll(1, 0)
    batch = rgbuv_hellinger(x, y)
    assert batch.shape == (64,)
    singles = np.concatenate([rgbuv_hellinger(x[i : i + 1], y[i : i + 1]) for i in (0, 17, 63)])
    np.testing.assert_allclose(batch[[0, 17, 63]], singles, atol=1e-13)


def test_bad_input_is_refused():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="batch size"):
        rgbuv_hellinger(x, x[:1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rgbuv_histogram(x + 1)
