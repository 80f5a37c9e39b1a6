"""Edge-structure SSIM (huenet.eval.edges) against scikit-image computing the same, and its behaviour on photos."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.filters import sobel
from skimage.metrics import structural_similarity
from torchvision.transforms.functional import gaussian_blur

from huenet.data.photos import sample_photo
from huenet.eval.edges import edge_ssim, sobel_magnitude
from huenet.eval.metrics import grey_levels, grey_ssim

NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def _skimage_edge_ssim(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """The same score from scikit-image: sobel of each grey image, then structural_similarity as huenet.eval.metrics."""
    ga, gb = grey_levels(a)[:, 0].numpy(), grey_levels(b)[:, 0].numpy()
    return np.array([
        structural_similarity(sobel(x), sobel(y), win_size=7, data_range=1.0, gaussian_weights=False)
        for x, y in zip(ga, gb)
    ])


@pytest.mark.parametrize("shape", [(7, 7), (12, 19), (33, 20)])
def test_sobel_equals_skimage_including_the_borders(shape):
    grey = torch.rand(3, 1, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ours = sobel_magnitude(grey)[:, 0].numpy()
    for i in range(3):
        # float64 on both sides, same sums in another order: equal to rounding
        np.testing.assert_allclose(ours[i], sobel(grey[i, 0].numpy()), rtol=0, atol=1e-14)


def test_edge_ssim_equals_skimage_on_random_images():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(4, 3, 24, 30, generator=g)
    b = (a + 0.2 * torch.randn(4, 3, 24, 30, generator=g)).clamp(0, 1)
    # Both compute the same float64 sums (uniform filter vs average pooling), so agree far below 1e-4.
    np.testing.assert_allclose(edge_ssim(a, b), _skimage_edge_ssim(a, b), rtol=0, atol=1e-10)


@pytest.mark.parametrize("pair", [("astronaut", "coffee"), ("chelsea", "rocket")])
def test_edge_ssim_equals_skimage_on_photos(pair):
    a, b = (sample_photo(name, 64) for name in pair)
    blurred = gaussian_blur(a, 5, 1.0)
    batch_a, batch_b = torch.cat((a, a)), torch.cat((b, blurred))
    np.testing.assert_allclose(edge_ssim(batch_a, batch_b), _skimage_edge_ssim(batch_a, batch_b), atol=1e-10)


def _rotate_chroma(rgb: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate (Cb, Cr) of ITU-R 601 YCbCr by ``degrees``, luma Y unchanged (no clipping)."""
    r, g, b = rgb.unbind(1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb, cr = (b - y) / 1.772, (r - y) / 1.402
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    cb, cr = c * cb - s * cr, s * cb + c * cr
    red, blue = y + 1.402 * cr, y + 1.772 * cb
    return torch.stack((red, (y - 0.299 * red - 0.114 * blue) / 0.587, blue), 1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("degrees", [90, 180])
def test_a_chroma_rotation_that_keeps_luma_keeps_the_edges(name, degrees):
    # Contrast halved around mid-grey first, so that every rotated colour stays inside the RGB cube.
    x = 0.25 + 0.5 * sample_photo(name, 64, quantize=True)
    out = _rotate_chroma(x, degrees)
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x, atol=0.05)  # the colours did change
    # only the 8-bit rounding of the two images' channels separates their lumas (<= 0.75 level, measured)
    assert (grey_levels(x) - grey_levels(out)).abs().max() <= 1 / 255
    assert edge_ssim(x, out)[0] > 0.999  # measured 0.9997-0.9999


@pytest.mark.parametrize("name", NAMES)
def test_a_blur_lowers_it_more_than_grey_ssim(name):
    x = sample_photo(name, 64)
    blurred = gaussian_blur(x, 13, 2.0)
    score = edge_ssim(x, blurred)[0]
    assert score < 0.9  # measured 0.39-0.78 (rocket, the smoothest, 0.78)
    assert score < grey_ssim(x, blurred)[0]  # edges are what a blur removes


def test_shape_and_bounds():
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(5, 3, 9, 11, generator=g), torch.rand(5, 3, 9, 11, generator=g)
    values = edge_ssim(a, b)
    assert values.shape == (5,) and values.dtype == np.float64
    assert np.all((values >= -1) & (values <= 1))
    np.testing.assert_allclose(edge_ssim(a, a), 1.0, atol=1e-12)
    # flat images have zero edge maps everywhere: equal, SSIM 1
    np.testing.assert_allclose(edge_ssim(torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.7)), 1.0)


def test_bad_input_is_refused():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="same shape"):
        edge_ssim(x, x[..., :7])
    with pytest.raises(ValueError, match="at least 7"):
        edge_ssim(x[..., :6, :], x[..., :6, :])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        sobel_magnitude(x)
