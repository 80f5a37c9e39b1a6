"""huenet.paint.blend: strength and masks, on the hue circle and in CIELAB."""

from __future__ import annotations

import pytest
import torch

from huenet.core.cielab import cielab_to_rgb, rgb_to_cielab
from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.paint import blend as blend_module
from huenet.paint.blend import apply_mask, blend_hue, blend_lab, wrap

BLENDS = [blend_hue, blend_lab]


def image(seed: int, shape=(2, 3, 16, 20)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def hue_only(source: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """What Hue-Net does: a new hue per pixel, the source's S and V."""
    hsv = rgb_to_hsv(source)
    new = torch.rand(hsv[:, :1].shape, generator=torch.Generator().manual_seed(seed))
    return hsv_to_rgb(torch.cat((new, hsv[:, 1:]), 1))


def circular(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.remainder(a - b + 0.5, 1.0) - 0.5


def saturated(rgb: torch.Tensor) -> torch.Tensor:
    """Pixels whose hue is well defined (chroma >= 0.1): elsewhere a hue means little."""
    return (rgb.amax(1) - rgb.amin(1)) >= 0.1


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize("zero", [0, 0.0, "map"])
def test_strength_zero_is_the_source_bit_for_bit(blend, zero):
    source = image(0)
    strength = torch.zeros(2, 1, 16, 20) if zero == "map" else zero
    assert torch.equal(blend(source, hue_only(source), strength), source)


def test_strength_one_is_the_output_on_the_hue_circle():
    """Within 1e-6 (measured 0: the blend runs in float64, so the HSV round trip costs less than a float32 step)."""
    source = image(0)
    output = hue_only(source)
    assert (blend_hue(source, output, 1.0) - output).abs().max() <= 1e-6
    assert (blend_hue(source, output, torch.ones(1, 1, 16, 20)) - output).abs().max() <= 1e-6


def test_strength_one_is_the_output_in_lab():
    """Within 1e-6: the CIELAB round trip runs in float64 (error ~1e-15, measured), then one float32 rounding."""
    source, output = image(0), image(1)
    assert (blend_lab(source, output, 1.0) - output).abs().max() <= 1e-6
    rgb = image(2).double()
    assert (cielab_to_rgb(rgb_to_cielab(rgb)) - rgb).abs().max() <= 1e-12


@pytest.mark.parametrize(("start", "end", "half"), [(0.95, 0.05, 0.0), (0.05, 0.95, 0.0), (0.1, 0.3, 0.2),
                                                    (0.9, 0.6, 0.75), (0.3, 0.9, 0.1)])
def test_half_strength_lies_half_way_the_short_way_round(start, end, half):
    def pixel(hue):
        return hsv_to_rgb(torch.tensor([hue, 0.9, 0.8]).view(1, 3, 1, 1))
    got = rgb_to_hsv(blend_hue(pixel(start), pixel(end), 0.5))[0, 0, 0, 0]
    assert abs(circular(got, torch.tensor(half))) <= 1e-6


@pytest.mark.parametrize("strength", [0.25, 0.5, 0.8])
def test_the_hue_moves_by_the_strength_times_the_short_arc(strength):
    source = image(3)
    output = hue_only(source, 4)
    got = rgb_to_hsv(blend_hue(source, output, strength))[:, 0]
    hs, ho = rgb_to_hsv(source)[:, 0], rgb_to_hsv(output)[:, 0]
    arc = wrap(ho - hs)
    ok = saturated(source) & (arc.abs() < 0.49)  # an exact half turn may go either way
    assert circular(got, hs + strength * arc)[ok].abs().max() <= 1e-5


def test_half_strength_in_lab_is_the_mean_of_the_two_labs():
    source, output = image(5), image(6)
    got = rgb_to_cielab(blend_lab(source, output, 0.5))
    want = (rgb_to_cielab(source) + rgb_to_cielab(output)) / 2
    inside = ((cielab_to_rgb(want) >= 0) & (cielab_to_rgb(want) <= 1)).all(1, keepdim=True).expand_as(want)
    assert (got - want)[inside].abs().max() <= 1e-3  # float32 output: a 1e-7 RGB step is ~1e-4 in L*


def test_cielab_agrees_with_scikit_image():
    color = pytest.importorskip("skimage.color")
    rgb = image(7, (1, 3, 32, 32)).double()
    ref = torch.from_numpy(color.rgb2lab(rgb[0].permute(1, 2, 0).numpy())).permute(2, 0, 1)[None]
    # scikit-image's D65 white is 1e-5 off the matrix's own white, which we use (greys get a* = b* = 0 exactly)
    assert (rgb_to_cielab(rgb) - ref).abs().max() <= 0.01
    greys = torch.linspace(0, 1, 11, dtype=torch.float64).view(1, 1, 1, 11).expand(1, 3, 1, 11)
    assert rgb_to_cielab(greys)[:, 1:].abs().max() <= 1e-12


@pytest.mark.parametrize("space", ["hue", "lab"])
def test_a_black_mask_returns_the_source_exactly(space):
    source = image(0)
    assert torch.equal(apply_mask(source, hue_only(source), torch.zeros(2, 1, 16, 20), space=space), source)


@pytest.mark.parametrize("space", ["hue", "lab"])
def test_a_left_half_mask_paints_only_the_left_half(space):
    source = image(0)
    output = hue_only(source)
    mask = torch.zeros(1, 1, 16, 20)
    mask[..., :10] = 1.0
    got = apply_mask(source, output, mask, space=space)
    assert torch.equal(got[..., 10:], source[..., 10:])
    assert (got[..., :10] - output[..., :10]).abs().max() <= 1e-6


@pytest.mark.parametrize("space", ["hue", "lab"])
def test_a_soft_mask_is_a_strength_map(space):
    source = image(0)
    output = hue_only(source)
    ramp = torch.linspace(0, 1, 20).view(1, 1, 1, 20).expand(2, 1, 16, 20).contiguous()
    blend = {"hue": blend_hue, "lab": blend_lab}[space]
    assert torch.equal(apply_mask(source, output, ramp, space=space, strength=0.6), blend(source, output, ramp * 0.6))
    grey = torch.full((1, 1, 16, 20), 0.5)
    assert torch.allclose(apply_mask(source, output, grey, space=space), blend(source, output, 0.5), atol=1e-6)


def test_a_map_of_one_value_equals_that_number():
    source = image(0)
    output = hue_only(source)
    for blend in BLENDS:
        assert torch.allclose(blend(source, output, torch.full((2, 1, 16, 20), 0.3)), blend(source, output, 0.3),
                              atol=1e-6)


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize(("strength", "message"), [
    (-0.1, r"\[0, 1\]"), (1.1, r"\[0, 1\]"), (float("nan"), r"\[0, 1\]"), (float("inf"), r"\[0, 1\]"),
    ("0.5", "number"), (True, "number"), (None, "number"),
    (torch.full((2, 1, 16, 20), float("nan")), "no NaN"), (torch.full((2, 1, 16, 20), 1.5), r"\[0, 1\]"),
    (torch.zeros(2, 1, 16, 19), "shape"), (torch.zeros(3, 1, 16, 20), "shape"), (torch.zeros(2, 3, 16, 20), "shape"),
    (torch.zeros(16, 20), "shape"), (torch.zeros(2, 1, 16, 20, dtype=torch.uint8), "floating"),
])
def test_bad_strengths_raise_one_line(blend, strength, message):
    source = image(0)
    with pytest.raises(ValueError, match=message) as err:
        blend(source, source, strength)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mask": torch.zeros(2, 1, 16, 21)}, "mask map must have shape"),
    ({"mask": torch.zeros(1, 16, 20)}, "mask map must have shape"),
    ({"mask": 0.5}, "mask must be a"),
    ({"mask": torch.full((1, 1, 16, 20), -1.0)}, "mask map values"),
    ({"mask": torch.ones(1, 1, 16, 20), "strength": 2.0}, "strength must lie"),
    ({"mask": torch.ones(1, 1, 16, 20), "space": "rgb"}, "space must be"),
])
def test_bad_masks_raise_one_line(kwargs, message):
    source = image(0)
    kwargs = {"space": "hue", **kwargs}
    with pytest.raises(ValueError, match=message) as err:
        apply_mask(source, source, **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("blend", BLENDS)
def test_source_and_output_must_match(blend):
    with pytest.raises(ValueError, match="same shape"):
        blend(image(0), image(1, (2, 3, 16, 21)), 0.5)


def test_the_dtype_is_the_sources():
    source = image(0).double()
    for blend in BLENDS:
        assert blend(source, hue_only(source), torch.full((1, 1, 16, 20), 0.5)).dtype == torch.float64


@pytest.mark.parametrize("blend", BLENDS)
def test_row_tiles_do_not_change_the_result(blend, monkeypatch):
    source = image(0)
    output = hue_only(source)
    ramp = torch.linspace(0, 1, 16).view(1, 1, 16, 1).expand(1, 1, 16, 20).contiguous()
    whole = blend(source, output, ramp)
    monkeypatch.setattr(blend_module, "TILE_PIXELS", 20 * 3)  # 3 rows a tile, the last one short
    assert torch.equal(blend(source, output, ramp), whole)
