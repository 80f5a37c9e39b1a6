"""Colour transfer with a trained Hue-Net or a baseline, on photos of any size, one or a folder of them.

    import huenet
    out = huenet.transfer("flower.jpg", "sunset.jpg")                   # Hue-Net, models/full/generator.pt
    out = huenet.transfer("flower.jpg", "sunset.jpg", method="reinhard")
    out = huenet.transfer("flower.jpg", color="#d04a8c", method="feature-matching")  # a colour, no target image
    out.save("out.png")

Colour methods (``uses_color=True``: ``feature-matching``, ``color-gan``, the
two systems of Soiffer & Zhang 2018) recolour the source towards one mean RGB
colour rather than a hue distribution: the target image's mean colour, or a
colour given directly (``color='#aabbcc'``, ``--color``) instead of a target.

This module is the public face: :func:`transfer`, :func:`painter` (a transfer's
steps done once, for many sources) and :func:`transfer_folder`, which the
``huenet transfer`` command calls. How images are read and checked is
``huenet.images``'; the registry of methods and their model cache,
``huenet.methods``' (its names are imported here too, e.g. ``from huenet.api
import register_method``). ``huenet.transfer`` is this module's
:func:`transfer`, imported on first use (``huenet/__init__.py``).

Any resolution
    The generator is fully convolutional, so a photo is processed at its own
    size: reflect-padded to a multiple of ``2 ** depth`` and cropped back; the
    target's hue is resized (nearest) to the source's size
    (:func:`huenet.models.paint`). The output is 8-bit RGB at the source's
    size. A grey source stays grey with ``huenet`` and ``histmatch``: they keep
    the source's saturation, which is 0.

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

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from torch import Tensor

from huenet.images import (
    DEFAULT_MAX_MEGAPIXELS,
    MIN_SIDE,
    ColorInput,
    ImageInput,
    TransferError,
    image_files,
    read_color,
    read_rgb,
    to_image,
)
from huenet.methods import (
    DEFAULT_COLOR_GAN,
    DEFAULT_MODEL,
    FEATURE_MATCHING_MAX_MEGAPIXELS,
    Method,
    bind,
    get_method,
    methods,
    register_method,
)

__all__ = ["transfer", "painter", "transfer_folder", "FolderTransfer", "register_method", "get_method", "methods",
           "read_rgb", "read_color", "check_color_arguments", "megapixel_limit", "to_image", "Method",
           "TransferError", "DEFAULT_MODEL", "DEFAULT_COLOR_GAN", "DEFAULT_MAX_MEGAPIXELS",
           "FEATURE_MATCHING_MAX_MEGAPIXELS", "MIN_SIDE"]

MegapixelLimit = float | None | Literal["auto"]
Painter = Callable[[ImageInput], Image.Image]


def megapixel_limit(method: Method, max_megapixels: MegapixelLimit = "auto") -> float | None:
    """The size limit in effect: ``method``'s own for ``"auto"``, else ``max_megapixels`` (``None``: no limit)."""
    return method.max_megapixels if max_megapixels == "auto" else max_megapixels


def check_color_arguments(method: Method, has_target: bool, color: ColorInput | None) -> Tensor | None:
    """Check that ``method`` gets what it takes; return ``color`` as a ``(1, 3)`` tensor (``None`` if not given).

    A colour method takes a target image or a colour (one of them); the others take a target image and no colour.

    Raises:
        TransferError: the wrong combination, or a malformed colour.
    """
    if not method.uses_color:
        if color is not None:
            raise TransferError(f"method {method.name!r} takes its colours from a target image, not a colour; "
                                f"colour methods: {', '.join(n for n, m in methods().items() if m.uses_color)}")
        if not has_target:
            raise TransferError(f"method {method.name!r} needs a target image")
        return None
    if has_target == (color is not None):
        raise TransferError(f"method {method.name!r} needs a target image or a colour (one of them, not both)")
    return None if color is None else read_color(color)


def painter(target: ImageInput | None = None, *, method: str = "huenet", model: str | os.PathLike | None = None,
            color: ColorInput | None = None, max_megapixels: MegapixelLimit = "auto") -> Painter:
    """A transfer's steps but the source's, done once: ``painter(target, ...)(source)`` is ``transfer(source,
    target, ...)``, and a painter called on many sources checks the arguments, loads the model and reads the
    target once (a bad one fails once, before any source is read).

    Raises:
        TransferError: bad arguments, a bad model or a bad target; the painter raises it for a bad source.
    """
    spec = get_method(method)
    limit = megapixel_limit(spec, max_megapixels)
    color_rgb = check_color_arguments(spec, target is not None, color)
    run = bind(spec, model)
    target_rgb = None if target is None else read_rgb(target, name="target", max_megapixels=limit)

    def paint(source: ImageInput) -> Image.Image:
        source_rgb = read_rgb(source, name="source", max_megapixels=limit)
        with torch.inference_mode():
            return to_image(run(source_rgb, target_rgb, color_rgb))

    return paint


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
    return painter(target, method=method, model=model, color=color, max_megapixels=max_megapixels)(source)


class FolderTransfer:
    """The outputs of :func:`transfer_folder`: ``len()`` is the number of image files; iterating paints them in
    order, yielding ``(path, image)``, or ``(path, error)`` for a file that failed (the others go on)."""

    def __init__(self, files: list[Path], paint: Painter) -> None:
        self.files, self._paint = files, paint

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[tuple[Path, Image.Image | TransferError]]:
        for path in self.files:
            try:
                yield path, self._paint(path)
            except TransferError as err:
                yield path, err


def transfer_folder(folder: str | os.PathLike, target: ImageInput | None = None, *, method: str = "huenet",
                    model: str | os.PathLike | None = None, color: ColorInput | None = None,
                    max_megapixels: MegapixelLimit = "auto") -> FolderTransfer:
    """Paint every image file in ``folder`` (not in subfolders; by the extensions Pillow reads) as :func:`transfer`
    paints one, with one :func:`painter`.

    Raises:
        TransferError: no image files, or (before any image is read) what would fail every image: bad arguments,
            a bad model or a bad target.
    """
    files = image_files(folder)
    if not files:
        raise TransferError(f"no image files in {folder}")
    return FolderTransfer(files, painter(target, method=method, model=model, color=color,
                                         max_megapixels=max_megapixels))
