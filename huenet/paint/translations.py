"""A network's output averaged over small translations of its input: the grid pattern of its strided layers removed.

A U-Net's strided convolutions and transposed convolutions see an image on a grid of 2, 4, 8, ... pixels, and
where its input is ambiguous (a blue sky under an orange target) Hue-Net paints that grid: a lattice of
alternating hues with a period of a few pixels (``docs/full_resolution.md`` shows it). The lattice is not in the
photo; at a photo's full size, lifted from a 96 px working size, each of its dots would be a blotch 40 pixels wide.
Running the network on the input shifted by ``(dy, dx)`` for ``dy, dx < steps`` and averaging the outputs, each
shifted back, puts every pixel at each phase of the last two layers' grids once, so the lattice averages out (the
self-ensembles of super-resolution networks, e.g. Lim et al., EDSR, CVPR workshops 2017, average over flips and
rotations for the same reason). Hue is averaged as a unit vector (the red seam at hue 0 = 1 is not averaged into
cyan), other outputs as RGB.

A shifted input is the image reflect-padded by ``dy`` rows on top and ``dx`` columns on the left and cropped back to
its size, so every copy has the image's size and the copies run as one batch; output pixel ``(i, j)`` of a copy is
the image's ``(i - dy, j - dx)``, and the last ``dy`` rows and ``dx`` columns of the image are averaged over the
copies that hold them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from huenet.core.checks import check_int
from huenet.core.color import hsv_to_rgb, rgb_to_hsv

__all__ = ["TRANSLATION_STEPS", "translation_mean"]

TRANSLATION_STEPS = 4
"""Shifts 0-3 in each direction, 16 runs, for the lattice's periods of 2 and 4 pixels; what 1 x 1 (the raw network),
2 x 2 and 8 x 8 give on a photo is in ``reports/benchmarks/transfer.md``."""


def _shifted(image: Tensor, dy: int, dx: int) -> Tensor:
    height, width = image.shape[-2:]
    return F.pad(image, [dx, 0, dy, 0], mode="reflect")[..., :height, :width] if dy or dx else image


def translation_mean(run: Callable[[Tensor, Tensor | None], Tensor], source: Tensor, target: Tensor | None = None,
                     *, steps: int = TRANSLATION_STEPS, hue_only: bool = False,
                     spatial_target: bool = False) -> Tensor:
    """The mean of ``run(source, target)`` over the input shifted by 0 to ``steps - 1`` pixels each way.

    Args:
        run: a method, ``(B, 3, h, w)`` source (and target) to ``(B, 3, h, w)`` RGB output.
        source: ``(1, 3, h, w)`` RGB in [0, 1]; shifts must be smaller than its sides.
        target: passed to ``run``; with ``spatial_target`` it is an image aligned with the source (Hue-Net's hue
            map), resized to the source's size with nearest neighbours (as Hue-Net resizes it) and shifted along.
        steps: shifts per direction; 1 is ``run`` itself.
        hue_only: the method changes only the hue: average the hue as a unit vector and keep the source's S and V.

    Returns:
        ``(1, 3, h, w)`` RGB.

    >>> image = torch.rand(1, 3, 8, 8)
    >>> bool(torch.allclose(translation_mean(lambda s, t: s, image), image))  # a pointwise method is unchanged
    True
    """
    check_int(steps, "steps", 1, min(source.shape[-2:]))  # at most the image's shorter side
    if steps == 1:
        return run(source, target)
    if spatial_target and target is not None:
        target = F.interpolate(target, size=source.shape[-2:], mode="nearest")
    shifts = [(dy, dx) for dy in range(steps) for dx in range(steps)]
    sources = torch.cat([_shifted(source, dy, dx) for dy, dx in shifts])
    targets = target if target is None or not spatial_target else torch.cat(
        [_shifted(target, dy, dx) for dy, dx in shifts])
    if targets is not None and targets.shape[0] != sources.shape[0]:
        targets = targets.expand(sources.shape[0], *targets.shape[1:])
    outputs = run(sources, targets)
    if hue_only:
        angle = 2 * math.pi * rgb_to_hsv(outputs)[:, :1]
        outputs = torch.cat((torch.cos(angle), torch.sin(angle)), 1)
    height, width = source.shape[-2:]
    total = torch.zeros(1, outputs.shape[1], height, width, dtype=outputs.dtype)
    count = torch.zeros(1, 1, height, width, dtype=outputs.dtype)
    for output, (dy, dx) in zip(outputs, shifts):
        total[..., : height - dy, : width - dx] += output[:, dy:, dx:]
        count[..., : height - dy, : width - dx] += 1
    if not hue_only:
        return total / count
    hue = torch.remainder(torch.atan2(total[:, 1:], total[:, :1]) / (2 * math.pi), 1.0)
    return hsv_to_rgb(torch.cat((hue, rgb_to_hsv(source)[:, 1:]), 1))
