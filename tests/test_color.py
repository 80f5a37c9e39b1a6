import numpy as np
import pytest
import torch
from skimage.color import hsv2rgb, rgb2hsv

from huenet.core.color import hsv_to_rgb, rgb_to_hsv


def _special_pixels() -> torch.Tensor:
    """Grey, black, white, primaries, secondaries and ties: the edge cases of HSV."""
    px = [
        [0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1],
        [1, 1, 0], [0, 1, 1], [1, 0, 1], [0.2, 0.2, 0.1], [0.3, 0.1, 0.3], [1, 0, 1e-9],
    ]
    return torch.tensor(px, dtype=torch.float64).T.reshape(1, 3, 3, 4)


def _random_image(seed: int = 0, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, size, size, generator=g, dtype=torch.float64)


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("make", [_random_image, _special_pixels])
def test_rgb_to_hsv_matches_skimage(make):
    rgb = make()
    ours = _to_numpy(rgb_to_hsv(rgb))
    ref = rgb2hsv(_to_numpy(rgb))
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert ours[..., 0].min() >= 0 and ours[..., 0].max() < 1


def test_rgb_to_hsv_matches_skimage_on_8bit_colours():
    """Every hue sector and the quantised values that metrics will see."""
    g = torch.Generator().manual_seed(1)
    rgb = torch.randint(0, 256, (1, 3, 64, 64), generator=g).double() / 255
    np.testing.assert_allclose(_to_numpy(rgb_to_hsv(rgb)), rgb2hsv(_to_numpy(rgb)), atol=1e-6)


def test_hsv_to_rgb_matches_skimage():
    hsv = _random_image(2)
    np.testing.assert_allclose(_to_numpy(hsv_to_rgb(hsv)), hsv2rgb(_to_numpy(hsv)), atol=1e-6)


def test_round_trip():
    rgb = _random_image(3)
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(rgb)), rgb, atol=1e-9, rtol=0)


def test_hsv_to_rgb_is_periodic_in_hue():
    hsv = _random_image(4)
    shifted = hsv.clone()
    shifted[:, 0] += 1.0
    torch.testing.assert_close(hsv_to_rgb(shifted), hsv_to_rgb(hsv))


@pytest.mark.parametrize("fn", [rgb_to_hsv, hsv_to_rgb])
def test_gradients_finite_on_grey_black_and_primaries(fn):
    x = _special_pixels().requires_grad_(True)
    out = fn(x)
    (grad,) = torch.autograd.grad(out.sum() + (out**2).sum(), x)
    assert torch.isfinite(out).all()
    assert torch.isfinite(grad).all()


@pytest.mark.slow
@pytest.mark.parametrize("fn", [rgb_to_hsv, hsv_to_rgb])
def test_gradcheck(fn):
    # away from ties and sector boundaries, where the functions are smooth
    x = (torch.rand(1, 3, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 0.8 + 0.1)
    assert torch.autograd.gradcheck(fn, (x.requires_grad_(True),))


@pytest.mark.parametrize(
    "bad, match",
    [
        (torch.rand(3, 8, 8), "shape"),
        (torch.rand(1, 4, 8, 8), "shape"),
        (torch.randint(0, 255, (1, 3, 8, 8), dtype=torch.uint8), "floating"),
        (np.zeros((1, 3, 8, 8)), "torch.Tensor"),
    ],
)
@pytest.mark.parametrize("fn", [rgb_to_hsv, hsv_to_rgb])
def test_bad_input(fn, bad, match):
    with pytest.raises(ValueError, match=match):
        fn(bad)
