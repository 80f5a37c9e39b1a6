"""A trained run scored on validation pairs: the numbers notebook 03 reports, and the headline the calibration reads.

Every choice of settings is made on these numbers (never on test pairs). ``emd_ratio`` is W1(target, output) /
W1(target, source), below 1 when the output's hues are closer to the target's than the source's are; the headline
(:func:`headline`, a DVC metric, ``reports/metrics/train_<run>.json``) is what
:func:`huenet.pipeline.calibration.experiment_rows` turns into a row of ``reports/calibration.csv``, with the split it
was scored on and the CPU it ran on.

>>> rgb = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
>>> sorted(headline(validation_numbers(rgb, rgb.flip(0), rgb), cpu="a CPU"))
['cpu', 'emd_ratio', 'emd_tar_out', 'grey_ssim', 'rel_mi_src_out', 'rel_mi_src_out_hi', 'rel_mi_src_out_lo', 'split']
"""

from __future__ import annotations

from collections.abc import Mapping

import torch  # noqa: F401  (the doctest's)
from torch import Tensor

from huenet.eval.metrics import bootstrap_ci, grey_ssim, hue_emd, hue_relative_mi

__all__ = ["HEADLINE", "validation_numbers", "headline"]

HEADLINE = ("emd_ratio", "emd_tar_out", "rel_mi_src_out", "rel_mi_src_out_lo", "rel_mi_src_out_hi", "grey_ssim")
"""The validation numbers a run's DVC metric holds (rounded to 4 digits), beside its split and CPU: the relative MI
with its 95% interval over the pairs, which the claim that the MI loss ties the output to the source compares."""


def validation_numbers(source: Tensor, target: Tensor, output: Tensor) -> dict[str, float | int]:
    """Means over the pairs of the hue EMDs (cyclic W1), relative MIs and grey SSIM, and the EMD ratio.

    Args:
        source, target, output: ``(B, 3, H, W)`` RGB in [0, 1], pair ``b`` in row ``b`` of each.
    """
    mi = hue_relative_mi(source, output)
    _, lo, hi = bootstrap_ci(mi)
    numbers: dict[str, float | int] = {
        "pairs": len(source),
        "emd_tar_src": float(hue_emd(target, source).mean()),
        "emd_tar_out": float(hue_emd(target, output).mean()),
        "rel_mi_src_tar": float(hue_relative_mi(source, target).mean()),
        "rel_mi_src_out": float(mi.mean()),
        "rel_mi_src_out_lo": lo,
        "rel_mi_src_out_hi": hi,
        "grey_ssim": float(grey_ssim(source, output).mean()),
    }
    numbers["emd_ratio"] = numbers["emd_tar_out"] / numbers["emd_tar_src"]
    return numbers


def headline(numbers: Mapping[str, float], *, cpu: str) -> dict[str, float | str]:
    """The DVC metric of a run scored on validation pairs: :data:`HEADLINE` rounded, the split and the CPU
    (the same seed lands elsewhere on another CPU)."""
    return {**{k: round(numbers[k], 4) for k in HEADLINE}, "split": "validation", "cpu": cpu}
