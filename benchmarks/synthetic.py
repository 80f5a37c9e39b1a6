"""Synthetic training batches for the step benchmarks (no data set needed, so they run on a bare machine)."""

from __future__ import annotations

import torch
from torch import Tensor

from huenet.core.color import rgb_to_hsv

__all__ = ["hsv_pairs"]


def hsv_pairs(batch: int, size: int, device: torch.device | str = "cpu", *,
              channels_last: bool = False) -> tuple[Tensor, Tensor]:
    """Seeded random HSV source and target batches ``(batch, 3, size, size)`` on ``device``."""
    g = torch.Generator().manual_seed(0)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    source, target = (rgb_to_hsv(torch.rand(batch, 3, size, size, generator=g)) for _ in range(2))
    return tuple(x.to(device, memory_format=memory_format) for x in (source, target))
