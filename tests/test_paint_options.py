"""``huenet.transfer``'s working size, strength, masks and LUT, and the CLI's flags for them."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import huenet
import huenet.paint.command as command
import huenet.paint.methods as registry
from huenet.cli import main
from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.nets.hue_net import UNetGenerator, save_generator
from huenet.paint.api import TransferError, painter
from huenet.paint.lut import apply_lut, read_cube
from huenet.paint.methods import register_method


def _hsv_image(hue: float, height: int = 24, width: int = 32, saturation: float = 0.9) -> np.ndarray:
    hsv = torch.tensor([hue, saturation, 0.8]).view(1, 3, 1, 1).expand(1, 3, height, width)
    return (hsv_to_rgb(hsv)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _hue(image: Image.Image) -> np.ndarray:
    rgb = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return rgb_to_hsv(rgb)[0, 0].numpy()


def _circular_gap(a: np.ndarray, b: float) -> np.ndarray:
    return np.abs((a - b + 0.5) % 1.0 - 0.5)


@pytest.mark.parametrize("method", ["reinhard", "histmatch"])
def test_strength_0_returns_the_source_and_1_the_transfer(method: str) -> None:
    source, target = _hsv_image(0.6), _hsv_image(0.1)
    assert np.array_equal(np.asarray(huenet.transfer(source, target, method=method, strength=0.0)), source)
    full = huenet.transfer(source, target, method=method)
    assert np.array_equal(np.asarray(huenet.transfer(source, target, method=method, strength=1.0)), np.asarray(full))
    assert not np.array_equal(np.asarray(full), source)


def test_half_strength_is_half_way_round_the_shorter_arc() -> None:
    # hue histogram matching takes 0.95 to 0.05: half way is red, 0.0, not cyan across the long way
    out = huenet.transfer(_hsv_image(0.95), _hsv_image(0.05), method="histmatch", strength=0.5)
    assert _circular_gap(_hue(out), 0.0).max() < 1.5 / 255 * 6  # within an 8-bit level's hue step


def test_a_black_mask_returns_the_source_and_a_half_mask_paints_half() -> None:
    source, target = _hsv_image(0.6), _hsv_image(0.1)
    black = np.zeros_like(source)
    assert np.array_equal(np.asarray(huenet.transfer(source, target, method="histmatch", mask=black)), source)
    left = np.zeros_like(source)
    left[:, :16] = 255
    out = np.asarray(huenet.transfer(source, target, method="histmatch", mask=left))
    assert np.array_equal(out[:, 16:], source[:, 16:]) and not np.array_equal(out[:, :16], source[:, :16])


def test_a_target_mask_over_the_red_half_gives_red() -> None:
    target = _hsv_image(0.66)  # blue
    target[:, :16] = _hsv_image(0.0)[:, :16]  # red on the left
    mask = np.zeros_like(target)
    mask[:, :16] = 255
    ramp = torch.linspace(0.2, 0.5, 32).view(1, 1, 1, 32).expand(1, 1, 24, 32)
    hsv = torch.cat((ramp, torch.full_like(ramp, 0.9), torch.full_like(ramp, 0.8)), 1)
    source = (hsv_to_rgb(hsv)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)  # hues spread
    for method in ("histmatch", "reinhard"):
        out = huenet.transfer(source, target, method=method, target_mask=mask)
        assert _circular_gap(_hue(out), 0.0).mean() < 0.03, method
    unmasked = huenet.transfer(source, target, method="histmatch")
    assert _circular_gap(_hue(unmasked), 0.0).mean() > 0.1  # without the mask, half of it turns blue


def test_a_target_mask_is_refused_by_huenet_and_a_mask_of_the_wrong_size_by_all(tmp_path: Path) -> None:
    model = tmp_path / "g.pt"
    save_generator(UNetGenerator(width=4, depth=3), model)
    source, target = _hsv_image(0.6), _hsv_image(0.1)
    with pytest.raises(TransferError, match="hue map aligned with the source") as err:
        huenet.transfer(source, target, model=model, target_mask=target)
    assert "\n" not in str(err.value)
    with pytest.raises(TransferError, match="a mask must have its image's size"):
        huenet.transfer(source, target, method="reinhard", mask=np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(TransferError, match="strength must be a number from 0 to 1"):
        huenet.transfer(source, target, method="reinhard", strength=1.5)
    with pytest.raises(TransferError, match="work size must be an integer"):
        huenet.transfer(source, target, model=model, work_size=3)


@pytest.fixture()
def recorder():
    """A learned test method that records the size it is run at and shifts hue by a quarter turn."""
    seen = []

    def quarter_turn(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(source.shape[-2:]))
        hsv = rgb_to_hsv(source)
        return hsv_to_rgb(torch.cat(((hsv[:, :1] + 0.25) % 1.0, hsv[:, 1:]), 1))

    register_method("test-quarter-turn", quarter_turn, learned=True, hue_only=True)
    yield seen
    registry._METHODS.pop("test-quarter-turn")


def test_a_learned_method_runs_at_the_working_size_and_is_lifted_to_the_photo(recorder) -> None:
    rng = np.random.default_rng(0)
    hues = np.kron(rng.random((6, 8)), np.ones((32, 32)))  # 192 x 256 of flat patches
    hsv = torch.from_numpy(np.stack([hues, np.full_like(hues, 0.9), np.full_like(hues, 0.8)])).float()[None]
    source = (hsv_to_rgb(hsv)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = huenet.transfer(source, source, method="test-quarter-turn", work_size=64)
    assert recorder == [(48, 64)] and out.size == (256, 192)
    gap = _circular_gap(_hue(out) - _hue(Image.fromarray(source)), 0.25)
    assert np.median(gap) < 2 / 360  # the lifted shift is the quarter turn, within 2 degrees, away from edges
    huenet.transfer(source, source, method="test-quarter-turn", work_size=None)
    assert recorder[-1] == (192, 256)  # native: the photo's own size


@pytest.mark.slow
def test_the_cli_writes_a_lut_that_reproduces_a_per_pixel_method(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    source = np.kron(rng.integers(0, 256, (12, 16, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    Image.fromarray(source).save(tmp_path / "s.png")
    Image.fromarray(_hsv_image(0.1, 40, 40)).save(tmp_path / "t.png")
    assert main(["transfer", str(tmp_path / "s.png"), str(tmp_path / "t.png"), "-o", str(tmp_path / "o.png"),
                 "--method", "reinhard", "--lut", str(tmp_path / "look.cube")]) == 0
    with Image.open(tmp_path / "o.png") as written:
        painted = np.asarray(written, dtype=np.float64)
    lut = read_cube(tmp_path / "look.cube")
    rgb = torch.from_numpy(source / 255).permute(2, 0, 1)[None].float()
    again = apply_lut(lut, rgb)[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(again - painted).mean() < 2  # Reinhard is a colour map: the LUT holds it up to interpolation
    assert main(["apply-lut", str(tmp_path / "s.png"), str(tmp_path / "look.cube"), "-o", str(tmp_path / "a.png")]) == 0
    with Image.open(tmp_path / "a.png") as applied:
        assert np.abs(np.asarray(applied, dtype=np.float64) - again).max() <= 1


@pytest.mark.parametrize("flags, says", [
    (["--strength", "2"], "must be from 0 to 1"),
    (["--work-size", "big"], "not a whole number of pixels or 'native'"),
    (["--lut", "look.txt"], "a LUT is written as a .cube file"),
    (["--lut", "nowhere/look.cube"], "look.cube: no folder"),  # refused before the image is written
])
def test_bad_flags_are_one_line_status_2(tmp_path: Path, capsys: pytest.CaptureFixture, flags: list[str],
                                         says: str) -> None:
    Image.fromarray(_hsv_image(0.6)).save(tmp_path / "s.png")
    Image.fromarray(_hsv_image(0.1)).save(tmp_path / "t.png")
    flags = [str(tmp_path / f) if f.endswith((".txt", ".cube")) else f for f in flags]
    try:
        code = main(["transfer", str(tmp_path / "s.png"), str(tmp_path / "t.png"), "-o", str(tmp_path / "o.png"),
                     "--method", "reinhard", *flags])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and says in err[-1] and not (tmp_path / "o.png").exists()


def test_a_lut_that_fails_to_write_leaves_no_image(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(_hsv_image(0.6)).save(tmp_path / "s.png")
    Image.fromarray(_hsv_image(0.1)).save(tmp_path / "t.png")

    def full_disk(lut: torch.Tensor, path: Path, title: str) -> None:
        path.write_text("LUT_3D_SIZE 33\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(command, "write_cube", full_disk)
    assert main(["transfer", str(tmp_path / "s.png"), str(tmp_path / "t.png"), "-o", str(tmp_path / "o.png"),
                 "--method", "reinhard", "--lut", str(tmp_path / "look.cube")]) == 2
    assert capsys.readouterr().err == f"huenet: error: cannot write {tmp_path / 'look.cube'}: No space left on device\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png", "t.png"]  # no image, no LUT, no temporary file


def test_a_painter_paints_many_sources_with_one_target() -> None:
    paint = painter(_hsv_image(0.1), method="histmatch", strength=0.5)
    assert paint(_hsv_image(0.6)).size == (32, 24) and paint(_hsv_image(0.3, 16, 20)).size == (20, 16)
