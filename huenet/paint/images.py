"""Reading the transfer API's inputs: images of any kind as RGB tensors, colours, and the size limits.

Images
    Read with EXIF orientation applied (a portrait phone photo stays portrait).
    Transparency (RGBA, LA, palette or colour-key transparency) is composited
    over white, i.e. what a viewer sees on a page: the colours hidden under
    transparent pixels are arbitrary (often black) and would otherwise pollute
    the target's colour statistics. 16-bit greyscale (``I;16``, ``I``) is read at
    full precision, scaled by 1/65535 (Pillow's own conversion to RGB would clip
    it at 255); Pillow reads 16-bit colour PNGs at 8 bits per channel. Greyscale,
    palette and CMYK images are converted to RGB. :func:`to_image` writes the
    output as 8-bit RGB.

Size limits
    Sides of at least :data:`MIN_SIDE` pixels, and at most ``max_megapixels``
    (:data:`DEFAULT_MAX_MEGAPIXELS` unless the method or the caller says
    otherwise, see ``huenet.paint.api``), checked from a file's header before it is
    decoded.

Bad input raises :class:`TransferError`, one line fit to show a user; the
tensor and colour checks are those of ``huenet.core.checks``.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from huenet.core.checks import check_unit_images, target_colors
from huenet.core.color import parse_color

__all__ = ["TransferError", "read_rgb", "read_pixels", "read_color", "to_image", "image_files", "first_line",
           "ImageInput", "ColorInput", "MIN_SIDE", "DEFAULT_MAX_MEGAPIXELS"]

MIN_SIDE = 16
"""Smallest accepted side in pixels: fewer pixels carry no colour distribution worth transferring."""
DEFAULT_MAX_MEGAPIXELS = 32.0
"""Room for a 24-megapixel camera photo. Painted at a working size, a photo costs about a hundredth of a GiB per
megapixel (``reports/benchmarks/transfer.md``); histogram matching, the hungriest per-pixel method, under 0.2. A
network run at the photo's own size has its own, lower limit (``huenet.paint.api.NATIVE_MAX_MEGAPIXELS``)."""

ImageInput = str | os.PathLike | Image.Image | np.ndarray | Tensor
ColorInput = str | Sequence[float] | Tensor
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
T = TypeVar("T")


class TransferError(ValueError):
    """Bad input for a transfer: the message is one line, fit to show a user as is."""


def first_line(err: Exception) -> str:
    """The first line of ``err``'s message (its type's name if it has none)."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


@contextlib.contextmanager
def _as_transfer_error() -> Iterator[None]:
    """A check's ``ValueError`` (``huenet.core.checks``) as a :class:`TransferError`."""
    try:
        yield
    except ValueError as err:
        raise TransferError(first_line(err)) from None


def _check_size(width: int, height: int, name: str, max_megapixels: float | None) -> None:
    if min(width, height) < MIN_SIDE:
        raise TransferError(f"{name} is {width} x {height} pixels, too small: each side must be at least {MIN_SIDE}")
    megapixels = width * height / 1e6
    if max_megapixels is not None and megapixels > max_megapixels:
        raise TransferError(f"{name} is {width} x {height} = {megapixels:.3g} megapixels, above the limit of "
                            f"{max_megapixels:g} (max_megapixels / --max-megapixels)")


def _open(path: Path, max_megapixels: float | None, read: Callable[[Image.Image], T]) -> T:
    """``read`` of an image file's decoded image, the size checked from the header first (before the pixels use
    memory). ``read`` runs while the file is open: closing it frees the pixels, so ``read`` returns a copy."""
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
    with image:
        _check_size(*image.size, str(path), max_megapixels)
        return read(image)


@contextlib.contextmanager
def _decoding(label: str) -> Iterator[None]:
    """Pillow's decoding errors (OSError, ValueError, EOFError, SyntaxError, ...) as one-line TransferErrors."""
    try:
        yield
    except Exception as err:
        raise TransferError(f"cannot decode {label}: {first_line(err)}") from None


def _decoded(image: Image.Image, label: str) -> Image.Image:
    """``image``'s pixels, loaded, with its EXIF orientation applied (a copy)."""
    with _decoding(label):
        image.load()
        return ImageOps.exif_transpose(image)


