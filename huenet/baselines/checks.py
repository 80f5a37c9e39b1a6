"""Argument checks that several baselines share, so that they refuse bad input with the same messages."""

from __future__ import annotations

from torch import Tensor

from huenet.color import check_images

__all__ = ["check_rgb", "check_source_target", "target_colors"]


def check_rgb(x: Tensor, name: str) -> None:
    """Raise a one-line ``ValueError`` unless ``x`` is a non-empty ``(B, 3, H, W)`` floating tensor."""
    check_images(x, name)
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")


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
