"""The colour-transfer methods, registered once by name, and their model files loaded once.

A method is a function ``(source_rgb, target_rgb, **options) -> rgb`` on
``(B, 3, H, W)`` and ``(B, 3, h, w)`` float tensors in [0, 1] returning
``(B, 3, H, W)`` (``huenet.transfer`` gives it one image, Table 1 a batch of
pairs); it runs without gradients. A colour method (``uses_color=True``) gets
``color=``, a ``(B, 3)`` or ``(1, 3)`` RGB tensor, and ``target`` may be
``None``. A method that needs a model file is registered with
``needs_model=True`` and gets ``model=`` the file's path, or what its
``load_model(path)`` returns (loaded once per file and cached). Its ``label``
is its short name in figures and tables.

The package's methods, registered at the end of this module, are the names
used everywhere (``huenet transfer --method``, ``huenet.transfer(method=...)``,
Table 1 and ``reports/table1.json``):

* ``huenet``: the trained Hue-Net generator (:func:`huenet.nets.hue_net.paint`);
* ``reinhard``: Reinhard et al. 2001;
* ``histmatch``: cyclic hue histogram matching;
* ``feature-matching`` and ``color-gan``: the two systems of Soiffer & Zhang
  2018, colour methods aimed at one mean colour.

Code outside the package adds its own with :func:`register_method`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from huenet.baselines.color_gan import color_gan, load_color_gan
from huenet.baselines.feature_matching import feature_matching
from huenet.baselines.histmatch import hue_histogram_matching
from huenet.baselines.reinhard import reinhard
from huenet.core.color import mean_color
from huenet.nets.hue_net import UNetGenerator, inference_generator, load_generator, paint
from huenet.paint.images import DEFAULT_MAX_MEGAPIXELS, TransferError, first_line

__all__ = ["Method", "BoundMethod", "register_method", "methods", "get_method", "bind", "model_file", "SHIPPED_MODEL",
           "DEFAULT_MODEL",
           "DEFAULT_COLOR_GAN", "FEATURE_MATCHING_MAX_MEGAPIXELS"]

DEFAULT_MODEL = Path("models/huenet/full/generator.pt")
"""The pipeline's trained generator, relative to the current directory."""
SHIPPED_MODEL = Path(__file__).resolve().parent / "weights" / "huenet-full-fp16.pt"
"""The Hue-Net weights the package ships (``huenet.paint.shipped`` writes them), used when there is no DEFAULT_MODEL."""
DEFAULT_COLOR_GAN = Path("models/color_gan/generator.pt")
"""The pipeline's trained colour-GAN generator (stage ``color_gan``), relative to the current directory."""
FEATURE_MATCHING_MAX_MEGAPIXELS = 4.0
"""About 5 GiB and 7 minutes on 2 cores.

``benchmarks/bench_feature_matching.py`` measures ~1.2 GiB and ~100 s per megapixel."""

TransferFn = Callable[..., Tensor]


@dataclass(frozen=True)
class Method:
    """A registered transfer method (see the module docstring)."""

    name: str
    fn: TransferFn
    label: str
    needs_model: bool = False
    default_model: Path | None = None
    load_model: Callable[[Path], Any] | None = None
    description: str = ""
    uses_color: bool = False
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    learned: bool = False  # a network trained at a small size: run at the working size, the change lifted back
    hue_only: bool = False  # changes hue alone: strength blends on the hue circle, a lift carries the hue shift
    spatial_target: bool = False  # reads the target as an image aligned with the source, not as statistics
    shipped_model: Path | None = None  # the package's own weights, used when default_model is not there


_METHODS: dict[str, Method] = {}


def register_method(name: str, fn: TransferFn, *, label: str | None = None, needs_model: bool = False,
                    default_model: str | os.PathLike | None = None,
                    load_model: Callable[[Path], Any] | None = None, description: str = "",
                    uses_color: bool = False, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, learned: bool = False,
                    hue_only: bool = False, spatial_target: bool = False,
                    shipped_model: str | os.PathLike | None = None) -> None:
    """Make ``fn`` available as ``transfer(..., method=name)`` and ``huenet transfer --method name``.

    Args:
        fn: ``(source_rgb, target_rgb, **options) -> rgb``, see the module docstring.
        label: the method's short name in figures and tables (default: ``name``).
        needs_model: ``fn`` takes ``model=``; callers must give a model file
            unless ``default_model`` is set.
        default_model: the model file used when the caller gives none.
        load_model: turns the model path into what ``fn`` gets as ``model=``;
            it raises ``ValueError`` (shown to the user) for a missing or bad
            file. Without it ``fn`` gets the path.
        description: one line for ``huenet transfer --help``.
        uses_color: ``fn`` takes ``color=`` (a ``(B, 3)`` RGB tensor): the target's
            mean colour, or the caller's ``color``.
        max_megapixels: the largest image the method takes unless the caller says otherwise.
        learned: a network trained at a small size: ``huenet.transfer`` runs it at its working size and lifts
            the change to the source's full resolution (:mod:`huenet.paint.upsample`).
        hue_only: the method changes hue alone (saturation and value stay the source's).
        spatial_target: the method reads the target as an image (Hue-Net's hue map), so a target mask cannot
            select the colours it takes.
        shipped_model: a model file that ships with the package, used when ``default_model`` does not exist.
    """
    if name in _METHODS:
        raise ValueError(f"transfer method {name!r} is already registered")
    if not needs_model and (default_model is not None or load_model is not None):
        raise ValueError(f"method {name!r}: default_model and load_model need needs_model=True")
    _METHODS[name] = Method(name, fn, label or name, needs_model,
                            Path(default_model) if default_model is not None else None, load_model, description,
                            uses_color, max_megapixels, learned, hue_only, spatial_target,
                            Path(shipped_model) if shipped_model is not None else None)