def _upright_rgb8(image: Image.Image, label: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image in an 8-bit mode, as :func:`_pil_to_rgb8` of :func:`_decoded` has it,
    but for an RGB image with neither transparency nor an EXIF rotation (a camera's JPEG) in one copy of the decoded
    pixels, not three (a 12-megapixel photo's copies cost about as long as decoding it)."""
    with _decoding(label):
        image.load()
        plain = image.mode == "RGB" and not image.has_transparency_data and \
            image.getexif().get(ExifTags.Base.Orientation, 1) == 1
    return np.asarray(image) if plain else _pil_to_rgb8(_decoded(image, label))


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """``(H, W, 3)`` float32 RGB in [0, 1] (see the module docstring for modes)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / 65535.0
        return np.repeat(grey.clip(0.0, 1.0)[..., None], 3, axis=2)
    if image.mode == "F":
        return np.repeat(np.asarray(image, dtype=np.float32).clip(0.0, 1.0)[..., None], 3, axis=2)
    return _pil_to_rgb8(image).astype(np.float32) / 255.0


def _is_8_bit(image: Image.Image) -> bool:
    return image.mode not in _SIXTEEN_BIT_MODES and image.mode != "F"


def _pil_to_rgb8(image: Image.Image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image in an 8-bit mode (transparency composited over white)."""
    try:
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        rgb = image.convert("RGB")
    except ValueError as err:  # a mode Pillow cannot convert, e.g. LAB
        raise TransferError(f"cannot convert a {image.mode} image to RGB: {err}") from None
    return np.asarray(rgb)


def _rgb8_to_tensor(array: np.ndarray) -> Tensor:
    """An ``H x W x 3`` uint8 array as a ``(1, 3, H, W)`` uint8 view of it (channels-last memory, no copy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's arrays are read-only; the view is only read
        return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).unsqueeze(0)


def _array_to_tensor(array: np.ndarray, name: str) -> Tensor:
    """An ``H x W x 3`` array as a ``(1, 3, H, W)`` float32 tensor."""
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif not np.issubdtype(array.dtype, np.floating):
        raise TransferError(f"{name} array must be uint8 or float in [0, 1], got {array.dtype}")
    rgb = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).contiguous()
    with _as_transfer_error():
        return check_unit_images(rgb, f"{name} array")


def read_rgb(image: ImageInput, *, name: str = "image",
             max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> Tensor:
    """An image as a ``(1, 3, H, W)`` float32 RGB tensor in [0, 1].

    Args:
        image: a path, a PIL image, an ``H x W x 3`` array (uint8, or float in
            [0, 1]) or a ``(1, 3, H, W)`` float tensor in [0, 1].
        name: how error messages call the image when it is not a path.
        max_megapixels: refuse larger images; ``None`` for no limit.

    Raises:
        TransferError: unreadable, too small, too large or malformed input.
    """
    if isinstance(image, (str, os.PathLike)):
        return _array_to_tensor(_open(Path(image), max_megapixels, lambda i: _pil_to_array(_decoded(i, str(image)))),
                                str(image))
    if isinstance(image, Image.Image):
        _check_size(*image.size, name, max_megapixels)
        return _array_to_tensor(_pil_to_array(_decoded(image, name)), name)
    if isinstance(image, Tensor):
        if image.ndim != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
            raise TransferError(f"{name} tensor must be (1, 3, H, W) float, got {tuple(image.shape)} {image.dtype}")
        _check_size(image.shape[-1], image.shape[-2], name, max_megapixels)
        with _as_transfer_error():
            return check_unit_images(image, f"{name} tensor")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise TransferError(f"{name} array must be H x W x 3 RGB, got shape {image.shape}")
        _check_size(image.shape[1], image.shape[0], name, max_megapixels)
        return _array_to_tensor(image, name)
    raise TransferError(f"{name} must be a path, a PIL image or an array, got {type(image).__name__}")


def read_pixels(image: ImageInput, *, name: str = "image",
                max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> Tensor:
    """An image as :func:`read_rgb` reads it, but kept in 8 bits when it is 8-bit: a ``(1, 3, H, W)`` ``torch.uint8``
    view of the decoded pixels (channels-last memory) for a file, PIL image or uint8 array in an 8-bit mode; the
    float tensor of :func:`read_rgb` for anything else (16-bit and float images, float arrays, tensors). A photo
    painted at a working size then never exists in float at its full size (``huenet.paint.upsample``).

    Raises:
        TransferError: as :func:`read_rgb`.
    """
    if isinstance(image, (str, os.PathLike)):
        pixels = _open(Path(image), max_megapixels, lambda i: _upright_rgb8(i, str(image)) if _is_8_bit(i) else
                       _pil_to_array(_decoded(i, str(image))))
        return _rgb8_to_tensor(pixels) if pixels.dtype == np.uint8 else _array_to_tensor(pixels, str(image))
    if isinstance(image, Image.Image) and _is_8_bit(image):
        _check_size(*image.size, name, max_megapixels)
        return _rgb8_to_tensor(_upright_rgb8(image, name))
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        _check_size(image.shape[1], image.shape[0], name, max_megapixels)
        return _rgb8_to_tensor(image)
    return read_rgb(image, name=name, max_megapixels=max_megapixels)


def read_color(color: ColorInput) -> Tensor:
    """A colour as a ``(1, 3)`` float32 RGB tensor in [0, 1].

    Args:
        color: ``'#aabbcc'`` (or ``'aabbcc'``), or three numbers in [0, 1] (a sequence or a tensor).

    Raises:
        TransferError: anything else.
    """
    if isinstance(color, str):
        with _as_transfer_error():
            return parse_color(color).reshape(1, 3)
    try:
        return target_colors(torch.as_tensor(color, dtype=torch.float32).reshape(1, 3), 1)  # also refuses nan
    except (TypeError, ValueError, RuntimeError):
        raise TransferError(f"colour must be '#aabbcc' or three numbers in [0, 1], got {color!r}") from None


def to_image(rgb: Tensor) -> Image.Image:
    """A ``(1, 3, H, W)`` RGB tensor in [0, 1], or 8-bit (``torch.uint8``), as an 8-bit PIL image."""
    pixels = rgb[0] if rgb.dtype == torch.uint8 else (rgb[0].clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy())


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files in ``folder`` (not in subfolders; not hidden), by the extensions Pillow reads, sorted."""
    Image.init()
    readable = Image.registered_extensions()
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in readable)
