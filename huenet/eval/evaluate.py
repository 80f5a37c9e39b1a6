"""Table 1: every method scored from its RGB output by the same metrics.

The methods are those of the registry, ``huenet.paint.methods``, by the same names. A *row* of Table 1
(:class:`Row`) is a registered method with its model file: several Hue-Net models can be rows, as the
full model and the one trained without the MI loss are (:func:`table1_rows`, the keys of
``reports/table1.json``). :meth:`Row.load` gives the row as a function ``(source_rgb, target_rgb) ->
output_rgb`` on ``(B, 3, H, W)`` float tensors in [0, 1]; :func:`score` runs the metrics of
:mod:`huenet.eval.metrics` on each row's outputs for the same pairs, and :func:`summarise` turns the per-pair
values into means with bootstrap 95% confidence intervals, shaped as ``reports/table1.json``. A model trained
with several seeds is one row whose intervals resample seeds as well as pairs (:func:`seed_groups`). Writing them
up (tables, Figure 6, the paper's claims) is :mod:`huenet.pipeline.report`'s, so this module needs only the base
dependencies.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from huenet.core.color import hsv_to_rgb
from huenet.data.cache import ImageCache
from huenet.data.pairs import PairDataset
from huenet.eval.context import context_dependence
from huenet.eval.edges import edge_ssim
from huenet.eval.hue_noise import hue_noise
from huenet.eval.kid import kernel_inception_distance
from huenet.eval.metrics import (
    bootstrap_ci,
    grey_ssim,
    hue_emd,
    hue_relative_mi,
    image_bootstrap_ci,
    realism_fd,
    seed_bootstrap_ci,
)
from huenet.eval.rgbuv import rgbuv_hellinger
from huenet.nets.efficientnet_lite0 import FeatureExtractor
from huenet.paint.methods import BoundMethod, bind, get_method

__all__ = ["CONTEXT_SCALE", "KID_SUBSETS", "KID_SUBSET_SIZE", "Row", "table1_rows", "cars_rows", "seed_groups",
           "labels", "PairFn", "apply_method", "score", "summarise", "fixed_pairs", "fixed_pair_images"]

# KID's subsets (Binkowski et al. 2018): 100 draws of at most 500 images from each side, so that the spread comes
# from both the outputs and the reference even where one of them has fewer images than a subset would take.
KID_SUBSETS, KID_SUBSET_SIZE = 100, 500
# Context dependence is scored at the coarse scale: per-pixel hue noise averages out over 4 x 4 blocks,
# painting by region does not (huenet.eval.context).
CONTEXT_SCALE = 4

PairFn = Callable[[Tensor, Tensor], Tensor]
"""``(source_rgb, target_rgb) -> output_rgb`` on batches of pairs, e.g. :meth:`Row.load`'s."""


@dataclass(frozen=True)
class Row:
    """A row of Table 1: the registered method ``method`` with its model file (``None``: none, or its default).

    ``own_label`` names the row in figures where the method's label would not tell two rows apart.
    """

    method: str
    model: str | os.PathLike | None = None
    own_label: str | None = None

    @property
    def label(self) -> str:
        """The row's short name in figures and tables: its own, else its method's."""
        return self.own_label or get_method(self.method).label

    def load(self) -> BoundMethod:
        """The method with its model loaded: ``(source, target) -> output`` aiming a colour method at the
        target's mean colour."""
        return bind(self.method, self.model)


def table1_rows(full_model: str | os.PathLike, no_mi_model: str | os.PathLike,
                color_gan_model: str | os.PathLike, *, full_seeds: Sequence[str | os.PathLike] = ()) -> dict[str, Row]:
    """Every row that notebooks 04 and 05 compare, by the keys of ``reports/table1.json``.

    Hue-Net with and without the MI loss (two ``generator.pt`` files), Reinhard, hue histogram matching, and
    Soiffer & Zhang's colour GAN (its ``generator.pt``) and feature matching, both aimed at the target's mean
    colour. Keys are the methods' registered names, and ``huenet-no-mi`` for the second Hue-Net model.
    ``full_seeds``: the full model's other seeds, rows ``huenet-seed1``, ``huenet-seed2``, ... that
    :func:`summarise` folds into row ``huenet`` (:func:`seed_groups`).
    """
    return {
        "huenet": Row("huenet", full_model),
        **{f"huenet-seed{i}": Row("huenet", path, own_label=f"Hue-Net seed {i}")
           for i, path in enumerate(full_seeds, 1)},
        "huenet-no-mi": Row("huenet", no_mi_model, own_label="w/o MI"),
        "reinhard": Row("reinhard"),
        "histmatch": Row("histmatch"),
        "color-gan": Row("color-gan", color_gan_model),
        "feature-matching": Row("feature-matching"),
    }


