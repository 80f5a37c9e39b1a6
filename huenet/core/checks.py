"""The package's argument checks of image batches and colours, so that every function refuses bad input alike.

Each raises a one-line ``ValueError`` naming the argument. The colour conversions, the metrics, the
baselines and the feature networks check their tensors with these; the transfer API (``huenet.paint.images``)
turns their ``ValueError`` into a ``TransferError`` for the user.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["check_int", "check_number", "check_images", "check_rgb", "check_unit_images", "check_source_target",
           "target_colors"]

RANGE_TOL = 1e-6
"""Values this far outside [0, 1] are rounding, not a bug (:func:`check_unit_images` clamps them)."""


def check_int(value: object, name: str, least: int = 1, most: int | None = None) -> int:
    """Raise unless ``value`` is an integer (``True`` is not) in ``[least, most]``; return it.

    >>> check_int(3, "steps")
    3
    >>> check_int(True, "steps")
    Traceback (most recent call last):
    ...
    ValueError: steps must be an integer >= 1, got True
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < least or (most is not None and value > most):
        bound = f">= {least}" if most is None else f"in [{least}, {most}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return value


def check_number(value: object, name: str, least: float = 0.0, below: float | None = None) -> float:
    """Raise unless ``value`` is a finite real number (``True`` is not, nor text) ``>= least`` and, given ``below``,
    ``< below``; return it.

    >>> check_number(0.5, "beta1", below=1)
    0.5
    >>> check_number("abc", "lambda_mi")
    Traceback (most recent call last):
    ...
    ValueError: lambda_mi must be a number >= 0, got 'abc'
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < least
            or (below is not None and value >= below)):
        bound = f">= {least:g}" if below is None else f"in [{least:g}, {below:g})"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return value


def check_images(x: Tensor, name: str) -> None:
    """Raise unless ``x`` is a ``(B, 3, H, W)`` floating tensor."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor in [0, 1], got {x.dtype}")


def check_rgb(x: Tensor, name: str) -> None:
    """Raise unless ``x`` is a non-empty ``(B, 3, H, W)`` floating tensor."""
    check_images(x, name)
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")


def check_unit_images(x: Tensor, name: str) -> Tensor:
    """Check a non-empty ``(B, 3, H, W)`` float image batch, finite and in [0, 1]; return it clamped
    (values within :data:`RANGE_TOL` outside the range are let through)."""
    check_rgb(x, name)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -RANGE_TOL or hi > 1 + RANGE_TOL:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return x.clamp(0.0, 1.0)


def check_source_target(source: Tensor, target: Tensor) -> None:
    """Check the images of a transfer: ``(B, 3, H, W)`` source, ``(B or 1, 3, H', W')`` target (any size)."""
    check_images(source, "source")
    check_images(target, "target")
    if target.shape[0] not in (1, source.shape[0]):
        raise ValueError(f"target batch must be 1 or {source.shape[0]}, got {target.shape[0]}")


def target_colors(target_color: Tensor, batch: int) -> Tensor:
    """Check a target colour ``(3,)``, ``(1, 3)`` or ``(B, 3)`` in [0, 1]; return it as ``(B, 3)``."""
    if not isinstance(target_color, Tensor):
        raise ValueError(f"target_color must be a torch.Tensor, got {type(target_color).__name__}")
    c = target_color.reshape(1, 3) if target_color.shape == (3,) else target_color
    if c.ndim != 2 or c.shape[1] != 3 or c.shape[0] not in (1, batch):
        raise ValueError(f"target_color must have shape (3,), (1, 3) or ({batch}, 3), got {tuple(target_color.shape)}")
    if not c.is_floating_point() or not bool(((c >= 0) & (c <= 1)).all()):
        raise ValueError("target_color must be floating RGB in [0, 1]")
    return c.expand(batch, 3)
