"""huenet.paint.lut: fitting, applying, writing and reading a 3D LUT, checked against Pillow and pillow-lut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.paint import lut as lut_module
from huenet.paint.lut import apply_lut, fit_lut, identity_lut, read_cube, write_cube


def uniform(seed: int, size: int) -> torch.Tensor:
    """Random colours: an image that covers the cube (2 pixels a lattice cell on average at 256 x 256, 33 nodes)."""
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def reinhard_like(rgb: torch.Tensor) -> torch.Tensor:
    """An affine map in RGB, a little cross-talk, as a statistics transfer makes; it stays inside [0, 1]."""
    matrix = torch.tensor([[0.9, 0.15, 0.0], [0.05, 0.8, 0.1], [0.0, 0.2, 0.7]])
    return torch.einsum("ij,bjhw->bihw", matrix, rgb) + torch.tensor([0.05, 0.05, 0.1]).view(1, 3, 1, 1)


def hue_rotation(rgb: torch.Tensor, turns: float = 0.1) -> torch.Tensor:
    hsv = rgb_to_hsv(rgb)
    return hsv_to_rgb(torch.stack((torch.remainder(hsv[:, 0] + turns, 1.0), hsv[:, 1], hsv[:, 2]), 1))


def levels(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs() * 255


@pytest.mark.parametrize("size", [2, 17, 33])
def test_the_identity_lut_is_the_identity(size):
    rgb = uniform(0, 64)
    assert (apply_lut(identity_lut(size), rgb) - rgb).abs().max() <= 1e-6
    assert (apply_lut(identity_lut(size), rgb.double()) - rgb.double()).abs().max() <= 1e-12


def test_the_axes_are_red_green_blue():
    """lut[r, g, b] = (b, g, r): applying it must swap red and blue, so grid_sample's axis order is right."""
    swap = identity_lut(5).flip(-1)
    rgb = uniform(1, 16)
    assert (apply_lut(swap, rgb) - rgb.flip(1)).abs().max() <= 1e-6


def test_colours_outside_the_cube_are_clamped_to_it():
    rgb = torch.tensor([-0.5, 0.5, 1.5]).view(1, 3, 1, 1)
    assert torch.allclose(apply_lut(identity_lut(9), rgb).flatten(), torch.tensor([0.0, 0.5, 1.0]), atol=1e-6)


def test_an_unchanged_image_fits_the_identity():
    rgb = uniform(2, 64)
    assert (fit_lut(rgb, rgb) - identity_lut()).abs().max() <= 1e-6


@pytest.mark.parametrize(("name", "colour_map", "bound", "measured"), [
    ("reinhard-like", reinhard_like, 0.5, 0.19), ("hue rotation", hue_rotation, 1.0, 0.37)])
def test_a_fitted_lut_reproduces_a_colour_map_on_held_out_pixels(name, colour_map, bound, measured):
    """Fitted on 256 x 256 random colours, tried on 128 x 128 others: the mean error in 8-bit levels is far below the
    issue's 2 (``measured`` is what it was when the bound was set); the plain mean fit stays under 2 too, and the
    local linear fit beats it."""
    train, test = uniform(3, 256), uniform(4, 128)
    lut = fit_lut(train, colour_map(train))
    error = levels(apply_lut(lut, test), colour_map(test)).mean().item()
    plain = levels(apply_lut(fit_lut(train, colour_map(train), local_linear=False), test), colour_map(test)).mean()
    assert error <= bound
    assert plain <= 2.0
    assert error < plain


def test_a_lut_fitted_on_reds_leaves_blue_alone_and_maps_reds_like_the_reds():
    """A red-only image, its reds turned 30 degrees: pure blue is many lattice steps away from any red, so it maps to
    itself; reds from the same distribution, not in the image, map like the image's reds (measured 0.46 levels)."""
    g = torch.Generator().manual_seed(5)
    centre = torch.tensor([0.8, 0.1, 0.1]).view(1, 3, 1, 1)
    reds = (centre + 0.03 * torch.randn(1, 3, 128, 128, generator=g)).clamp(0.0, 1.0)
    lut = fit_lut(reds, hue_rotation(reds, 1 / 12))
    blue = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
    assert (apply_lut(lut, blue) - blue).abs().max() <= 1e-6
    near = (centre + 0.03 * torch.randn(1, 3, 64, 64, generator=g)).clamp(0.0, 1.0)
    assert levels(apply_lut(lut, near), hue_rotation(near, 1 / 12)).mean() <= 2.0