def cars_rows(cars_model: str | os.PathLike, cars_no_mi_model: str | os.PathLike,
              flowers_model: str | os.PathLike) -> dict[str, Row]:
    """The rows of the cars' Table 1 (notebook 08): Hue-Net trained on cars with and without the MI loss, the
    flowers' Hue-Net on the cars (across datasets), Reinhard and hue histogram matching. ``huenet`` and
    ``huenet-no-mi`` are the cars models, so the claims read the cars table by the flowers' keys."""
    return {
        "huenet": Row("huenet", cars_model, own_label="Hue-Net (cars)"),
        "huenet-no-mi": Row("huenet", cars_no_mi_model, own_label="w/o MI (cars)"),
        "huenet-flowers": Row("huenet", flowers_model, own_label="Hue-Net (flowers)"),
        "reinhard": Row("reinhard"),
        "histmatch": Row("histmatch"),
    }


def seed_groups(rows: Mapping[str, object]) -> dict[str, list[str]]:
    """Row ``huenet`` and its other seeds' rows (:func:`table1_rows`), as :func:`summarise` groups them.

    >>> seed_groups({"huenet": 0, "huenet-seed1": 0, "reinhard": 0})
    {'huenet': ['huenet', 'huenet-seed1']}
    """
    return {"huenet": ["huenet", *(k for k in rows if k.startswith("huenet-seed"))]} if "huenet" in rows else {}


def labels(rows: Mapping[str, Row]) -> dict[str, str]:
    """Row key -> the row's short name, for figures and tables."""
    return {key: row.label for key, row in rows.items()}


@torch.no_grad()
def apply_method(method: PairFn, source: Tensor, target: Tensor, batch_size: int = 64) -> Tensor:
    """Run ``method`` over ``(N, 3, H, W)`` pairs in chunks: ``(N, 3, H, W)`` outputs in [0, 1]."""
    if source.shape[0] != target.shape[0]:
        raise ValueError(f"{source.shape[0]} sources but {target.shape[0]} targets")
    chunks = [method(source[i : i + batch_size], target[i : i + batch_size]).clamp(0, 1)
              for i in range(0, source.shape[0], batch_size)]
    return torch.cat(chunks)


def _realism(feats: np.ndarray, real_feats: np.ndarray) -> dict:
    """FD and KID (mean and spread over subsets) of one image set against the reference set."""
    kid, spread = kernel_inception_distance(feats, real_feats, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE)
    return {"realism_fd": realism_fd(feats, real_feats), "realism_kid": {"mean": kid, "std": spread}}