def methods() -> dict[str, Method]:
    """The registered methods by name, in registration order."""
    return dict(_METHODS)


def get_method(name: str) -> Method:
    """The method registered as ``name``; a :class:`~huenet.paint.images.TransferError` names the others."""
    try:
        return _METHODS[name]
    except KeyError:
        raise TransferError(f"unknown method {name!r} (choose from {', '.join(_METHODS)})") from None


# ---------------------------------------------------------------- models


@functools.lru_cache(maxsize=4)
def _load_cached(load_model: Callable[[Path], Any], path: Path, mtime_ns: int, size: int) -> Any:
    # mtime and size are part of the key so that a retrained model is picked up
    return load_model(path)


def model_file(method: Method, model: str | os.PathLike | None = None) -> Path:
    """The model file ``method`` uses: ``model`` if given, else its default, else (when the default is not there,
    e.g. no ``models/`` folder in the current directory) the weights the package ships.

    Raises:
        TransferError: the method has no model file, or needs one and has no default.
    """
    if not method.needs_model:
        raise TransferError(f"method {method.name!r} uses no model file")
    path = Path(model) if model is not None else method.default_model
    if model is None and method.shipped_model is not None and (path is None or not path.exists()):
        path = method.shipped_model
    if path is None:
        raise TransferError(f"method {method.name!r} needs a model file")
    return path


def _model_option(method: Method, model: str | os.PathLike | None) -> dict[str, Any]:
    """The ``model=`` option for ``method`` (empty for methods without a model)."""
    if not method.needs_model:
        if model is not None:
            raise TransferError(f"method {method.name!r} uses no model file")
        return {}
    path = model_file(method, model)
    if method.load_model is None:
        return {"model": path}
    try:
        stat = path.resolve().stat()
    except OSError:
        raise TransferError(f"model file not found: {path}") from None
    try:
        return {"model": _load_cached(method.load_model, path.resolve(), stat.st_mtime_ns, stat.st_size)}
    except ValueError as err:  # load_model's contract for a missing or bad file
        raise TransferError(first_line(err)) from None


@dataclass(frozen=True)
class BoundMethod:
    """A method with its model loaded: call it as ``(source, target, color=None) -> rgb`` (see :func:`bind`)."""

    method: Method
    options: dict[str, Any]

    def __call__(self, source: Tensor, target: Tensor | None, color: Tensor | None = None) -> Tensor:
        """Run the method; a colour method aims at ``color`` if given, else at the target's mean colour."""
        options = dict(self.options)
        if self.method.uses_color:
            options["color"] = mean_color(target) if color is None else color
        return self.method.fn(source, target, **options)


def bind(method: str | Method, model: str | os.PathLike | None = None) -> BoundMethod:
    """``method`` (a name or a :class:`Method`) with its model file (default: its own) loaded, or from the cache.

    Raises:
        TransferError: an unknown method, a model for a method without one, or a missing or bad model file.
    """
    spec = get_method(method) if isinstance(method, str) else method
    return BoundMethod(spec, _model_option(spec, model))


# ---------------------------------------------------------------- the package's methods


def _load_huenet(path: Path) -> UNetGenerator:
    return inference_generator(load_generator(path))


def _huenet(source: Tensor, target: Tensor, *, model: UNetGenerator) -> Tensor:
    return paint(model, source, target)


register_method("huenet", _huenet, label="Hue-Net", needs_model=True, default_model=DEFAULT_MODEL,
                load_model=_load_huenet, learned=True, hue_only=True, spatial_target=True, shipped_model=SHIPPED_MODEL,
                description="the trained Hue-Net generator paints a new hue; saturation and value stay the source's")
register_method("reinhard", lambda source, target: reinhard(source, target), label="Reinhard",
                description="Reinhard et al. 2001: mean and std of each l-alpha-beta channel become the target's")
register_method("histmatch", lambda source, target: hue_histogram_matching(source, target), label="hue hist. match",
                hue_only=True,
                description="cyclic hue histogram matching; saturation and value stay the source's")
register_method("feature-matching", lambda source, target, *, color: feature_matching(source, color),
                label="feature match.", uses_color=True, max_megapixels=FEATURE_MATCHING_MAX_MEGAPIXELS,
                description="Soiffer & Zhang 2018, 3.1: gradient descent on the pixels towards a mean colour while "
                            "keeping EfficientNet-Lite0 features (about 6 s per 256 x 256 image on 2 CPU cores)")
register_method("color-gan", lambda source, target, *, color, model: color_gan(source, color, model=model),
                label="colour GAN", needs_model=True, default_model=DEFAULT_COLOR_GAN, load_model=load_color_gan,
                uses_color=True, learned=True,
                description="Soiffer & Zhang 2018, 3.2: a colour-conditioned WGAN-GP generator recolours towards a "
                            "mean colour")