def test_empty_nodes_fall_to_the_identity_within_two_steps():
    """One colour, exactly on node (16, 16, 16): that node alone is fitted; 1 step away 2/3 of its offset, 2 steps
    1/3, 3 steps none (``REACH = 2``)."""
    source = torch.full((1, 3, 4, 4), 0.5)
    offset = torch.tensor([0.1, 0.0, -0.1])
    lut = fit_lut(source, source + offset.view(1, 3, 1, 1)) - identity_lut()
    for steps, share in [(0, 1.0), (1, 2 / 3), (2, 1 / 3), (3, 0.0)]:
        for node in [(16 + steps, 16, 16), (16 - steps, 16 + steps, 16 - steps)]:
            assert torch.allclose(lut[node], share * offset, atol=1e-6), (steps, node)


def test_write_then_read_round_trips(tmp_path):
    train = uniform(6, 64)
    lut = fit_lut(train, hue_rotation(train), size=17)
    write_cube(lut, tmp_path / "hue.cube", title="hue +36")
    assert (read_cube(tmp_path / "hue.cube") - lut).abs().max() <= 1e-6
    text = (tmp_path / "hue.cube").read_text().splitlines()
    assert text[:4] == ['TITLE "hue +36"', "LUT_3D_SIZE 17", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    assert len(text) == 4 + 17**3


def test_data_lines_run_red_fastest(tmp_path):
    write_cube(identity_lut(3), tmp_path / "id.cube")
    rows = [line.split() for line in (tmp_path / "id.cube").read_text().splitlines()[4:]]
    assert [float(v) for v in rows[1]] == [0.5, 0.0, 0.0]  # red moved first
    assert [float(v) for v in rows[3]] == [0.0, 0.5, 0.0]  # then green
    assert [float(v) for v in rows[9]] == [0.0, 0.0, 0.5]  # then blue


def test_pillow_reads_our_file_and_applies_it_like_we_do(tmp_path):
    """pillow-lut parses the file and Pillow's Color3DLUT (its own trilinear code, 16-bit fixed point) applies it to
    an 8-bit image: within 2 levels of apply_lut everywhere (measured: at most 1, from rounding)."""
    pillow_lut = pytest.importorskip("pillow_lut")
    from PIL import Image

    train = uniform(7, 128)
    lut = fit_lut(train, hue_rotation(train))
    write_cube(lut, tmp_path / "hue.cube", title="hue")
    theirs = pillow_lut.load_cube_file(str(tmp_path / "hue.cube"))
    assert tuple(theirs.size) == (33, 33, 33)
    # their table runs in file order, [b][g][r]: red fastest
    table = torch.tensor(list(theirs.table), dtype=torch.float32).view(33, 33, 33, 3).permute(2, 1, 0, 3)
    assert (table - lut).abs().max() <= 1e-6
    pixels = (uniform(8, 96) * 255).round().to(torch.uint8)
    image = Image.fromarray(pixels[0].permute(1, 2, 0).numpy(), "RGB")
    pillow = torch.from_numpy(np.array(image.filter(theirs))).permute(2, 0, 1).float()
    ours = (apply_lut(lut, pixels.float() / 255)[0] * 255).round()
    assert (pillow - ours).abs().max() <= 2


def test_comments_blank_lines_and_the_resolve_input_range_are_read(tmp_path):
    body = ["# made by hand", "", 'TITLE "two"', "LUT_3D_INPUT_RANGE 0 1", "LUT_3D_SIZE 2", ""]
    body += [" ".join(map(str, rgb)) for rgb in identity_lut(2).permute(2, 1, 0, 3).reshape(-1, 3).tolist()]
    (tmp_path / "two.cube").write_text("\r\n".join(body + ["# end", ""]))
    assert torch.equal(read_cube(tmp_path / "two.cube"), identity_lut(2))


def good_lines(size: int = 2) -> list[str]:
    return ['TITLE "t"', f"LUT_3D_SIZE {size}"] + ["0.0 0.5 1.0"] * size**3


@pytest.mark.parametrize(("lines", "where", "message"), [
    (good_lines()[:-1], ":9:", "7 data lines, LUT_3D_SIZE 2 needs 8"),
    (good_lines() + ["0 0 0"], ":11:", "more than the 8"),
    (good_lines()[:5] + ["0.1 abc 0.3"] + good_lines()[6:], ":6:", "expected 3 finite numbers"),
    (good_lines()[:5] + ["0.1 0.3"] + good_lines()[6:], ":6:", "expected 3 finite numbers"),
    (good_lines()[:5] + ["0.1 nan 0.3"] + good_lines()[6:], ":6:", "expected 3 finite numbers"),
    (good_lines()[:1] + good_lines()[2:], ":2:", "before LUT_3D_SIZE"),
    (good_lines()[:1], "", "no LUT_3D_SIZE"),
    (["LUT_1D_SIZE 4"] + ["0 0 0"] * 4, ":1:", "1D LUT"),
    (good_lines()[:2] + ["DOMAIN_MAX 2 2 2"] + good_lines()[2:], ":3:", "domain"),
    (good_lines()[:2] + ["DOMAIN_MIN 0 0"] + good_lines()[2:], ":3:", "expected 3 finite numbers"),
    (good_lines()[:2] + ["LUT_3D_SIZE 2"] + good_lines()[2:], ":3:", "second LUT_3D_SIZE"),
    (["LUT_3D_SIZE 1"] + ["0 0 0"], ":1:", "LUT_3D_SIZE must be"),
    (["LUT_3D_SIZE two"] + ["0 0 0"] * 8, ":1:", "LUT_3D_SIZE must be"),
    (good_lines()[:2] + ["LUT_WHATEVER 3"] + good_lines()[2:], ":3:", "unknown keyword"),
    (good_lines()[:6] + ["DOMAIN_MIN 0 0 0"] + good_lines()[6:], ":7:", "after the data"),
])
def test_malformed_files_raise_one_line_naming_the_file_and_line(tmp_path, lines, where, message):
    path = tmp_path / "bad.cube"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message) as err:
        read_cube(path)
    assert str(err.value).startswith(f"{path}{where}")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("call", "message"), [
    (lambda p: write_cube(identity_lut(2), p, title='say "hi"'), "title"),
    (lambda p: write_cube(identity_lut(2)[:, :, :1], p), r"\(N, N, N, 3\)"),
    (lambda p: write_cube(identity_lut(2) * float("nan"), p), "NaN"),
    (lambda p: apply_lut(torch.zeros(3, 3, 3), torch.rand(1, 3, 2, 2)), r"\(N, N, N, 3\)"),
    (lambda p: apply_lut(identity_lut(2), torch.rand(3, 2, 2)), "rgb must have shape"),
    (lambda p: fit_lut(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5)), "same shape"),
    (lambda p: fit_lut(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), size=1), "size"),
    (lambda p: fit_lut(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), reach=-1), "reach"),
    (lambda p: identity_lut(300), "size"),
])
def test_bad_arguments_raise_one_line(tmp_path, call, message):
    with pytest.raises(ValueError, match=message) as err:
        call(tmp_path / "x.cube")
    assert "\n" not in str(err.value)


def test_row_tiles_and_splat_chunks_do_not_change_the_result(monkeypatch):
    train = uniform(9, 48)
    lut = fit_lut(train, hue_rotation(train), size=9)
    applied = apply_lut(lut, train)
    monkeypatch.setattr(lut_module, "_TILE_PIXELS", 48 * 5)
    monkeypatch.setattr(lut_module, "_CHUNK", 1000)
    assert torch.allclose(fit_lut(train, hue_rotation(train), size=9), lut, atol=1e-6)
    assert torch.allclose(apply_lut(lut, train), applied, atol=1e-6)


def test_a_batch_is_one_lut():
    images = torch.cat((uniform(10, 32), uniform(11, 32)))
    lut = fit_lut(images, hue_rotation(images), size=9)
    assert apply_lut(lut, images).shape == images.shape
    assert torch.allclose(apply_lut(lut, images)[1:], apply_lut(lut, images[1:]), atol=1e-6)
