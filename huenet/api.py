"""Colour transfer with a trained Hue-Net or a baseline, on photos of any size.

    import huenet
    out = huenet.transfer("flower.jpg", "sunset.jpg")                   # Hue-Net, models/full/generator.pt
    out = huenet.transfer("flower.jpg", "sunset.jpg", method="reinhard")
    out = huenet.transfer("flower.jpg", color="#d04a8c", method="feature-matching")  # a colour, no target image
    out.save("out.png")

Colour methods (``uses_color=True``: ``feature-matching``, ``color-gan``, the
two systems of Soiffer & Zhang 2018) recolour the source towards one mean RGB
colour rather than a hue distribution: the target image's mean colour, or a
colour given directly (``color='#aabbcc'``, ``--color``) instead of a target.

``huenet.transfer`` is this module's :func:`transfer`, imported on first use
(``huenet/__init__.py``); the module's other names are imported from it, e.g.
``from huenet.api import register_method``.

Methods live in a registry. A method is a function ``(source_rgb, target_rgb,
**options) -> rgb`` on ``(1, 3, H, W)`` and ``(1, 3, h, w)`` float tensors in
[0, 1] returning ``(1, 3, H, W)``; it runs under ``torch.inference_mode``. A
colour method gets ``color=``, a ``(1, 3)`` RGB tensor, and ``target`` may be
``None``. A method that needs a model file is registered with
``needs_model=True`` and gets ``model=`` the file's path, or what its
``load_model(path)`` returns (loaded once per file and cached). The package's methods are registered at the end of
this module (a baselines module that imported this one would close an import
cycle); code outside the package calls :func:`register_method` from
``huenet.api``.

Images
    Read with EXIF orientation applied (a portrait phone photo stays portrait).
    Transparency (RGBA, LA, palette or colour-key transparency) is composited
    over white, i.e. what a viewer sees on a page: the colours hidden under
    transparent pixels are arbitrary (often black) and would otherwise pollute
    the target's colour statistics. 16-bit greyscale (``I;16``, ``I``) is read at
    full precision, scaled by 1/65535 (Pillow's own conversion to RGB would clip
    it at 255); Pillow reads 16-bit colour PNGs at 8 bits per channel. Greyscale,
    palette and CMYK images are converted to RGB. The output is 8-bit RGB at the
    source's size. A grey source stays grey with ``huenet`` and ``histmatch``:
    they keep the source's saturation, which is 0.

Any resolution
    The generator is fully convolutional, so a photo is processed at its own
    size: reflect-padded to a multiple of ``2 ** depth`` and cropped back; the
    target's hue is resized (nearest) to the source's size.

Size limits
    Sides of at least :data:`MIN_SIDE` pixels. Above the method's limit
    (:data:`DEFAULT_MAX_MEGAPIXELS`; feature matching, which keeps about 1.2 GiB
    and takes about 100 s per megapixel, :data:`FEATURE_MATCHING_MAX_MEGAPIXELS`)
    or the caller's ``max_megapixels``, an image is refused, not processed in
    tiles. Peak memory is linear in the pixel count (``benchmarks/bench_transfer.py``
    measures it: about 0.4 GiB per megapixel for the CPU-profile generator,
    width 32 and depth 6, and 0.45 GiB for the paper's width 64 and depth 8), so
    a limit is predictable. Tiles would change the result: an output pixel of a
    depth-``d`` U-Net depends on some ``3 * 2 ** (d + 1)`` pixels around it (~380
    at depth 6, ~1500 at depth 8) and the target's hue enters aligned with the
    source, so tiles would need overlaps that large and would still show seams
    where the bottleneck's view differs. The limit applies to the target too,
    checked from the file's header before it is decoded.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from huenet.baselines import color_gan, feature_matching, hue_histogram_matching, reinhard
from huenet.baselines.color_gan import load_color_gan
from huenet.color import mean_color, parse_color
from huenet.models import UNetGenerator, inference_generator, load_generator, paint

__all__ = ["transfer", "register_method", "get_method", "methods", "preload", "read_rgb", "read_color",
           "check_color_arguments", "to_image", "inference_generator", "Method", "TransferError", "DEFAULT_MODEL",
           "DEFAULT_COLOR_GAN", "DEFAULT_MAX_MEGAPIXELS", "FEATURE_MATCHING_MAX_MEGAPIXELS", "MIN_SIDE",
           "megapixel_limit"]

DEFAULT_MODEL = Path("models/full/generator.pt")
"""The pipeline's trained generator, relative to the current directory."""
DEFAULT_COLOR_GAN = Path("models/color_gan/generator.pt")
"""The pipeline's trained colour-GAN generator (stage ``color_gan``), relative to the current directory."""
MIN_SIDE = 16
"""Smallest accepted side in pixels: fewer pixels carry no colour distribution worth transferring."""
DEFAULT_MAX_MEGAPIXELS = 16.0
"""Room for a 12-megapixel phone photo; about 6 GiB peak with the CPU-profile generator, 7 GiB at paper scale."""
FEATURE_MATCHING_MAX_MEGAPIXELS = 4.0
"""About 5 GiB and 7 minutes on 2 cores.

``benchmarks/bench_feature_matching.py`` measures ~1.2 GiB and ~100 s per megapixel."""

