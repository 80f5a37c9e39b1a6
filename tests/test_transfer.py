"""The Python API ``huenet.transfer``: inputs, any resolution, unusual images, bad input, the method registry."""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import huenet
from huenet.baselines.color_gan import ColorGANConfig, ColorGenerator, save_color_gan
from huenet.cli import main
from huenet.core.color import mean_color, rgb_to_hsv
from huenet.data.photos import sample_photo
from huenet.nets.hue_net import UNetGenerator, generator_input, load_generator, painted_rgb, reflect_pad, save_generator
from huenet.paint.api import (
    DEFAULT_MAX_MEGAPIXELS,
    MIN_SIDE,
    NATIVE_MAX_MEGAPIXELS,
    TransferError,
    get_method,
    megapixel_limit,
    read_pixels,
    read_rgb,
    register_method,
    to_image,
)
from huenet.paint.translations import translation_mean

transfer_module = importlib.import_module("huenet.paint.api")
registry_module = importlib.import_module("huenet.paint.methods")


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def truncated_jpeg(path: Path) -> Path:
    """A JPEG whose header is intact and whose pixel data stops early (fails on decode, not on open)."""
    buf = io.BytesIO()
    Image.fromarray(noise(40, 56)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 6 // 10])
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "g.pt"
    save_generator(UNetGenerator(width=4, depth=3), path)
    return path


def test_package_attribute_is_the_function_and_the_module_still_imports() -> None:
    assert callable(huenet.transfer) and huenet.transfer is transfer_module.transfer
    assert transfer_module.register_method is register_method
    assert huenet.__version__


@pytest.mark.slow
@pytest.mark.parametrize("first", ["import huenet", "import huenet.paint.api",
                                   "from huenet.paint.api import register_method", "import huenet.data.pairs"])
def test_huenet_transfer_is_the_function_whatever_was_imported_first(first: str) -> None:
    """In a fresh interpreter (this one has imported everything already): the package attribute is looked up
    lazily, and no submodule import may rebind it, before or after its first use."""
    code = f"""{first}
import huenet, huenet.paint.api
before = huenet.transfer
import huenet.cli, huenet.eval.evaluate
assert callable(before) and huenet.transfer is before is huenet.paint.api.transfer, huenet.transfer
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


@pytest.mark.slow
def test_importing_the_data_layer_imports_no_baselines() -> None:
    """What a stage that imports ``huenet.data.artifacts`` runs, and so what its deps in dvc.yaml must list."""
    code = """import sys, huenet.data.artifacts, huenet.data.pairs
assert not [m for m in sys.modules if m.startswith(("huenet.baselines", "huenet.paint.api"))], sorted(sys.modules)
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


@pytest.fixture(scope="module")
def color_gan_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A colour-GAN generator whose 1 x 1 output layer adds a constant red push (not the identity)."""
    generator = ColorGenerator(noise_dim=3, width=4, layers=1)
    with torch.no_grad():
        generator.to_rgb.bias.copy_(torch.tensor([2.0, 0.0, 0.0]))
    path = tmp_path_factory.mktemp("color_gan") / "generator.pt"
    save_color_gan(generator, ColorGANConfig(noise_dim=3, gen_width=4, gen_layers=1), path, step=0)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("method", ["huenet", "reinhard", "histmatch", "feature-matching", "color-gan"])
def test_every_method_keeps_the_source_size(method: str, model_path: Path, color_gan_path: Path) -> None:
    # 37 x 53 is no multiple of the generator's 2**3: padded, then cropped back
    model = {"huenet": model_path, "color-gan": color_gan_path}.get(method)
    out = huenet.transfer(noise(37, 53), noise(20, 30, 1), method=method, model=model)
    assert out.mode == "RGB" and out.size == (53, 37)


@pytest.mark.slow
def test_feature_matching_reaches_the_given_colour_or_the_targets_mean() -> None:
    source = noise(24, 32)
    out = np.asarray(huenet.transfer(source, color="#d04a8c", method="feature-matching")) / 255.0
    np.testing.assert_allclose(out.mean((0, 1)), [0xD0 / 255, 0x4A / 255, 0x8C / 255], atol=0.02)
    target = np.zeros((20, 20, 3), np.uint8) + np.array([30, 160, 90], np.uint8)
    by_target = np.asarray(huenet.transfer(source, target, method="feature-matching"))
    # The target's mean, computed once by the function the target path uses: the same bits as that path's colour.
    # A colour typed in differs from it in the last bits, which 150 Adam steps on the pixels carry into levels
    # that differ from CPU to CPU, so only outputs from the same colour are compared pixel by pixel.
    color = mean_color(read_rgb(target))
    by_color = np.asarray(huenet.transfer(source, color=color, method="feature-matching"))
    np.testing.assert_array_equal(by_target, by_color)  # same input bits, same process: the same output
    # How near the mean gets is a property of convergence, not of the last bits: huenet.baselines.feature_matching
    # measured RGB distances of 0.007 to 0.034 left after the 150 steps; here 0.027 (red stops 6 levels above 30,
    # where the noise's dark pixels meet 0). The source starts over 10 times the tolerance away.
    def distance(image: np.ndarray) -> float:
        return float(np.linalg.norm(image.mean((0, 1)) / 255 - color[0].numpy()))

    assert distance(source) > 0.4 and distance(by_target) < 0.04, (distance(source), distance(by_target))


def test_color_gan_is_its_generator_at_the_given_colour(color_gan_path: Path) -> None:
    from huenet.baselines.color_gan import color_gan

    source = noise(21, 30)
    out = huenet.transfer(source, color="#204060", method="color-gan", model=color_gan_path)
    x = torch.from_numpy(source).permute(2, 0, 1)[None].float() / 255
    expected = to_image(color_gan(x, torch.tensor([0x20, 0x40, 0x60]) / 255.0, model=color_gan_path))
    assert np.abs(np.asarray(out, dtype=int) - np.asarray(expected, dtype=int)).max() <= 1  # rounding at .5
    assert np.asarray(out)[..., 0].mean() > source[..., 0].mean() + 20  # the red push of the fixture's generator


def test_input_kinds_give_the_same_output(tmp_path: Path, model_path: Path) -> None:
    source, target = noise(24, 40), noise(30, 30, 1)
    Image.fromarray(source).save(tmp_path / "s.png")
    kinds = [tmp_path / "s.png", str(tmp_path / "s.png"), Image.fromarray(source), source, source / 255.0,
             torch.from_numpy(source).permute(2, 0, 1)[None].float() / 255]
    outs = [np.asarray(huenet.transfer(kind, target, model=model_path)) for kind in kinds]
    for out in outs[1:]:  # a float input may round a level apart from its uint8 twin
        assert np.abs(out.astype(int) - outs[0].astype(int)).max() <= 1


def test_huenet_is_the_generator_painting_the_source(model_path: Path) -> None:
    """The generator run by hand on each of the 16 translations of the input, averaged (huenet.paint.translations)."""
    source, target = noise(40, 56), noise(24, 24, 1)
    out = np.asarray(huenet.transfer(source, target, model=model_path), dtype=int)
    generator = load_generator(model_path)

    def by_hand(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        hsv = rgb_to_hsv(s)
        return painted_rgb(generator(generator_input(hsv, rgb_to_hsv(t))), hsv)

    source_rgb, target_rgb = (torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255 for a in (source, target))
    with torch.no_grad():
        expected = to_image(translation_mean(by_hand, source_rgb, target_rgb, hue_only=True,
                                             spatial_target=True).clamp(0, 1))
    # channels-last convolutions round differently: one 8-bit level at most
    assert np.abs(out - np.asarray(expected, dtype=int)).max() <= 1


def test_reflect_padding_larger_than_the_image_matches_numpy() -> None:
    x = torch.arange(16 * 20, dtype=torch.float32).view(1, 1, 16, 20)
    padded, (rows, cols) = reflect_pad(x, 64)  # 48 and 44 pixels to add to sides of 16 and 20: several rounds
    assert padded.shape[-2:] == (64, 64)
    torch.testing.assert_close(padded[..., rows, cols], x)
    np.testing.assert_array_equal(padded[0, 0].numpy(), np.pad(x[0, 0].numpy(), ((24, 24), (22, 22)), mode="reflect"))


def test_smallest_image_runs_through_a_deep_generator(tmp_path: Path) -> None:
    save_generator(UNetGenerator(width=2, depth=6), tmp_path / "deep.pt")
    assert huenet.transfer(noise(MIN_SIDE, MIN_SIDE + 3), noise(20, 20), model=tmp_path / "deep.pt").size == (19, 16)


def test_exif_orientation_is_applied(tmp_path: Path, model_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(noise(40, 56)).save(tmp_path / "rotated.jpg", exif=exif)
    assert huenet.transfer(tmp_path / "rotated.jpg", noise(20, 20), model=model_path).size == (40, 56)


def _save_mode(path: Path, mode: str) -> None:
    if mode == "I;16":
        Image.fromarray(np.full((20, 24), 32768, dtype=np.uint16)).save(path)
    elif mode == "RGBA":
        rgba = np.zeros((20, 24, 4), dtype=np.uint8)
        rgba[:, :12] = (255, 0, 0, 255)  # opaque red on the left, transparent black on the right
        Image.fromarray(rgba).save(path)
    else:
        Image.fromarray(noise(20, 24)).convert(mode).save(path)


@pytest.mark.parametrize(("mode", "name"), [("L", "grey.png"), ("RGBA", "alpha.png"), ("P", "palette.png"),
                                            ("I;16", "deep.png"), ("CMYK", "cmyk.jpg")])
def test_unusual_images_are_read_as_rgb(tmp_path: Path, mode: str, name: str) -> None:
    _save_mode(tmp_path / name, mode)
    with Image.open(tmp_path / name) as saved:
        assert saved.mode == mode
    rgb = read_rgb(tmp_path / name)
    assert rgb.shape == (1, 3, 20, 24) and rgb.dtype == torch.float32 and 0 <= rgb.min() and rgb.max() <= 1
    if mode == "I;16":  # full precision, not Pillow's clipping conversion (which gives 1.0)
        torch.testing.assert_close(rgb, torch.full_like(rgb, 32768 / 65535))
    if mode == "RGBA":  # composited over white
        torch.testing.assert_close(rgb[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
        torch.testing.assert_close(rgb[0, :, 0, -1], torch.ones(3))
    if mode == "L":
        assert torch.equal(rgb[:, 0], rgb[:, 1]) and torch.equal(rgb[:, 1], rgb[:, 2])


@pytest.mark.parametrize(("mode", "name"), [("L", "grey.png"), ("RGBA", "alpha.png"), ("P", "palette.png"),
                                            ("I;16", "deep.png"), ("CMYK", "cmyk.jpg")])
def test_8_bit_images_stay_8_bit_and_read_as_read_rgb_does(tmp_path: Path, mode: str, name: str) -> None:
    _save_mode(tmp_path / name, mode)
    pixels = read_pixels(tmp_path / name)
    assert pixels.dtype == (torch.float32 if mode == "I;16" else torch.uint8)
    scale = 1.0 if mode == "I;16" else 255.0
    torch.testing.assert_close(pixels.float() / scale, read_rgb(tmp_path / name), rtol=0, atol=1e-7)
    assert to_image(pixels).tobytes() == to_image(read_rgb(tmp_path / name)).tobytes()


def test_an_rgb_photo_is_read_as_the_general_route_reads_it(tmp_path: Path) -> None:
    """read_pixels takes a short cut for an RGB image with no EXIF rotation and no transparency (one copy of the
    decoded pixels): the same pixels as read_rgb for such a photo, a rotated one and an RGB PNG with a colour key."""
    pixels = noise(20, 24, 3)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(tmp_path / "plain.jpg")
    Image.fromarray(pixels).save(tmp_path / "rotated.jpg", exif=exif)
    Image.fromarray(pixels).save(tmp_path / "keyed.png", transparency=tuple(int(v) for v in pixels[0, 0]))
    for name in ("plain.jpg", "rotated.jpg", "keyed.png"):
        eight = read_pixels(tmp_path / name)
        assert eight.dtype == torch.uint8
        torch.testing.assert_close(eight.float() / 255, read_rgb(tmp_path / name), rtol=0, atol=1e-7)
    assert read_pixels(tmp_path / "rotated.jpg").shape[-2:] == (24, 20)
    assert read_pixels(tmp_path / "keyed.png")[0, :, 0, 0].tolist() == [255, 255, 255]  # the key is transparent


@pytest.mark.slow
def test_a_photo_painted_in_8_bits_is_the_float_painting_but_for_rounding(model_path: Path) -> None:
    """An 8-bit photo stays 8-bit (huenet.paint.images.read_pixels); the only difference from painting its float copy is
    the working-size source, rounded to 8-bit levels by the 8-bit resize: a level or less almost everywhere
    (measured with the shipped weights: mean 0.06 levels, 99.9% of values within 3, at most 15)."""
    source = (sample_photo("rocket", 300)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    target = noise(60, 60, 2)
    eight = np.asarray(huenet.transfer(source, target, model=model_path), dtype=np.int16)
    floating = np.asarray(huenet.transfer(source.astype(np.float32) / 255, target, model=model_path), dtype=np.int16)
    levels = np.abs(eight - floating)
    assert levels.mean() <= 0.2 and np.quantile(levels, 0.99) <= 1


def test_a_network_at_the_photos_own_size_has_the_lower_limit(tmp_path: Path, model_path: Path) -> None:
    huenet_method = get_method("huenet")
    assert megapixel_limit(huenet_method) == DEFAULT_MAX_MEGAPIXELS >= 24  # a 24-megapixel camera photo
    assert megapixel_limit(huenet_method, native=True) == NATIVE_MAX_MEGAPIXELS < DEFAULT_MAX_MEGAPIXELS
    assert megapixel_limit(get_method("reinhard"), native=True) == DEFAULT_MAX_MEGAPIXELS
    big = tmp_path / "big.png"
    Image.new("RGB", (4200, 4100), (90, 120, 200)).save(big)  # 17.2 MP, refused from the header
    with pytest.raises(TransferError, match=f"above the limit of {NATIVE_MAX_MEGAPIXELS:g}"):
        huenet.transfer(big, noise(40, 40), model=model_path, work_size=None)


@pytest.mark.slow
def test_default_model_is_relative_to_the_current_directory(tmp_path: Path, model_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shipped = huenet.transfer(noise(20, 20), noise(20, 20))  # no models/ here: the shipped weights
    (tmp_path / "models/huenet/full").mkdir(parents=True)
    shutil.copy(model_path, tmp_path / "models/huenet/full/generator.pt")
    here = huenet.transfer(noise(20, 20), noise(20, 20))
    own = huenet.transfer(noise(20, 20), noise(20, 20), model=model_path)
    assert np.array_equal(np.asarray(here), np.asarray(own)) and not np.array_equal(np.asarray(here),
                                                                                    np.asarray(shipped))


def _bad_input(tmp_path: Path, case: str, model_path: Path) -> tuple[dict, str]:
    """Keyword arguments of ``huenet.transfer`` for one bad-input case, and the expected message."""
    good = {"source": noise(20, 20), "target": noise(20, 20), "method": "reinhard"}
    if case == "missing file":
        return {**good, "source": tmp_path / "nope.png"}, "no such file"
    if case == "not an image":
        (tmp_path / "text.png").write_text("hello")
        return {**good, "target": tmp_path / "text.png"}, "not an image file"
    if case == "truncated jpeg":
        return {**good, "source": truncated_jpeg(tmp_path / "t.jpg")}, "cannot decode .*truncated"
    if case == "1 x 1":
        Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
        return ({**good, "source": tmp_path / "dot.png"},
                f"1 x 1 pixels, too small: each side must be at least {MIN_SIDE}")
    if case == "too many megapixels":
        return {**good, "max_megapixels": 0.0001}, "20 x 20 = 0.0004 megapixels, above the limit of 0.0001"
    if case == "array shape":
        return {**good, "source": noise(20, 20)[..., :2]}, "H x W x 3"
    if case == "array range":
        return {**good, "source": noise(20, 20) * 1.0}, r"array must lie in \[0, 1\], got values in \[0, 255\]"
    if case == "unknown method":
        return {**good, "method": "magic"}, "unknown method 'magic' .*huenet, reinhard, histmatch"
    if case == "model for a method without one":
        return {**good, "model": model_path}, "uses no model"
    if case == "missing model":
        return {**good, "method": "huenet", "model": tmp_path / "none.pt"}, "model file not found"
    if case == "incompatible model":
        torch.save({"format": "something else"}, tmp_path / "other.pt")
        return {**good, "method": "huenet", "model": tmp_path / "other.pt"}, "not a huenet generator"
    if case == "colour for a hue method":
        return {**good, "color": "#aabbcc"}, "takes its colours from a target image.*feature-matching, color-gan"
    if case == "colour and target":
        return {**good, "method": "feature-matching", "color": "#aabbcc"}, "a target image or a colour"
    if case == "neither colour nor target":
        return {**good, "method": "color-gan", "target": None}, "a target image or a colour"
    if case == "bad colour":
        return {**good, "method": "feature-matching", "target": None, "color": "#abc"}, "6 hex digits"
    if case == "colour out of range":
        return {**good, "method": "feature-matching", "target": None, "color": (0.5, 1.5, 0)}, "numbers in \\[0, 1\\]"
    if case == "too large for feature matching":
        big = np.zeros((2000, 2100, 3), np.uint8)  # 4.2 MP: within the default limit, above feature matching's
        return ({**good, "source": big, "method": "feature-matching"},
                "2100 x 2000 = 4.2 megapixels, above the limit of 4 ")
    if case == "not a colour-GAN model":
        return {**good, "method": "color-gan", "model": model_path}, "not a huenet colour-GAN"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing file", "not an image", "truncated jpeg", "1 x 1", "too many megapixels",
                                  "array shape", "array range", "unknown method", "model for a method without one",
                                  "missing model", "incompatible model", "colour for a hue method", "colour and target",
                                  "neither colour nor target", "bad colour", "colour out of range",
                                  "not a colour-GAN model", "too large for feature matching"])
def test_bad_input_raises_a_one_line_transfer_error(tmp_path: Path, model_path: Path, case: str) -> None:
    kwargs, message = _bad_input(tmp_path, case, model_path)
    with pytest.raises(TransferError, match=message) as info:
        huenet.transfer(kwargs.pop("source"), kwargs.pop("target"), **kwargs)
    assert "\n" not in str(info.value)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Methods registered by a test are gone after it."""
    monkeypatch.setattr(registry_module, "_METHODS", dict(registry_module._METHODS))


@pytest.mark.usefixtures("registry")
def test_a_registered_method_gets_its_model_loaded_once(tmp_path: Path) -> None:
    (tmp_path / "gain.txt").write_text("0.5")
    loads = []

    def load(path: Path) -> float:
        loads.append(path)
        return float(path.read_text())

    register_method("darken", lambda source, target, *, model: source * model, needs_model=True, load_model=load,
                    description="scale the source")
    assert "darken" in transfer_module.methods() and transfer_module.get_method("darken").label == "darken"
    for _ in range(2):
        out = huenet.transfer(np.full((20, 20, 3), 200, np.uint8), noise(20, 20), method="darken",
                              model=tmp_path / "gain.txt")
        assert np.asarray(out)[0, 0].tolist() == [100, 100, 100]
    assert len(loads) == 1
    with pytest.raises(ValueError, match="already registered"):
        register_method("darken", lambda source, target: source)


def test_the_folder_loop_paints_with_the_painter_of_transfer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``huenet transfer FOLDER`` goes through ``huenet.paint.api``: one painter for the folder, the one that
    ``huenet.transfer`` makes for each call, so a file of the folder comes out as ``huenet.transfer`` paints it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(noise(20, 24, i)).save(photos / f"{i}.png")
    Image.fromarray(noise(30, 30, 9)).save(tmp_path / "target.png")
    calls = []
    real_painter = transfer_module.painter

    def counting_painter(*args, **kwargs):
        calls.append(kwargs["method"])
        paint = real_painter(*args, **kwargs)

        def counted(source, **options):
            calls.append(Path(source).name)
            return paint(source, **options)

        return counted

    monkeypatch.setattr(transfer_module, "painter", counting_painter)
    assert main(["transfer", str(photos), str(tmp_path / "target.png"), "-o", str(tmp_path / "out"),
                 "--method", "reinhard"]) == 0
    assert calls == ["reinhard", "0.png", "1.png", "2.png"]
    for i in range(3):
        expected = huenet.transfer(photos / f"{i}.png", tmp_path / "target.png", method="reinhard")
        with Image.open(tmp_path / "out" / f"{i}.png") as written:
            np.testing.assert_array_equal(np.asarray(written), np.asarray(expected))
    assert calls[4:] == ["reinhard", "0.png"] + ["reinhard", "1.png"] + ["reinhard", "2.png"]
