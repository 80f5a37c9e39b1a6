"""The GPU profile: ``params_gpu.yaml`` read over ``params.yaml``, checked, as the settings of the job's two passes.

Each run's training config is ``params.yaml``'s ``train.config`` (the CPU profile, whose loss is the calibration's
pick) with the fields of ``params_gpu.yaml``'s ``train.config`` replaced, then the run's own. So the chosen loss is
read where the calibration wrote it, and the GPU file says only what differs. The toy pass replaces a few more
fields (``toy.config``) in every run: the same code at a size that fails in seconds. Table 1's test pairs are drawn
as notebook 05 draws them, from ``params.yaml``'s ``table1.eval_pairs`` and ``table1.seed``.

Every group is strict, as :func:`huenet.training.params.stage_params` is: an unknown or missing key is an error that
names it, so a typo cannot silently leave a setting at its default on a machine lent for minutes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huenet.training.params import config_from_dict, read_group
from huenet.training.train import TrainConfig

__all__ = ["PackSettings", "Run", "PassSettings", "Profile", "read_profile"]


@dataclass(frozen=True)
class PackSettings:
    """What travels (:mod:`huenet.pipeline.gpu.pack`).

    Attributes:
        dir: the pack's folder, relative to the repository root (ignored by git, carried to the GPU machine).
        load_size: side of the square images (the shorter side resized to it, then the centre square).
        train_images: the first of the split's shuffled training list.
        test_pairs: the first of Table 1's test pairs.
        train_quality, test_quality: WebP qualities.
        max_mib: the largest pack, in MiB.
        table1_pairs, table1_seed: how Table 1 draws its test pairs (``params.yaml``'s ``table1``).
    """

    dir: Path
    load_size: int
    train_images: int
    test_pairs: int
    train_quality: int
    test_quality: int
    max_mib: float
    table1_pairs: int
    table1_seed: int


@dataclass(frozen=True)
class Run:
    """One training run: its folder's and its Table 1 row's ``name``, its column title in Figure 6, its config."""

    name: str
    label: str
    config: TrainConfig


@dataclass(frozen=True)
class PassSettings:
    """One pass of the job: the runs trained side by side and how the test pairs are scored.

    ``probe_steps``: the first steps of every run, timed, from which the job plans how many fit before its deadline
    (``config.steps`` is the most). ``train_images`` and ``test_pairs``: the first of the pack's.
    """

    runs: tuple[Run, ...]
    crop_size: int
    threads: int
    probe_steps: int
    train_images: int
    test_pairs: int
    n_boot: int
    seed: int
    figure_rows: int


@dataclass(frozen=True)
class Profile:
    """The whole job: the pack, the toy pass, the real pass and the wall-clock budget (seconds from the start)."""

    pack: PackSettings
    toy: PassSettings
    full: PassSettings
    wall_s: float
    after_training_s: float


def _group(values: Any, keys: Sequence[str], where: str) -> dict[str, Any]:
    """``values`` as a dict holding exactly ``keys``; the error names what is unknown or missing."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{where} must be a mapping, got {values!r}")
    unknown, missing = sorted(set(values) - set(keys)), sorted(set(keys) - set(values))
    if unknown or missing:
        problem = f"unknown keys {', '.join(unknown)}" if unknown else f"missing keys {', '.join(missing)}"
        raise ValueError(f"{where}: {problem}")
    return dict(values)


def _runs(base: Mapping[str, Any], runs: Any, where: str, toy: Mapping[str, Any]) -> tuple[Run, ...]:
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"{where} must map run names to their label and config")
    out = []
    for name, spec in runs.items():
        spec = _group(spec, ("label", "config"), f"{where}.{name}")
        fields = {**base, **(spec["config"] or {}), **toy}
        config = config_from_dict(TrainConfig, fields, f"training ({where}.{name})")
        out.append(Run(str(name), str(spec["label"]), config))
    return tuple(out)