ImageInput = str | os.PathLike | Image.Image | np.ndarray | Tensor
ColorInput = str | Sequence[float] | Tensor
MegapixelLimit = float | None | Literal["auto"]
TransferFn = Callable[..., Tensor]
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


class TransferError(ValueError):
    """Bad input for a transfer: the message is one line, fit to show a user as is."""


@dataclass(frozen=True)
class Method:
    """A registered transfer method (see the module docstring)."""

    name: str
    fn: TransferFn
    needs_model: bool = False
    default_model: Path | None = None
    load_model: Callable[[Path], Any] | None = None
    description: str = ""
    uses_color: bool = False
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS


_METHODS: dict[str, Method] = {}


def register_method(name: str, fn: TransferFn, *, needs_model: bool = False,
                    default_model: str | os.PathLike | None = None,
                    load_model: Callable[[Path], Any] | None = None, description: str = "",
                    uses_color: bool = False, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> None:
    """Make ``fn`` available as ``transfer(..., method=name)`` and ``huenet transfer --method name``.

    Args:
        fn: ``(source_rgb, target_rgb, **options) -> rgb``, see the module docstring.
        needs_model: ``fn`` takes ``model=``; callers must give a model file
            unless ``default_model`` is set.
        default_model: the model file used when the caller gives none.
        load_model: turns the model path into what ``fn`` gets as ``model=``;
            it raises ``ValueError`` (shown to the user) for a missing or bad
            file. Without it ``fn`` gets the path.
        description: one line for ``huenet transfer --help``.
        uses_color: ``fn`` takes ``color=`` (a ``(1, 3)`` RGB tensor): the target's
            mean colour, or the caller's ``color``.
        max_megapixels: the largest image the method takes unless the caller says otherwise.
    """
    if name in _METHODS:
        raise ValueError(f"transfer method {name!r} is already registered")
    if not needs_model and (default_model is not None or load_model is not None):
        raise ValueError(f"method {name!r}: default_model and load_model need needs_model=True")
    _METHODS[name] = Method(name, fn, needs_model, Path(default_model) if default_model is not None else None,
                            load_model, description, uses_color, max_megapixels)


def methods() -> dict[str, Method]:
    """The registered methods by name, in registration order."""
    return dict(_METHODS)


def megapixel_limit(method: Method, max_megapixels: MegapixelLimit = "auto") -> float | None:
    """The size limit in effect: ``method``'s own for ``"auto"``, else ``max_megapixels`` (``None``: no limit)."""
    return method.max_megapixels if max_megapixels == "auto" else max_megapixels


def get_method(name: str) -> Method:
    try:
        return _METHODS[name]
    except KeyError:
        raise TransferError(f"unknown method {name!r} (choose from {', '.join(_METHODS)})") from None


# ---------------------------------------------------------------- reading images


def _check_size(width: int, height: int, name: str, max_megapixels: float | None) -> None:
    if min(width, height) < MIN_SIDE:
        raise TransferError(f"{name} is {width} x {height} pixels, too small: each side must be at least {MIN_SIDE}")
    megapixels = width * height / 1e6
    if max_megapixels is not None and megapixels > max_megapixels:
        raise TransferError(f"{name} is {width} x {height} = {megapixels:.3g} megapixels, above the limit of "
                            f"{max_megapixels:g} (max_megapixels / --max-megapixels)")


def _open(path: Path, max_megapixels: float | None) -> Image.Image:
    """Decode an image file, checking its size from the header first (before the pixels use memory)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            image = Image.open(path)
    except FileNotFoundError:
        raise TransferError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TransferError(f"{path} is a folder, not an image file") from None
    except UnidentifiedImageError:
        raise TransferError(f"{path} is not an image file (or not a format Pillow reads)") from None
    except Image.DecompressionBombError:
        raise TransferError(f"{path} is too large for Pillow to decode safely") from None
    except OSError as err:
        raise TransferError(f"cannot read {path}: {err.strerror or err}") from None
    with image:  # exif_transpose returns a copy, so the file can be closed
        _check_size(*image.size, str(path), max_megapixels)
        return _decoded(image, str(path))


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _decoded(image: Image.Image, label: str) -> Image.Image:
    """``image``'s pixels, loaded, with its EXIF orientation applied."""
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except Exception as err:  # Pillow's decoders raise OSError, ValueError, EOFError, SyntaxError, ...
        raise TransferError(f"cannot decode {label}: {_first_line(err)}") from None


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """``(H, W, 3)`` float32 RGB in [0, 1] (see the module docstring for modes)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / 65535.0
        return np.repeat(grey.clip(0.0, 1.0)[..., None], 3, axis=2)
    if image.mode == "F":
        return np.repeat(np.asarray(image, dtype=np.float32).clip(0.0, 1.0)[..., None], 3, axis=2)
    try:
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        rgb = image.convert("RGB")
    except ValueError as err:  # a mode Pillow cannot convert, e.g. LAB
        raise TransferError(f"cannot convert a {image.mode} image to RGB: {err}") from None
    return np.asarray(rgb, dtype=np.float32) / 255.0


def _array_to_tensor(array: np.ndarray, name: str) -> Tensor:
    """An ``H x W x 3`` array as a ``(1, 3, H, W)`` float32 tensor."""
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        if not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
            raise TransferError(f"{name} array of floats must lie in [0, 1]")
    else:
        raise TransferError(f"{name} array must be uint8 or float in [0, 1], got {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).contiguous()


def read_rgb(image: ImageInput, *, name: str = "image",
             max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> Tensor:
    """An image as a ``(1, 3, H, W)`` float32 RGB tensor in [0, 1].

    Args:
        image: a path, a PIL image, an ``H x W x 3`` array (uint8, or float in
            [0, 1]) or a ``(1, 3, H, W)`` float tensor in [0, 1] (returned as is).
        name: how error messages call the image when it is not a path.
        max_megapixels: refuse larger images; ``None`` for no limit.

    Raises:
        TransferError: unreadable, too small, too large or malformed input.
    """
    if isinstance(image, (str, os.PathLike)):
        return _array_to_tensor(_pil_to_array(_open(Path(image), max_megapixels)), str(image))
    if isinstance(image, Image.Image):
        _check_size(*image.size, name, max_megapixels)
        return _array_to_tensor(_pil_to_array(_decoded(image, name)), name)
    if isinstance(image, Tensor):
        if image.ndim != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
            raise TransferError(f"{name} tensor must be (1, 3, H, W) float, got {tuple(image.shape)} {image.dtype}")
        _check_size(image.shape[-1], image.shape[-2], name, max_megapixels)
        if not (image.isfinite().all() and image.min() >= 0.0 and image.max() <= 1.0):
            raise TransferError(f"{name} tensor must lie in [0, 1]")
        return image
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise TransferError(f"{name} array must be H x W x 3 RGB, got shape {image.shape}")
        _check_size(image.shape[1], image.shape[0], name, max_megapixels)
        return _array_to_tensor(image, name)
    raise TransferError(f"{name} must be a path, a PIL image or an array, got {type(image).__name__}")


def to_image(rgb: Tensor) -> Image.Image:
    """A ``(1, 3, H, W)`` RGB tensor in [0, 1] as an 8-bit PIL image."""
    pixels = (rgb[0].clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(1, 2, 0)
    return Image.fromarray(pixels.numpy())


# ---------------------------------------------------------------- models


@functools.lru_cache(maxsize=4)
def _load_cached(load_model: Callable[[Path], Any], path: Path, mtime_ns: int, size: int) -> Any:
    # mtime and size are part of the key so that a retrained model is picked up
    return load_model(path)


def _model_option(method: Method, model: str | os.PathLike | None) -> dict[str, Any]:
    """The ``model=`` option for ``method`` (empty for methods without a model)."""
    if not method.needs_model:
        if model is not None:
            raise TransferError(f"method {method.name!r} uses no model file")
        return {}
    path = Path(model) if model is not None else method.default_model
    if path is None:
        raise TransferError(f"method {method.name!r} needs a model file")
    if method.load_model is None:
        return {"model": path}
    try:
        stat = path.resolve().stat()
    except OSError:
        raise TransferError(f"model file not found: {path}") from None
    try:
        return {"model": _load_cached(method.load_model, path.resolve(), stat.st_mtime_ns, stat.st_size)}
    except ValueError as err:  # load_model's contract for a missing or bad file
        raise TransferError(_first_line(err)) from None


def preload(method: str, model: str | os.PathLike | None = None) -> None:
    """Load (and cache) ``method``'s model now, so that a bad model file fails before any image is read."""
    _model_option(get_method(method), model)


def _load_huenet(path: Path) -> UNetGenerator:
    return inference_generator(load_generator(path))


def read_color(color: ColorInput) -> Tensor:
    """A colour as a ``(1, 3)`` float32 RGB tensor in [0, 1].

    Args:
        color: ``'#aabbcc'`` (or ``'aabbcc'``), or three numbers in [0, 1] (a sequence or a tensor).

    Raises:
        TransferError: anything else.
    """
    if isinstance(color, str):
        try:
            return parse_color(color).reshape(1, 3)
        except ValueError as err:
            raise TransferError(str(err)) from None
    try:
        rgb = torch.as_tensor(color, dtype=torch.float32).reshape(1, 3)
    except (TypeError, ValueError, RuntimeError):
        raise TransferError(f"colour must be '#aabbcc' or three numbers in [0, 1], got {color!r}") from None
    if not bool(((rgb >= 0) & (rgb <= 1)).all()):  # also refuses nan
        raise TransferError(f"colour must be '#aabbcc' or three numbers in [0, 1], got {color!r}")
    return rgb


def _huenet(source: Tensor, target: Tensor, *, model: UNetGenerator) -> Tensor:
    return paint(model, source, target)


register_method("huenet", _huenet, needs_model=True, default_model=DEFAULT_MODEL, load_model=_load_huenet,
                description="the trained Hue-Net generator paints a new hue; saturation and value stay the source's")
register_method("reinhard", lambda source, target: reinhard(source, target),
                description="Reinhard et al. 2001: mean and std of each l-alpha-beta channel become the target's")
register_method("histmatch", lambda source, target: hue_histogram_matching(source, target),
                description="cyclic hue histogram matching; saturation and value stay the source's")
register_method("feature-matching", lambda source, target, *, color: feature_matching(source, color), uses_color=True,
                max_megapixels=FEATURE_MATCHING_MAX_MEGAPIXELS,
                description="Soiffer & Zhang 2018, 3.1: gradient descent on the pixels towards a mean colour while "
                            "keeping EfficientNet-Lite0 features (about 6 s per 256 x 256 image on 2 CPU cores)")
register_method("color-gan", lambda source, target, *, color, model: color_gan(source, color, model=model),
                needs_model=True, default_model=DEFAULT_COLOR_GAN, load_model=load_color_gan, uses_color=True,
                description="Soiffer & Zhang 2018, 3.2: a colour-conditioned WGAN-GP generator recolours towards a "
                            "mean colour")


# ---------------------------------------------------------------- the API


def check_color_arguments(method: Method, has_target: bool, color: ColorInput | None) -> Tensor | None:
    """Check that ``method`` gets what it takes; return ``color`` as a ``(1, 3)`` tensor (``None`` if not given).

    A colour method takes a target image or a colour (one of them); the others take a target image and no colour.

    Raises:
        TransferError: the wrong combination, or a malformed colour.
    """
    if not method.uses_color:
        if color is not None:
            raise TransferError(f"method {method.name!r} takes its colours from a target image, not a colour; "
                                f"colour methods: {', '.join(n for n, m in _METHODS.items() if m.uses_color)}")
        if not has_target:
            raise TransferError(f"method {method.name!r} needs a target image")
        return None
    if has_target == (color is not None):
        raise TransferError(f"method {method.name!r} needs a target image or a colour (one of them, not both)")
    return None if color is None else read_color(color)


def transfer(source: ImageInput, target: ImageInput | None = None, *, method: str = "huenet",
             model: str | os.PathLike | None = None, color: ColorInput | None = None,
             max_megapixels: MegapixelLimit = "auto") -> Image.Image:
    """Paint ``source`` with ``target``'s colours.

    Args:
        source: the image to recolour: a path, a PIL image, an ``H x W x 3``
            array (uint8, or float in [0, 1]) or a ``(1, 3, H, W)`` tensor.
        target: the image whose colours are taken, same kinds; any size. A
            colour method may get ``color`` instead.
        method: a registered method: ``huenet``, ``reinhard``, ``histmatch``,
            ``feature-matching``, ``color-gan``, ...
        model: the model file of a method that needs one (``huenet``: a
            ``generator.pt``, default :data:`DEFAULT_MODEL`; ``color-gan``:
            default :data:`DEFAULT_COLOR_GAN`; relative to the current directory).
        color: colour methods only, instead of ``target``: ``'#aabbcc'`` or three
            numbers in [0, 1], the mean colour to reach.
        max_megapixels: refuse larger images (see the module docstring); ``"auto"``:
            the method's limit; ``None``: no limit.

    Returns:
        An 8-bit RGB image at the source's size (after EXIF orientation).

    Raises:
        TransferError: bad input (one line, fit to show a user).
    """
    spec = get_method(method)
    max_megapixels = megapixel_limit(spec, max_megapixels)
    color_rgb = check_color_arguments(spec, target is not None, color)
    options = _model_option(spec, model)
    source_rgb = read_rgb(source, name="source", max_megapixels=max_megapixels)
    target_rgb = None if target is None else read_rgb(target, name="target", max_megapixels=max_megapixels)
    if spec.uses_color:
        options["color"] = mean_color(target_rgb) if color_rgb is None else color_rgb
    with torch.inference_mode():
        return to_image(spec.fn(source_rgb, target_rgb, **options))
