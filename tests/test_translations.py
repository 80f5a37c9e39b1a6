"""huenet.paint.translations: a network's output averaged over small shifts of its input."""

from __future__ import annotations

import pytest
import torch

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.paint.translations import translation_mean


def _image(seed: int = 0, size: tuple[int, int] = (24, 32)) -> torch.Tensor:
    hsv = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    hsv[:, 1:] = 0.4 + 0.6 * hsv[:, 1:]
    return hsv_to_rgb(hsv)


def _turned(rgb: torch.Tensor, turns: torch.Tensor | float) -> torch.Tensor:
    hsv = rgb_to_hsv(rgb)
    return hsv_to_rgb(torch.cat((torch.remainder(hsv[:, :1] + turns, 1.0), hsv[:, 1:]), 1))


def _checkerboard(shape: torch.Size) -> torch.Tensor:
    """+1 / -1 on the input's own pixel grid: what a strided layer's pattern is, fixed to the network's input."""
    rows, cols = torch.arange(shape[-2]).view(-1, 1), torch.arange(shape[-1]).view(1, -1)
    return (1 - 2 * ((rows + cols) % 2)).to(torch.float64)


def _hue_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.remainder(rgb_to_hsv(a)[:, 0] - rgb_to_hsv(b)[:, 0] + 0.5, 1.0) - 0.5


def test_a_pointwise_method_is_unchanged():
    source = _image()
    for hue_only in (False, True):
        mean = translation_mean(lambda s, t: _turned(s, 0.1), source, hue_only=hue_only)
        assert torch.allclose(mean, _turned(source, 0.1), atol=1e-9)


def test_a_pattern_on_the_networks_grid_cancels():
    """A method that paints +-0.05 turns in a checkerboard of its input's pixels: each pixel meets both signs
    equally often over the 4 x 4 shifts, so the hue vectors' mean turns it by exactly 0."""
    source = _image(1)

    def lattice(s: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        return _turned(s, 0.05 * _checkerboard(s.shape))

    assert _hue_gap(lattice(source, None), source).abs().min() == pytest.approx(0.05, abs=1e-9)
    mean = translation_mean(lattice, source, hue_only=True)
    inner = (slice(None), slice(None, -3), slice(None, -3))  # the last rows and columns miss some shifts
    assert _hue_gap(mean, source)[inner].abs().max() <= 1e-9
    assert torch.allclose(rgb_to_hsv(mean)[:, 1:], rgb_to_hsv(source)[:, 1:], atol=1e-12)  # S and V kept


def test_a_spatial_target_moves_with_the_source():
    """A method that takes each pixel's hue from the target at the same place: the average is the target's hue
    map itself, so the target was shifted along with the source (resized to its size by nearest neighbours)."""
    source, target = _image(2), _image(3, (12, 16))

    def copy_hue(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        hsv = rgb_to_hsv(s)
        return hsv_to_rgb(torch.cat((rgb_to_hsv(t)[:, :1], hsv[:, 1:]), 1))

    mean = translation_mean(copy_hue, source, target, hue_only=True, spatial_target=True)
    resized = torch.nn.functional.interpolate(target, size=source.shape[-2:], mode="nearest")
    assert _hue_gap(mean, resized).abs().max() <= 1e-9


def test_other_outputs_are_averaged_as_rgb():
    source = _image(4)
    mean = translation_mean(lambda s, t: s * 0.5 + 0.25 * _checkerboard(s.shape).clamp(0, 1), source)
    assert torch.allclose(mean[..., :-3, :-3], source[..., :-3, :-3] * 0.5 + 0.125, atol=1e-12)


@pytest.mark.parametrize("steps", [0, 1.5, True, 25])
def test_bad_steps_raise(steps):
    with pytest.raises(ValueError, match="steps"):
        translation_mean(lambda s, t: s, _image(), steps=steps)