def score(
    source: Tensor,
    target: Tensor,
    outputs: Mapping[str, Tensor],
    *,
    features: FeatureExtractor | None = None,
    real: Tensor | None = None,
    real_features: np.ndarray | None = None,
    image_features: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """Per-pair metrics of every method, plus its realism distances (FD and KID) to a reference set.

    Args:
        source, target: ``(N, 3, H, W)`` RGB pairs.
        outputs: method name -> ``(n, 3, H, W)`` RGB outputs for the first ``n <= N`` pairs (a
            method too slow for all of them, e.g. feature matching, is scored on a prefix).
        features: EfficientNet-Lite0 features; with ``real`` it adds the realism distances.
        real: ``(M, 3, H', W')`` real images that are not the sources (notebook 05: training images), the
            reference set of the realism distances.
        real_features: ``features(real)``, computed once by a caller that scores several times.
        image_features: ``"sources"`` and method names -> the features of those images (or of
            longer runs of them: the first rows are used), computed once by a caller that also
            scores a prefix of the pairs.

    Returns:
        ``{"emd_tar_src": (N,), "emd_tar_src_linear": (N,), "rel_mi_src_tar": (N,), "rgbuv_src_tar": (N,),
        "methods": {name: {"emd_tar_out": (N,), "emd_tar_out_linear": (N,), "rel_mi_src_out": (N,), "ssim": (N,),
        "rgbuv_out_tar": (N,), "edge_ssim": (N,), "context": (N,), "realism_fd": float, "realism_kid": {"mean",
        "std"}, "hue_noise": (N,), "hue_noise_excess": (N,)}}}`` (``(n,)`` for a prefix), plus
        ``"hue_noise_src"`` ``(N,)``, the sources' own hue noise, and ``"realism_sources"``: the distances of the
        untouched sources, the floor a method can reach. ``_linear``: the non-cyclic W1; ``rgbuv``: the RGB-uv Hellinger
        distance (:mod:`huenet.eval.rgbuv`); ``edge_ssim``: :mod:`huenet.eval.edges`; ``context``: the coarse context
        dependence (:mod:`huenet.eval.context`, NaN for an undefined pair); ``hue_noise``: the output hue's spread on
        the source's flat pixels (:mod:`huenet.eval.hue_noise`, NaN where the source has no flat region) and its
        excess over the source's own. A Frechet distance from fewer outputs is biased upwards: compare a prefix's at
        equal ``n``.
    """
    result: dict = {"emd_tar_src": hue_emd(target, source), "emd_tar_src_linear": hue_emd(target, source, cyclic=False),
                    "rel_mi_src_tar": hue_relative_mi(source, target), "rgbuv_src_tar": rgbuv_hellinger(source, target),
                    "hue_noise_src": hue_noise(source, source), "methods": {}}
    real_feats = real_features
    if real_feats is None and features is not None and real is not None:
        real_feats = features(real)
    known = image_features or {}

    def features_of(name: str, images: Tensor) -> np.ndarray:
        return known[name][: len(images)] if name in known else features(images)  # type: ignore[misc]

    if real_feats is not None and features is not None:
        result["realism_sources"] = _realism(features_of("sources", source), real_feats)
    for name, out in outputs.items():
        if out.shape[1:] != source.shape[1:] or not 1 <= out.shape[0] <= source.shape[0]:
            raise ValueError(f"method {name!r} returned {tuple(out.shape)}, expected {tuple(source.shape)} "
                             "or a prefix of it")
        n = out.shape[0]
        scores = {"emd_tar_out": hue_emd(target[:n], out), "emd_tar_out_linear": hue_emd(target[:n], out, cyclic=False),
                  "rel_mi_src_out": hue_relative_mi(source[:n], out), "ssim": grey_ssim(source[:n], out),
                  "rgbuv_out_tar": rgbuv_hellinger(out, target[:n]), "edge_ssim": edge_ssim(source[:n], out),
                  "context": context_dependence(source[:n], out, scale=CONTEXT_SCALE),
                  "hue_noise": hue_noise(source[:n], out)}
        scores["hue_noise_excess"] = scores["hue_noise"] - result["hue_noise_src"][:n]
        if real_feats is not None and features is not None:
            scores |= _realism(features_of(name, out), real_feats)
        result["methods"][name] = scores
    return result


def _ci(values: np.ndarray, n_boot: int, seed: int, images: np.ndarray | None = None) -> dict:
    """Mean and bootstrap 95% CI over the defined (non-NaN) pairs, resampling pairs or, with ``images`` (the
    ``(N, 2)`` source and target image of each pair), images; the defined pairs' count where some are undefined."""
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return {"mean": None, "ci95": [None, None], "defined": 0}
    if images is None:
        mean, lo, hi = bootstrap_ci(defined, n_boot=n_boot, seed=seed)
    else:
        ids = images[: values.size]
        mean, lo, hi = image_bootstrap_ci(values, ids[:, 0], ids[:, 1], n_boot=n_boot, seed=seed)
    entry = {"mean": round(mean, 4), "ci95": [round(lo, 4), round(hi, 4)]}
    return entry if defined.size == values.size else entry | {"defined": int(defined.size)}


def _rounded_realism(entry: Mapping) -> dict:
    return {"realism_fd": round(entry["realism_fd"], 2),
            "realism_kid": {k: round(float(v), 5) for k, v in entry["realism_kid"].items()}}


def _seed_ci(rows: Sequence[np.ndarray], n_boot: int, seed: int) -> dict:
    """The seeds' mean, its seed-and-pair bootstrap 95% CI, each seed's mean; the defined pairs per seed if not all."""
    values = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
    mean, lo, hi = seed_bootstrap_ci(values, n_boot=n_boot, seed=seed)
    entry = {"mean": round(mean, 4), "ci95": [round(lo, 4), round(hi, 4)],
             "seed_means": [round(float(np.nanmean(r)), 4) for r in values]}
    defined = int(round(np.isfinite(values).sum() / len(values)))
    return entry if defined == values.shape[1] else entry | {"defined": defined}


def _seed_entry(members: Sequence[Mapping], n_boot: int, seed: int) -> dict:
    """A row trained with several seeds: per-pair metrics over seeds and pairs, realism averaged over seeds."""
    first = members[0]
    entry: dict = {"pairs": int(len(first["emd_tar_out"])), "seeds": len(members)}
    entry |= {k: _seed_ci([m[k] for m in members], n_boot, seed) for k in first if not k.startswith("realism_")}
    if "realism_fd" in first:
        entry |= _rounded_realism({
            "realism_fd": float(np.mean([m["realism_fd"] for m in members])),
            "realism_kid": {stat: float(np.mean([m["realism_kid"][stat] for m in members]))
                            for stat in ("mean", "std")}})
    return entry


def summarise(scores: Mapping, *, n_boot: int = 2000, seed: int = 0,
              seeds: Mapping[str, Sequence[str]] | None = None, images: Tensor | None = None) -> dict:
    """Means and percentile-bootstrap 95% CIs of :func:`score`'s per-pair values (the table1.json shape).

    ``images``: ``(N, 2)`` the source and target image of each pair (:func:`fixed_pair_images`); when given, the
    intervals resample images instead of pairs (:func:`huenet.eval.metrics.image_bootstrap_ci`), for pairs drawn
    from few images (the cars' 250 test images). Rows of several seeds are not folded then.

    ``seeds``: row -> the methods of ``scores`` that are its training seeds, itself first (:func:`seed_groups`).
    Such a row's entry is over all its seeds, its intervals resample seeds and pairs
    (:func:`huenet.eval.metrics.seed_bootstrap_ci`) and list each seed's mean (``seed_means``); realism is the seeds'
    mean. Each seed's own entry, pairs resampled only, goes under ``seed_runs[row]``; the other seeds are no
    rows of their own.
    """
    ids = None if images is None else np.asarray(images)
    summary = {
        "pairs": int(len(scores["emd_tar_src"])),
        "emd_tar_src": _ci(scores["emd_tar_src"], n_boot, seed, ids),
        "emd_tar_src_linear": _ci(scores["emd_tar_src_linear"], n_boot, seed, ids),
        "rel_mi_src_tar": _ci(scores["rel_mi_src_tar"], n_boot, seed, ids),
        "rgbuv_src_tar": _ci(scores["rgbuv_src_tar"], n_boot, seed, ids),
        "hue_noise_src": _ci(scores["hue_noise_src"], n_boot, seed, ids),
        "methods": {},
    }
    if "realism_sources" in scores:
        summary["realism_sources"] = _rounded_realism(scores["realism_sources"])
        summary["kid_subsets"] = [KID_SUBSETS, KID_SUBSET_SIZE]
    groups = {row: list(members) for row, members in (seeds or {}).items() if len(members) > 1}
    if groups and images is not None:
        raise ValueError("resampling images folds no seeds: give seeds or images, not both")
    folded = {m for members in groups.values() for m in members[1:]}
    runs: dict = {}
    for name, values in scores["methods"].items():
        entry: dict = {"pairs": int(len(values["emd_tar_out"]))}
        entry |= {k: _ci(v, n_boot, seed, ids) for k, v in values.items() if not k.startswith("realism_")}
        if "realism_fd" in values:
            entry |= _rounded_realism(values)
        runs[name] = entry
        if name not in folded:
            summary["methods"][name] = entry
    for row, members in groups.items():
        summary["methods"][row] = _seed_entry([scores["methods"][m] for m in members], n_boot, seed)
        summary.setdefault("seed_runs", {})[row] = {m: runs[m] for m in members}
    return summary


def fixed_pair_images(cache: ImageCache, names: Sequence[str], *, n_pairs: int, seed: int) -> Tensor:
    """``(n_pairs, 2)`` the cache positions of the source and target image of each of :func:`fixed_pairs`' pairs
    (the same arguments): which pairs share an image, for :func:`summarise`'s ``images``."""
    return PairDataset(cache, names, crop_size=1, mode="eval", seed=seed, n_pairs=n_pairs).pairs()


def fixed_pairs(cache: ImageCache, names: Sequence[str], *, crop_size: int, n_pairs: int,
                seed: int) -> tuple[Tensor, Tensor]:
    """The fixed, seeded (source, target) test pairs as RGB: two ``(n_pairs, 3, crop, crop)`` tensors.

    Centre crops, no flips (:class:`huenet.data.pairs.PairDataset` in eval mode), so the
    same arguments always give the same images.
    """
    pairs = PairDataset(cache, names, crop_size=crop_size, mode="eval", seed=seed, n_pairs=n_pairs)
    batch = pairs.batch(torch.arange(n_pairs))
    return hsv_to_rgb(batch["source"]), hsv_to_rgb(batch["target"])
