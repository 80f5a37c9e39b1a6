"""Colour transfer with a trained Hue-Net or a baseline, on photos of any size, one or a folder of them.

    import huenet
    out = huenet.transfer("flower.jpg", "sunset.jpg")                   # Hue-Net, models/huenet/full/generator.pt
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
``huenet.paint.images``'; the registry of methods and their model cache,
``huenet.paint.methods``' (its names are imported here too, e.g. ``from huenet.paint.api
import register_method``). ``huenet.transfer`` is this module's
:func:`transfer`, imported on first use (``huenet/__init__.py``).

Any resolution
    Hue-Net and the colour GAN are networks trained on 64 px crops. At a photo's
    own size they would be other operators (an output pixel of the U-Net sees a
    few hundred pixels of source and of an aligned target, not the whole
    target through the bottleneck), so they run on the source and target
    resized to a working size (``work_size``, longer side
    :data:`DEFAULT_WORK_SIZE`), their output averaged over 16 small
    translations of the input (:mod:`huenet.paint.translations`: the grid pattern of
    the network's strided layers cancels), and the change they make is lifted to the full
    resolution guided by the source (:mod:`huenet.paint.upsample`: a guided filter of
    the hue shift for Hue-Net, of the RGB change for the colour GAN), which
    keeps the photo's own detail (Hue-Net keeps its S and V). ``work_size=None``
    runs the network at the photo's own size, reflect-padded to a multiple of
    ``2 ** depth`` with the target's hue resized (nearest) to the source's
    (:func:`huenet.nets.hue_net.paint`). The per-pixel baselines run at full size.
    The output is 8-bit RGB at the source's size. A grey source stays grey with
    ``huenet`` and ``histmatch``: they keep the source's saturation, which is 0.

Strength and masks
    ``strength`` blends the transfer with the source (0: the source, exactly;
    1: the transfer), along the shorter way round the hue circle for the
    methods that change only hue and in CIELAB for the others
    (:mod:`huenet.paint.blend`); ``mask`` paints only where it is white. A
    ``target_mask`` restricts the colours taken from the target to its white
    pixels, for the methods that read the target's colour statistics.

Size limits
    Sides of at least :data:`MIN_SIDE` pixels. Above the method's limit
    (:data:`DEFAULT_MAX_MEGAPIXELS`; feature matching, which keeps about 1.2 GiB
    and takes about 100 s per megapixel, :data:`FEATURE_MATCHING_MAX_MEGAPIXELS`;
    a network run at the photo's own size, ``work_size=None``, which takes about
    0.4 GiB per megapixel, :data:`NATIVE_MAX_MEGAPIXELS`) or the caller's
    ``max_megapixels``, an image is refused, not processed in tiles. At the
    default working size the network's cost does not grow with the photo; the
    lift's does, linearly, and an 8-bit photo stays in 8 bits through it (time,
    memory and agreement with the working size: ``benchmarks/bench_transfer.py``,
    ``reports/benchmarks/transfer.md``). The limit applies to the target too,
    checked from the file's header before it is decoded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch
from PIL import Image
from torch import Tensor

from huenet.core.checks import check_int
from huenet.paint.blend import apply_mask, blend_hue, blend_lab
from huenet.paint.images import (
    DEFAULT_MAX_MEGAPIXELS,
    MIN_SIDE,
    ColorInput,
    ImageInput,
    TransferError,
    image_files,
    read_color,
    read_pixels,
    read_rgb,
    to_image,
)
from huenet.paint.lut import fit_lut
from huenet.paint.methods import (
    DEFAULT_COLOR_GAN,
    DEFAULT_MODEL,
    FEATURE_MATCHING_MAX_MEGAPIXELS,
    Method,
    bind,
    get_method,
    methods,
    register_method,
)
from huenet.paint.translations import TRANSLATION_STEPS, translation_mean
from huenet.paint.upsample import lift_hue, lift_rgb, shrink, unit_float

__all__ = ["transfer", "painter", "Painter", "transfer_folder", "FolderTransfer", "read_mask", "masked_pixels",
           "DEFAULT_WORK_SIZE", "register_method", "get_method", "methods",
           "read_rgb", "read_color", "check_color_arguments", "megapixel_limit", "to_image", "Method",
           "TransferError", "DEFAULT_MODEL", "DEFAULT_COLOR_GAN", "DEFAULT_MAX_MEGAPIXELS", "NATIVE_MAX_MEGAPIXELS",
           "FEATURE_MATCHING_MAX_MEGAPIXELS", "MIN_SIDE"]

MegapixelLimit = float | None | Literal["auto"]
DEFAULT_WORK_SIZE = 96
"""The longer side, in pixels, at which learned methods run (``reports/benchmarks/work_size.md`` chose it)."""
LUT_FIT_SIZE = 256
"""The longer side at which a per-pixel method's LUT is fitted: its colours, at a fraction of the pixels."""


