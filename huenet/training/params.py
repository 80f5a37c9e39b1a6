"""A pipeline stage's settings, read from one group of ``params.yaml``.

A training stage's group holds the run's config (every field of the config
dataclass, under ``config``), the stage's own keys beside it (crop size, pairs
scored) and, for stages run once per variant, ``variants``: the config fields
each variant replaces. Nothing is filtered: an unknown key anywhere in the
group is an error that names it, so a typo in ``params.yaml`` or in
``dvc exp run -S`` cannot be ignored silently.

>>> import tempfile, yaml
>>> from huenet.training.train import TrainConfig
>>> path = tempfile.mktemp(suffix=".yaml")
>>> group = {"config": {"steps": 10, "lambda_mi": 25}, "crop_size": 64, "variants": {"no_mi": {"lambda_mi": 0}}}
>>> _ = open(path, "w").write(yaml.safe_dump({"train": group}))
>>> config, stage = stage_params(path, "train", TrainConfig, stage_keys=("crop_size",), variant="no_mi")
>>> config.steps, config.lambda_mi, stage
(10, 0, {'crop_size': 64})
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import yaml

__all__ = ["config_from_dict", "read_group", "stage_params"]

Config = TypeVar("Config")


def config_from_dict(cls: type[Config], values: Mapping[str, Any], what: str) -> Config:
    """``cls(**values)`` for a dataclass, refusing unknown keys with a message that names them."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what} parameters: {', '.join(unknown)}")
    return cls(**values)


def read_group(path: str | os.PathLike, group: str) -> dict[str, Any]:
    """The mapping under ``group`` in the YAML file ``path``."""
    with open(path) as f:
        params = yaml.safe_load(f) or {}
    if not isinstance(params.get(group), Mapping):
        raise ValueError(f"{path} has no params group {group!r}")
    return dict(params[group])


def stage_params(
    path: str | os.PathLike,
    group: str,
    config_cls: type[Config],
    *,
    stage_keys: Sequence[str],
    variant: str | None = None,
    variants_group: str | None = None,
) -> tuple[Config, dict[str, Any]]:
    """The config and the stage's own settings of ``group`` (for ``variant``, if the group has variants).

    Args:
        path: the params file.
        group: its top-level group, e.g. ``"train"``.
        config_cls: the dataclass built from ``group.config`` (unknown fields are refused).
        stage_keys: the keys the group holds beside ``config`` and ``variants``; all required.
        variant: a key of the variants whose fields replace the config's.
        variants_group: the group whose ``variants`` hold ``variant`` (default: ``group``): the cars' runs are
            ``cars.variants`` of ``train.config``.

    Returns:
        ``(config, {key: value for key in stage_keys})``.

    Raises:
        ValueError: a missing or unknown key, naming it.
    """
    values = read_group(path, group)
    allowed = {"config", "variants", *stage_keys}
    unknown = sorted(set(values) - allowed)
    missing = sorted({"config", *stage_keys} - set(values))
    if unknown or missing:
        problem = f"unknown keys {', '.join(unknown)}" if unknown else f"missing keys {', '.join(missing)}"
        raise ValueError(f"params group {group!r} in {path}: {problem}")
    fields = dict(values["config"] or {})
    if variant is not None:
        owner = variants_group or group
        variants = (values if owner == group else read_group(path, owner)).get("variants") or {}
        if variant not in variants:
            raise ValueError(f"params group {owner!r} in {path} has no variant {variant!r}")
        fields.update(variants[variant] or {})
    config = config_from_dict(config_cls, fields, f"{group}.config")
    return config, {key: values[key] for key in stage_keys}
