"""The photo tool's commands: ``huenet transfer SOURCE TARGET -o OUT`` (or ``SOURCE --color '#aabbcc'``), and
``huenet apply-lut SOURCE LUT -o OUT`` (:mod:`huenet.cli` dispatches to :func:`transfer_main` and
:func:`apply_lut_main`).

Bad input ends with one line on stderr (``huenet: error: ...``) and exit status
2, never a traceback; outputs are written to a temporary file beside the
destination and moved into place, so a failure leaves no partial file.

The command parses, writes, reports and exits; the work is ``huenet.paint.api``'s: ``transfer`` for one image,
``transfer_folder`` for a folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from huenet.files import atomic_write
from huenet.paint.api import (
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_WORK_SIZE,
    FEATURE_MATCHING_MAX_MEGAPIXELS,
    MIN_SIDE,
    NATIVE_MAX_MEGAPIXELS,
    TransferError,
    get_method,
    methods,
    painter,
    read_rgb,
    to_image,
    transfer_folder,
)
from huenet.paint.lut import SIZE as LUT_SIZE
from huenet.paint.lut import apply_lut, read_cube, write_cube
from huenet.paint.methods import model_file

EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 2, 130
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}

# The size limits as the help prints them (their names would not fit the help's source line).
_LIMITS = (f"{DEFAULT_MAX_MEGAPIXELS:g}; --work-size native {NATIVE_MAX_MEGAPIXELS:g}; feature-matching "
           f"{FEATURE_MATCHING_MAX_MEGAPIXELS:g}")
_TRANSFER_EPILOG = f"""\
methods:
{{methods}}

colours:
  feature-matching and color-gan (Soiffer & Zhang 2018) recolour towards one
  mean RGB colour: TARGET's mean colour, or --color '#aabbcc' given instead of
  TARGET. The other methods take TARGET's colour distribution.

images:
  Any size. huenet and color-gan, networks trained on 64 px crops, run on the
  source and target resized to --work-size (longer side, default
  {DEFAULT_WORK_SIZE} px), and their change is lifted to the photo's full
  resolution guided by the photo itself (huenet keeps its saturation and
  value); --work-size native runs the network at the photo's own size instead.
  The other methods run at full size. EXIF orientation is applied. Transparency is composited over white. 16-bit
  greyscale PNGs are read at full precision. Greyscale, palette and CMYK images
  are converted to RGB. A grey source stays grey with huenet and histmatch
  (they keep its saturation, 0). The output is 8-bit RGB at the source's size,
  in the format its extension names (.png, .jpg, ...).

size limits:
  Each side at least {MIN_SIDE} pixels. Images above --max-megapixels (default
  {_LIMITS}, as it keeps about 1.2 GiB and takes about
  100 s per megapixel) are refused. At the working size memory grows by about
  0.01 GiB per megapixel of the photo (the lift; reports/benchmarks/transfer.md),
  at --work-size native by about 0.4 GiB. Raise the limit if you have the memory.

