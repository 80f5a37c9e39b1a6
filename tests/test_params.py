"""Every params.yaml setting reaches the config of its run; typos are refused, never ignored."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from huenet.baselines.color_gan import STAGE_KEYS as COLOR_GAN_STAGE_KEYS
from huenet.baselines.color_gan import ColorGANConfig
from huenet.training.params import stage_params
from huenet.training.train import STAGE_KEYS, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
STAGES = {"train": (TrainConfig, STAGE_KEYS), "color_gan": (ColorGANConfig, COLOR_GAN_STAGE_KEYS)}


def _params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _changed(value: object) -> object:
    """Another valid value of the same kind."""
    if value is None:  # disc_width: the generator's width
        return 48
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2
    if isinstance(value, list):
        return [v + 1 for v in value]
    return {"squared": "root", "root": "squared", "fast": "dense", "auto": "cpu", "mean": "sum",
            "vertical": "horizontal"}[value]


@pytest.mark.parametrize("group", STAGES)
def test_params_yaml_lists_every_config_field(group):
    config_cls, stage_keys = STAGES[group]
    values = _params()[group]
    assert set(values["config"]) == {f.name for f in dataclasses.fields(config_cls)}
    assert set(values) - {"config", "variants"} == set(stage_keys)


@pytest.mark.parametrize("group", STAGES)
def test_every_value_set_in_params_yaml_reaches_the_config(tmp_path, group):
    config_cls, stage_keys = STAGES[group]
    params = _params()
    changed = {name: _changed(value) for name, value in params[group]["config"].items()}
    params[group]["config"] = changed
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    got, stage = stage_params(tmp_path / "params.yaml", group, config_cls, stage_keys=stage_keys,
                              variant="full" if group == "train" else None)
    for name, value in changed.items():
        assert getattr(got, name) == (tuple(value) if isinstance(value, list) else value), name
    assert stage == {k: params[group][k] for k in stage_keys}


def test_a_variant_replaces_its_fields():
    config, _ = stage_params(ROOT / "params.yaml", "train", TrainConfig, stage_keys=STAGES["train"][1],
                             variant="no_mi")
    full, _ = stage_params(ROOT / "params.yaml", "train", TrainConfig, stage_keys=STAGES["train"][1],
                           variant="full")
    assert config.lambda_mi == 0 and dataclasses.replace(config, lambda_mi=full.lambda_mi) == full


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda g: g["config"].update(lamda_mi=3), "unknown training parameters: lamda_mi|unknown .*lamda_mi"),
        (lambda g: g.update(crop_sise=3), "unknown keys crop_sise"),
        (lambda g: g.pop("eval_pairs"), "missing keys eval_pairs"),
        (lambda g: g["variants"].update(full={"emd_from": "root"}), "emd_from"),
    ],
)
def test_typos_are_refused_with_their_name(tmp_path, edit, message):
    params = _params()
    edit(params["train"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ValueError, match=message):
        stage_params(tmp_path / "params.yaml", "train", TrainConfig, stage_keys=STAGES["train"][1], variant="full")