NATIVE_MAX_MEGAPIXELS = 16.0
"""The limit of a learned method run at the photo's own size (``work_size=None``), about 6 GiB at its peak."""


def megapixel_limit(method: Method, max_megapixels: MegapixelLimit = "auto", *, native: bool = False) -> float | None:
    """The size limit in effect: for ``"auto"``, ``method``'s own, or :data:`NATIVE_MAX_MEGAPIXELS` if lower and
    a learned method runs at the photo's own size (``native``); else ``max_megapixels`` (``None``: no limit)."""
    if max_megapixels != "auto":
        return max_megapixels
    return min(method.max_megapixels, NATIVE_MAX_MEGAPIXELS) if native and method.learned else method.max_megapixels


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


def _check_work_size(work_size: int | None) -> None:
    if work_size is None:
        return
    try:
        check_int(work_size, "work size", MIN_SIDE)
    except ValueError as err:
        raise TransferError(f"{err} (pixels), or None for the photo's own size") from None


def _check_strength(strength: float) -> None:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise TransferError(f"strength must be a number from 0 to 1, got {strength!r}")


def read_mask(mask: ImageInput, like: Tensor, *, name: str = "mask") -> Tensor:
    """A mask as a ``(1, 1, H, W)`` map in [0, 1] (the mean of its channels: white 1, black 0), ``like``'s size.

    Raises:
        TransferError: an unreadable mask, or one whose size is not ``like``'s.
    """
    grey = read_rgb(mask, name=name, max_megapixels=None).mean(1, keepdim=True)
    if grey.shape[-2:] != like.shape[-2:]:
        raise TransferError(f"the {name} is {grey.shape[-1]} x {grey.shape[-2]} but its image is "
                            f"{like.shape[-1]} x {like.shape[-2]}; a mask must have its image's size")
    return grey


def masked_pixels(target: Tensor, mask: Tensor) -> Tensor:
    """The pixels of ``target`` where ``mask`` is at least half white, as a ``(1, 3, 1, N)`` strip.

    Methods that read only the target's colour statistics (means, spreads, hue histograms) take the strip as
    they take an image, so the colours they aim at are those of the masked region.

    Raises:
        TransferError: the mask selects no pixel.
    """
    chosen = mask[0, 0] >= 0.5
    if not bool(chosen.any()):
        raise TransferError("the target mask selects no pixel (white: take the colours here)")
    return target[0][:, chosen].reshape(1, 3, 1, -1)


