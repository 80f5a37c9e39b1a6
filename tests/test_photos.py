"""huenet.data.photos: the wheel-shipped sample photos, as shipped and centre-cropped and resized."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from huenet.data.photos import photo_pixels, sample_photo


@pytest.mark.parametrize(("name", "shape"), [("rocket", (427, 640, 3)), ("flower", (427, 640, 3)),
                                             ("stereo_motorcycle", (500, 741, 3))])
def test_photo_pixels_are_the_whole_photo(name: str, shape: tuple[int, int, int]) -> None:
    pixels = photo_pixels(name)
    assert pixels.shape == shape and pixels.dtype == np.uint8
    if name == "rocket":
        assert np.array_equal(pixels, skimage.data.rocket())


def test_full_size_is_the_centre_square_of_the_photo() -> None:
    image = torch.from_numpy(skimage.data.chelsea()).permute(2, 0, 1)[None].double() / 255  # 300 x 451
    left = (451 - 300) // 2
    assert torch.allclose(sample_photo("chelsea", 300), image[..., left : left + 300], atol=1e-12)


@pytest.mark.parametrize("name", ["astronaut", "rocket", "china", "flower"])
def test_shape_range_and_quantization(name: str) -> None:
    x = sample_photo(name, 24)
    assert x.shape == (1, 3, 24, 24) and x.dtype == torch.float64 and x.is_contiguous()
    assert 0 <= x.min() and x.max() <= 1
    q = sample_photo(name, 24, quantize=True)
    assert torch.equal(q * 255, (q * 255).round()) and (q - x).abs().max() <= 0.5 / 255 + 1e-12