def read_profile(gpu_params: str | os.PathLike = "params_gpu.yaml",
                 params: str | os.PathLike = "params.yaml") -> Profile:
    """The GPU profile of ``gpu_params`` over ``params``'s training config and Table 1's pairs.

    Raises:
        ValueError: a missing or unknown key, or settings that cannot run together (naming them).
    """
    where = str(gpu_params)
    pack = _group(read_group(gpu_params, "pack"), ("dir", "load_size", "train_images", "test_pairs", "train_quality",
                                                   "test_quality", "max_mib"), f"{where}: pack")
    train = _group(read_group(gpu_params, "train"), ("config", "crop_size", "threads", "probe_steps", "runs"),
                   f"{where}: train")
    score = _group(read_group(gpu_params, "score"), ("n_boot", "seed", "figure_rows"), f"{where}: score")
    toy = _group(read_group(gpu_params, "toy"), ("config", "probe_steps", "train_images", "test_pairs", "n_boot"),
                 f"{where}: toy")
    budget = _group(read_group(gpu_params, "budget"), ("wall_s", "after_training_s"), f"{where}: budget")
    table1 = read_group(params, "table1")
    base = {**read_group(params, "train")["config"], **(train["config"] or {})}

    pack_settings = PackSettings(dir=Path(pack["dir"]), load_size=pack["load_size"],
                                 train_images=pack["train_images"], test_pairs=pack["test_pairs"],
                                 train_quality=pack["train_quality"], test_quality=pack["test_quality"],
                                 max_mib=pack["max_mib"], table1_pairs=table1["eval_pairs"],
                                 table1_seed=table1["seed"])
    full = PassSettings(runs=_runs(base, train["runs"], f"{where}: train.runs", {}), crop_size=train["crop_size"],
                        threads=train["threads"], probe_steps=train["probe_steps"],
                        train_images=pack["train_images"], test_pairs=pack["test_pairs"], **score)
    toy_pass = dataclasses.replace(
        full, runs=_runs(base, train["runs"], f"{where}: train.runs", toy["config"] or {}),
        probe_steps=toy["probe_steps"], train_images=toy["train_images"], test_pairs=toy["test_pairs"],
        n_boot=toy["n_boot"])
    profile = Profile(pack=pack_settings, toy=toy_pass, full=full, wall_s=budget["wall_s"],
                      after_training_s=budget["after_training_s"])
    _check(profile, where)
    return profile


def _check(profile: Profile, where: str) -> None:
    """Refuse settings that would fail only minutes into the job."""
    pack = profile.pack
    if pack.test_pairs > pack.table1_pairs:
        raise ValueError(f"{where}: pack.test_pairs {pack.test_pairs} > Table 1's {pack.table1_pairs} pairs")
    if not 0 < profile.after_training_s < profile.wall_s:
        raise ValueError(f"{where}: budget.after_training_s must lie in (0, wall_s)")
    for name, settings in (("train", profile.full), ("toy", profile.toy)):
        if not 1 <= settings.test_pairs <= pack.test_pairs or not 2 <= settings.train_images <= pack.train_images:
            raise ValueError(f"{where}: {name} takes {settings.train_images} training images and "
                             f"{settings.test_pairs} test pairs; the pack holds {pack.train_images} and "
                             f"{pack.test_pairs}")
        if not 1 <= settings.crop_size <= pack.load_size:
            raise ValueError(f"{where}: crop_size {settings.crop_size} must lie in [1, {pack.load_size}]")
        for run in settings.runs:
            if not 1 <= settings.probe_steps <= run.config.steps:
                raise ValueError(f"{where}: {name} run {run.name}: probe_steps {settings.probe_steps} must lie in "
                                 f"[1, steps = {run.config.steps}]")
            if run.config.batch_size > settings.train_images:
                raise ValueError(f"{where}: {name} run {run.name}: batch_size {run.config.batch_size} > "
                                 f"{settings.train_images} training images")
            if settings.crop_size % 2 ** run.config.depth:
                raise ValueError(f"{where}: {name} run {run.name}: crop_size {settings.crop_size} is no multiple "
                                 f"of 2 ** depth = {2 ** run.config.depth}")