class Painter:
    """A transfer's steps but the source's, done once (:func:`painter`): call it on a source to paint it."""

    def __init__(self, target: ImageInput | None, *, method: str, model: str | os.PathLike | None,
                 color: ColorInput | None, max_megapixels: MegapixelLimit, work_size: int | None, strength: float,
                 target_mask: ImageInput | None) -> None:
        self.spec = get_method(method)
        _check_work_size(work_size)
        _check_strength(strength)
        self.limit = megapixel_limit(self.spec, max_megapixels, native=work_size is None)
        self.color = check_color_arguments(self.spec, target is not None, color)
        if target_mask is not None and (target is None or self.spec.spatial_target):
            raise TransferError(f"method {self.spec.name!r} cannot take a target mask: "
                                + ("it reads the target as a hue map aligned with the source, not as colour "
                                   "statistics" if self.spec.spatial_target else "it has no target image"))
        self.run = bind(self.spec, model)
        self.work_size = work_size if self.spec.learned else None
        self.strength = float(strength)
        self.target = None if target is None else read_rgb(target, name="target", max_megapixels=self.limit)
        if self.target is not None and target_mask is not None:
            self.target = masked_pixels(self.target, read_mask(target_mask, self.target, name="target mask"))
        elif self.target is not None and self.work_size is not None:
            self.target = shrink(self.target, self.work_size)  # the scale the network was trained at

    def _blend(self, source: Tensor, output: Tensor, mask: Tensor | None) -> Tensor:
        if mask is None and self.strength == 1:
            return output
        space = "hue" if self.spec.hue_only else "lab"
        if mask is None:
            return (blend_hue if space == "hue" else blend_lab)(source, output, self.strength)
        return apply_mask(source, output, mask, space=space, strength=self.strength)

    def working_output(self, small: Tensor, *, steps: int = TRANSLATION_STEPS) -> Tensor:
        """A learned method's output for the working-size source ``small``, averaged over ``steps`` x ``steps``
        translations of its input (:func:`huenet.paint.translations.translation_mean`; 1 is the raw network)."""
        return translation_mean(lambda s, t: self.run(s, t, self.color), small, self.target, steps=steps,
                                hue_only=self.spec.hue_only, spatial_target=self.spec.spatial_target).clamp(0, 1)

    def paint(self, source_rgb: Tensor, mask: Tensor | None = None, *,
              working: bool = False) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The painted source at full size; with ``working``, also the working-size source and output (what a
        LUT is fitted on; a method run at full size has both shrunk to :data:`LUT_FIT_SIZE`), else ``None``s,
        so that a plain transfer resizes nothing it does not use.

        ``source_rgb`` is float RGB in [0, 1] or 8-bit (:func:`huenet.paint.images.read_pixels`). A hue-only method
        lifted from the working size keeps an 8-bit photo in 8 bits: the strength and the mask are folded into
        the lift (``huenet.paint.upsample.lift_hue``), and the output is 8-bit; every other route works in float."""
        if self.work_size is None:
            source_rgb = unit_float(source_rgb)
            output = self._blend(source_rgb, self.run(source_rgb, self.target, self.color), mask)
            if not working:
                return output, None, None
            return output, shrink(source_rgb, LUT_FIT_SIZE), shrink(output, LUT_FIT_SIZE)
        small = shrink(source_rgb, self.work_size)
        painted = self.working_output(small)
        if small.shape[-2:] == source_rgb.shape[-2:]:
            output = self._blend(small, painted, mask)
        elif self.spec.hue_only:
            amount = self.strength if mask is None else mask * self.strength
            output = lift_hue(source_rgb, small, painted, strength=amount)
        else:
            lifted = lift_rgb(source_rgb, small, painted)
            output = lifted if mask is None and self.strength == 1 else self._blend(
                unit_float(source_rgb), unit_float(lifted), mask)
        return (output, small, self._blend(small, painted, None)) if working else (output, None, None)

    def __call__(self, source: ImageInput, *, mask: ImageInput | None = None) -> Image.Image:
        """``source`` painted: an 8-bit RGB image at its size; with ``mask``, painted only where it is white."""
        return self.with_lut(source, mask=mask)[0]

    def with_lut(self, source: ImageInput, *, mask: ImageInput | None = None,
                 lut_size: int | None = None) -> tuple[Image.Image, Tensor | None]:
        """``source`` painted, and (with ``lut_size``) the ``(N, N, N, 3)`` 3D LUT of the transfer fitted on the
        working-size images (:func:`huenet.paint.lut.fit_lut`)."""
        source_rgb = read_pixels(source, name="source", max_megapixels=self.limit)
        mask_map = None if mask is None else read_mask(mask, source_rgb)
        if lut_size is not None and mask_map is not None:
            raise TransferError("a LUT maps colours alone and cannot hold a mask; give --lut or --mask, not both")
        with torch.inference_mode():
            output, small, painted_small = self.paint(source_rgb, mask_map, working=lut_size is not None)
            lut = None if lut_size is None else fit_lut(small, painted_small, size=lut_size)
            return to_image(output), lut


def painter(target: ImageInput | None = None, *, method: str = "huenet", model: str | os.PathLike | None = None,
            color: ColorInput | None = None, max_megapixels: MegapixelLimit = "auto",
            work_size: int | None = DEFAULT_WORK_SIZE, strength: float = 1.0,
            target_mask: ImageInput | None = None) -> Painter:
    """A transfer's steps but the source's, done once: ``painter(target, ...)(source)`` is ``transfer(source,
    target, ...)``, and a painter called on many sources checks the arguments, loads the model and reads the
    target once (a bad one fails once, before any source is read).

    Raises:
        TransferError: bad arguments, a bad model or a bad target; the painter raises it for a bad source.
    """
    return Painter(target, method=method, model=model, color=color, max_megapixels=max_megapixels,
                   work_size=work_size, strength=strength, target_mask=target_mask)


def transfer(source: ImageInput, target: ImageInput | None = None, *, method: str = "huenet",
             model: str | os.PathLike | None = None, color: ColorInput | None = None,
             max_megapixels: MegapixelLimit = "auto", work_size: int | None = DEFAULT_WORK_SIZE,
             strength: float = 1.0, mask: ImageInput | None = None,
             target_mask: ImageInput | None = None) -> Image.Image:
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
        work_size: learned methods (``huenet``, ``color-gan``) run on the source and target resized to this
            longer side, and the change is lifted to the source's full resolution guided by the source
            (module docstring); ``None``: run the network at the photo's own size.
        strength: from 0 (the source) to 1 (the transfer): on the hue circle for the methods that change only
            hue, in CIELAB for the others.
        mask: paint only where this image (the source's size) is white; grey blends.
        target_mask: take the target's colours only where this image (the target's size) is white, for the
            methods that read the target's colour statistics (not ``huenet``, whose target is a hue map).

    Returns:
        An 8-bit RGB image at the source's size (after EXIF orientation).

    Raises:
        TransferError: bad input (one line, fit to show a user).
    """
    return painter(target, method=method, model=model, color=color, max_megapixels=max_megapixels,
                   work_size=work_size, strength=strength, target_mask=target_mask)(source, mask=mask)


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
                    max_megapixels: MegapixelLimit = "auto", work_size: int | None = DEFAULT_WORK_SIZE,
                    strength: float = 1.0, target_mask: ImageInput | None = None) -> FolderTransfer:
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
                                         max_megapixels=max_megapixels, work_size=work_size, strength=strength,
                                         target_mask=target_mask))