strength, masks, LUTs:
  --strength 0..1 blends the result with the source: on the hue circle for
  huenet and histmatch (they change only hue), in CIELAB for the others.
  --mask paints only where the mask image (the source's size) is white; grey
  blends. --target-mask takes TARGET's colours only where that image (TARGET's
  size) is white, for the methods that read TARGET's colour statistics
  (reinhard, histmatch, feature-matching, color-gan); huenet reads TARGET as a
  hue map aligned with the source and refuses it. --lut out.cube also writes
  the transfer as a 3D LUT (Adobe/Resolve .cube, 33 nodes a side) fitted on the
  working-size images, to apply the same look to other images or video frames
  ('huenet apply-lut', ffmpeg's lut3d, image editors). For huenet the LUT is the
  best per-colour approximation of a painting that also depends on where a
  colour is.

folders:
  With a folder as SOURCE, every image file in it (not in subfolders; files
  whose extension Pillow does not know are ignored) is painted with TARGET's
  colours and written under OUT with the same name. A file that fails is
  reported and skipped; the others are written.

exit status:
  0    every output written
  2    bad arguments or bad input (in a folder: one or more images failed)
  130  interrupted"""


def _method_lines() -> str:
    lines = []
    for name, spec in methods().items():
        model = f" Model file: --model, default {spec.default_model}." if spec.needs_model else ""
        lines.append(textwrap.fill(f"{spec.description}.{model}", 79, initial_indent=f"  {name:<17}",
                                   subsequent_indent=" " * 19))
    return "\n".join(lines)


def _work_size(text: str) -> int | None:
    """``--work-size``: an integer number of pixels, or ``native`` (``None``: the photo's own size)."""
    if text == "native":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of pixels or 'native': {text!r}") from None


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def _megapixels(text: str) -> float | None | str:
    """``--max-megapixels``: a number >= 0; 0 means no limit (``None``); ``auto`` the method's limit."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value or None


def transfer_parser() -> argparse.ArgumentParser:
    """``huenet transfer``'s arguments."""
    sub = argparse.ArgumentParser(
        prog="huenet transfer",
        description="Paint SOURCE with TARGET's colours (or recolour it towards --color) and write the result "
                    "to OUT.\n"
                    "With a folder as SOURCE, paint every image in it and write them under the folder OUT.",
        epilog=_TRANSFER_EPILOG.format(methods=_method_lines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("source", type=Path, metavar="SOURCE", help="image to recolour, or a folder of images")
    sub.add_argument("target", type=Path, metavar="TARGET", nargs="?",
                     help="image whose colours are taken (colour methods: or give --color instead)")
    sub.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                     help="output image (an existing folder: OUT/<source name>); with a folder SOURCE, the output "
                          "folder (created if missing)")
    sub.add_argument("--method", default="huenet", choices=list(methods()), help="transfer method (default: huenet)")
    sub.add_argument("--model", type=Path, metavar="PATH",
                     help="model file of a method that needs one (default: huenet "
                          f"{get_method('huenet').default_model}, color-gan {get_method('color-gan').default_model}; "
                          "relative to the current directory)")
    sub.add_argument("--color", metavar="'#RRGGBB'",
                     help="feature-matching and color-gan: the mean colour to reach, instead of TARGET's")
    sub.add_argument("--max-megapixels", type=_megapixels, default="auto", metavar="N",
                     help=f"refuse larger images (default: the method's limit, {_LIMITS}; 0: no limit)")
    sub.add_argument("--work-size", type=_work_size, default=DEFAULT_WORK_SIZE, metavar="PX",
                     help=f"huenet and color-gan: run at this longer side, then lift to full size (default: "
                          f"{DEFAULT_WORK_SIZE}; 'native': at the photo's own size)")
    sub.add_argument("--strength", type=_strength, default=1.0, metavar="S",
                     help="from 0 (the source) to 1 (the full transfer, the default)")
    sub.add_argument("--mask", type=Path, metavar="MASK", help="paint only where this image is white")
    sub.add_argument("--target-mask", type=Path, metavar="MASK",
                     help="take TARGET's colours only where this image is white")
    sub.add_argument("--lut", type=Path, metavar="OUT.cube", help="also write the transfer as a 3D LUT")
    sub.add_argument("-v", "--verbose", action="store_true", help="say which model file was used")
    return sub


def apply_lut_parser() -> argparse.ArgumentParser:
    """``huenet apply-lut``'s arguments."""
    apply = argparse.ArgumentParser(
        prog="huenet apply-lut",
        description="Apply a 3D LUT in the Adobe/Resolve .cube format (for example one written by 'huenet "
                    "transfer --lut') to SOURCE, with trilinear interpolation, and write OUT.")
    apply.add_argument("source", type=Path, metavar="SOURCE", help="image to recolour")
    apply.add_argument("lut", type=Path, metavar="LUT", help="a .cube file")
    apply.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output image")
    return apply


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def _format_of(path: Path) -> str:
    """The Pillow format that ``path``'s extension names; it must be writable."""
    Image.init()
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise TransferError(f"{path}: cannot tell a writable image format from the extension (use .png, .jpg, ...)")
    return fmt


def _check_writable(out: Path, inputs: Sequence[Path]) -> None:
    """Fail early, before any work, on a file that cannot or must not be written."""
    if not out.parent.is_dir():
        raise TransferError(f"cannot write {out}: no folder {out.parent}")
    if out.is_dir() or not os.access(out.parent, os.W_OK):
        raise TransferError(f"cannot write {out}: " + ("it is a folder" if out.is_dir() else "the folder is read-only"))
    for path in inputs:
        if _same_file(out, path):
            raise TransferError(f"output {out} is the input {path}; choose another output path")


def _check_output(out: Path, inputs: Sequence[Path]) -> None:
    """Fail early, before any work, on an output image that cannot or must not be written."""
    _format_of(out)
    _check_writable(out, inputs)


def _write(out: Path, write: Callable[[Path], None]) -> None:
    """``atomic_write`` (no partial file on failure), its errors as a ``TransferError`` naming ``out``."""
    try:
        atomic_write(out, write)
    except TransferError:
        raise
    except (OSError, ValueError) as err:  # Pillow raises either for a format that cannot hold the image
        raise TransferError(f"cannot write {out}: {getattr(err, 'strerror', None) or err}") from None


def _save(image: Image.Image, out: Path, then: Callable[[], None] | None = None) -> None:
    """Write ``image`` to ``out``; ``then()``, a second file, is written before ``out`` is moved into place, so
    that a failure of either leaves neither."""
    fmt = _format_of(out)

    def write(tmp: Path) -> None:
        image.save(tmp, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
        if then is not None:
            then()

    _write(out, write)


def _inputs(*paths: Path | None) -> list[Path]:
    return [p for p in paths if p is not None]


def _options(args: argparse.Namespace) -> dict:
    """The options ``huenet.paint.api.painter`` takes, from the command line."""
    return dict(method=args.method, model=args.model, color=args.color, max_megapixels=args.max_megapixels,
                work_size=args.work_size, strength=args.strength, target_mask=args.target_mask)


def _say_model(args: argparse.Namespace) -> None:
    spec = get_method(args.method)
    if args.verbose and spec.needs_model:
        print(f"huenet: {args.method} weights: {model_file(spec, args.model)}", file=sys.stderr)


def _transfer_file(args: argparse.Namespace) -> int:
    out = args.output / args.source.name if args.output.is_dir() else args.output
    inputs = _inputs(args.source, args.target, args.mask, args.target_mask)
    _check_output(out, inputs)
    if args.lut is not None:
        if args.lut.suffix.lower() != ".cube":
            raise TransferError(f"{args.lut}: a LUT is written as a .cube file")
        _check_writable(args.lut, [*inputs, out])
    _say_model(args)
    image, lut = painter(args.target, **_options(args)).with_lut(
        args.source, mask=args.mask, lut_size=None if args.lut is None else LUT_SIZE)
    title = f"huenet {args.method}"
    _save(image, out, None if lut is None else lambda: _write(args.lut, lambda tmp: write_cube(lut, tmp, title)))
    return EXIT_OK


def _apply_lut(args: argparse.Namespace) -> int:
    _check_output(args.output, _inputs(args.source, args.lut))
    try:
        lut = read_cube(args.lut)
    except OSError as err:
        raise TransferError(f"cannot read {args.lut}: {err.strerror or err}") from None
    except ValueError as err:
        raise TransferError(str(err)) from None
    _save(to_image(apply_lut(lut, read_rgb(args.source, name="source", max_megapixels=None))), args.output)
    return EXIT_OK


def _transfer_folder(args: argparse.Namespace) -> int:
    if _same_file(args.output, args.source):
        raise TransferError(f"output folder {args.output} is the source folder; choose another")
    if args.output.exists() and not args.output.is_dir():
        raise TransferError(f"output {args.output} is a file; with a folder SOURCE, OUT must be a folder")
    if args.mask is not None or args.lut is not None:
        raise TransferError("--mask and --lut are for one image, not a folder (a mask has one image's size)")
    _say_model(args)
    # a bad target, model or argument fails here, once, before the output folder is made
    painted = transfer_folder(args.source, args.target, **_options(args))
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TransferError(f"cannot create folder {args.output}: {err.strerror or err}") from None
    failed = 0
    for path, result in tqdm(painted, total=len(painted), desc="huenet transfer", unit="image", disable=None):
        out = args.output / path.name
        try:
            if isinstance(result, TransferError):
                raise result  # the image could not be read or painted: reported and counted like a failed write
            _check_output(out, _inputs(path, args.target))
            _save(result, out)
        except TransferError as err:
            failed += 1
            tqdm.write(f"huenet: error: {err}", file=sys.stderr)
    if failed:
        raise TransferError(f"{failed} of {len(painted)} images failed; the others are in {args.output}")
    return EXIT_OK


def _run(command: Callable[[], int]) -> int:
    try:
        return command()
    except TransferError as err:
        print(f"huenet: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("huenet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def transfer_main(argv: Sequence[str]) -> int:
    """``huenet transfer ARGS``."""
    args = transfer_parser().parse_args(argv)
    return _run(lambda: _transfer_folder(args) if args.source.is_dir() else _transfer_file(args))


def apply_lut_main(argv: Sequence[str]) -> int:
    """``huenet apply-lut ARGS``."""
    args = apply_lut_parser().parse_args(argv)
    return _run(lambda: _apply_lut(args))
