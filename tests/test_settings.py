"""huenet.pipeline.settings: every bad setting is refused before anything runs, one line naming its key path."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import typing
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from huenet.baselines.color_gan import ColorGANConfig
from huenet.core.histograms import IMPLS
from huenet.core.losses import EMD_FORMS, EMD_REDUCTIONS
from huenet.data.pairs import FLIPS
from huenet.nets.hue_net import PatchDiscriminator, UNetGenerator
from huenet.pipeline.settings import GROUPS, ParamsError, TrainConfigFields, problems, require
from huenet.training.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _edited(edit: Callable[[dict], None]) -> dict:
    params = copy.deepcopy(PARAMS)
    edit(params)
    return params


def _set(key: str, value: object) -> Callable[[dict], None]:
    def edit(params: dict) -> None:
        *parents, last = key.split(".")
        for part in parents:
            params = params[part]
        params[last] = value

    return edit


def test_the_committed_params_have_no_problem() -> None:
    assert problems(PARAMS) == []


# Each fault found in a fresh clone (issue 37), as the user wrote it, and the line that refuses it.
FAULTS = {
    "text for a number": (_set("train.config.lambda_mi", "abc"), "train.config.lambda_mi: 'abc' is not a number"),
    "a negative limit": (_set("data.limit", -5), "data.limit: -5 is not >= 0"),
    "no bootstrap": (_set("table1.n_boot", 0), "table1.n_boot: 0 is not >= 1"),
    "negative pairs": (_set("train.eval_pairs", -4), "train.eval_pairs: -4 is not >= 1"),
    "dropout above one": (_set("train.config.dropout", 1.5), "train.config.dropout: 1.5 is not in [0, 1)"),
    "crop above the cache": (_set("train.crop_size", 128),
                             "train.crop_size: 128 is more than data.load_size, 72 (crops are cut from the cached "
                             "images)"),
    "negative steps": (_set("train.config.steps", -1), "train.config.steps: -1 is not >= 1"),
    # and more of the same kinds
    "a typo": (_set("train.config.lamda_mi", 3), "train.config.lamda_mi: unknown key"),
    "a variant's value": (_set("train.variants.no_mi.lambda_mi", -1), "train.variants.no_mi.lambda_mi: -1 is not >= 0"),
    "a variant's typo": (_set("train.variants.full_seed1", {"sed": 1}), "train.variants.full_seed1.sed: unknown key"),
    "no variant": (_set("train.variants", {}), "train.variants: must not be empty"),
    "a missing key": (lambda p: p["ablations"].pop("seed"), "ablations.seed: missing"),
    "a missing group": (lambda p: p.pop("histogram_layers"), "histogram_layers: missing"),
    "an unknown group": (_set("dogs", {"limit": 0}),
                         "dogs: unknown group (known: data, histogram_layers, train, color_gan, ablations, table1, "
                         "cars)"),
    "a cars run's typo": (_set("cars.variants.no_mi", {"lamda_mi": 0}), "cars.variants.no_mi.lamda_mi: unknown key"),
    "a cars fraction": (_set("cars.data.test_fraction", 0), "cars.data.test_fraction: 0 is not in (0, 1)"),
    "a cars run the U-Net cannot halve": (_set("cars.variants.full", {"depth": 7}),
                                          "train.crop_size: 64 is not a multiple of 2 ** cars.variants.full.depth "
                                          "= 128 (the U-Net halves it that many times)"),
    "true for an integer": (_set("data.seed", True), "data.seed: True is not an integer"),
    "a float for an integer": (_set("data.load_size", 72.0), "data.load_size: 72.0 is not an integer"),
    "a number for true": (_set("train.config.amp", 1), "train.config.amp: 1 is not true or false"),
    "NaN": (_set("train.config.lr", float("nan")), "train.config.lr: nan is not >= 0"),
    "a fraction of one": (_set("data.test_fraction", 1.0), "data.test_fraction: 1.0 is not in (0, 1)"),
    "a beta of one": (_set("color_gan.config.beta2", 1), "color_gan.config.beta2: 1 is not in [0, 1)"),
    "an unknown form": (_set("train.config.emd_form", "sqrt"),
                        "train.config.emd_form: 'sqrt' is not 'root' or 'squared'"),
    "an unknown device": (_set("color_gan.config.device", "gpu"),
                          "color_gan.config.device: 'gpu' is not auto or a torch device (cpu, cuda, cuda:1, ...)"),
    "no critic layer": (_set("color_gan.config.critic_widths", []),
                        "color_gan.config.critic_widths: must not be empty"),
    "a list of text": (_set("color_gan.config.critic_fc", ["a"]),
                       "color_gan.config.critic_fc.0: 'a' is not an integer"),
    "PyYAML's text": (_set("train.config.lr", "1e-4"),
                      "train.config.lr: '1e-4' is text to PyYAML, which the stages read with: write 1.0e-4"),
    "a crop the U-Net cannot halve": (_set("train.variants.full_seed2", {"seed": 2, "depth": 7}),
                                      "train.crop_size: 64 is not a multiple of 2 ** train.variants.full_seed2.depth "
                                      "= 128 (the U-Net halves it that many times)"),
    "a batch split unevenly": (_set("train.nproc_per_node", 3),
                               "train.config.batch_size: 8 is not a multiple of train.nproc_per_node, 3 (each "
                               "process trains an equal share)"),
    "more pairs shown than scored": (_set("ablations.shown_pairs", 300),
                                     "ablations.shown_pairs: 300 is more than ablations.eval_pairs, 200 (the first "
                                     "of the pairs)"),
    "a colour-GAN crop the critic pools away": (
        _set("color_gan.config.crop_size", 4),
        "color_gan.config.crop_size: 4 is less than 2 ** len(critic_widths) = 8 (one pixel after the critic's "
        "poolings)"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_bad_setting_is_one_line_naming_its_key(fault: str) -> None:
    edit, line = FAULTS[fault]
    assert problems(_edited(edit)) == [line]


def test_every_problem_is_listed_and_a_relation_waits_for_its_groups() -> None:
    params = _edited(lambda p: (_set("data.load_size", "big")(p), _set("train.crop_size", 128)(p),
                                _set("table1.threads", 0)(p)))
    # train.crop_size against data.load_size is not checked while data.load_size is no number
    assert problems(params) == ["data.load_size: 'big' is not an integer", "table1.threads: 0 is not >= 1"]
    assert problems(params, ["table1"]) == ["table1.threads: 0 is not >= 1"]


def test_a_stage_checks_its_own_group_and_the_relations_with_the_others() -> None:
    params = _edited(lambda p: (_set("table1.n_boot", 0)(p), _set("train.crop_size", 128)(p)))
    assert problems(params, ["data"]) == [  # data.load_size is too small for train's crops
        "train.crop_size: 128 is more than data.load_size, 72 (crops are cut from the cached images)"]
    assert problems({"table1": params["table1"]}, ["table1"]) == ["table1.n_boot: 0 is not >= 1"]
    assert problems({"dogs": {"limit": 0}}, ["dogs"]) == [  # a group without a schema is never let through
        "dogs: unknown group (known: data, histogram_layers, train, color_gan, ablations, table1, cars)"]
    # a stage that reads a part of a group checks that part only
    assert problems({"cars": {"data": {**PARAMS["cars"]["data"], "limit": -1}}}, ["cars.data"]) == [
        "cars.data.limit: -1 is not >= 0"]
    assert problems({"cars": {"table1": PARAMS["cars"]["table1"]}}, ["cars.table1"]) == []
    assert problems({"cars": {}}, ["cars.table1"]) == ["cars.table1: missing"]
    assert problems({}, ["cars.tables"]) == [
        "cars.tables: unknown group (known: data, histogram_layers, train, color_gan, ablations, table1, cars)"]
    with pytest.raises(ParamsError) as err:
        require(params, "train", "table1")
    assert err.value.problems == ["table1.n_boot: 0 is not >= 1", "train.crop_size: 128 is more than "
                                  "data.load_size, 72 (crops are cut from the cached images)"]  # groups, then relations
    assert str(err.value) == "\n".join(err.value.problems)


def test_a_params_file_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("train:\n  config: [1,\n")
    with pytest.raises(ParamsError, match=r"params.yaml: not valid YAML \(line 3\)"):
        require(tmp_path / "params.yaml", "train")
    with pytest.raises(ParamsError, match="No such file or directory"):
        require(tmp_path / "missing.yaml", "train")


# ------------------------------------------------------- the schema against the code it guards


@pytest.mark.parametrize(("schema", "config"), [(TrainConfigFields, TrainConfig),
                                                (GROUPS["color_gan"].model_fields["config"].annotation,
                                                 ColorGANConfig)])
def test_the_config_schemas_hold_every_field_of_their_config(schema, config) -> None:
    assert list(schema.model_fields) == [f.name for f in dataclasses.fields(config)]


def test_the_choices_are_the_codes_own() -> None:
    fields = TrainConfigFields.model_fields
    choices = {name: typing.get_args(fields[name].annotation) for name in ("emd_form", "emd_reduction",
                                                                            "histogram_impl", "flips")}
    assert choices == {"emd_form": EMD_FORMS, "emd_reduction": EMD_REDUCTIONS, "histogram_impl": IMPLS,
                       "flips": FLIPS}


def test_every_config_the_schema_accepts_builds() -> None:
    for variant in PARAMS["train"]["variants"]:
        TrainConfig(**{**PARAMS["train"]["config"], **(PARAMS["train"]["variants"][variant] or {})})
    ColorGANConfig(**PARAMS["color_gan"]["config"])


def _builds(make: Callable[[], object]) -> bool:
    try:
        make()
    except (ValueError, RuntimeError):
        return False
    return True


# 1.0 is refused too, though torch takes it: a dropout of one drops every feature of the decoder's inner levels
@pytest.mark.parametrize("dropout", [0.0, 0.5, 0.99, 1.5, -0.1])
def test_dropout_is_refused_where_the_network_refuses_it(dropout: float) -> None:
    accepted = not problems(_edited(_set("train.config.dropout", dropout)))
    assert accepted == _builds(lambda: UNetGenerator(width=4, depth=3, dropout=dropout))


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.999, 1.0, -0.5])
def test_adams_betas_are_refused_where_adam_refuses_them(beta: float) -> None:
    accepted = not problems(_edited(_set("train.config.beta2", beta)))
    assert accepted == _builds(lambda: torch.optim.Adam([torch.zeros(1, requires_grad=True)], betas=(0.5, beta)))


@functools.cache
def _networks(depth: int, layers: int) -> tuple[UNetGenerator, PatchDiscriminator]:
    return UNetGenerator(width=2, depth=depth).eval(), PatchDiscriminator(2, layers).eval()


@pytest.mark.slow  # a forward pass at each new size: most of a second each on 2 busy cores
@pytest.mark.parametrize("crop", [12, 16, 24, 32, 48])
@pytest.mark.parametrize(("depth", "layers"), [(3, 2), (4, 3), (3, 4)])
def test_a_crop_is_refused_where_the_networks_fail_on_it(crop: int, depth: int, layers: int) -> None:
    params = _edited(lambda p: (_set("train.crop_size", crop)(p), _set("train.config.depth", depth)(p),
                                _set("train.config.disc_layers", layers)(p)))
    generator, discriminator = _networks(depth, layers)
    x = torch.rand(1, 4, crop, crop)
    with torch.no_grad():
        runs = _builds(lambda: generator(x)) and _builds(lambda: discriminator(x[:, :3]))
    assert (not problems(params)) == runs


# ------------------------------------------------------- each stage checks its group before it loads anything


def _setup_code(notebook: str) -> tuple[str, str]:
    """A notebook's parameters cell and its set-up cell (the next code cell), without IPython's magics."""
    cells = [c for c in json.loads((ROOT / "notebooks" / notebook).read_text())["cells"] if c["cell_type"] == "code"]
    index = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    code = ["".join(line for line in cells[i]["source"] if not line.startswith("%")) for i in (index, index + 1)]
    return code[0], code[1]


def _bad_file(tmp_path: Path, key: str, value: object) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(_edited(_set(key, value))))
    return str(path)


# notebook: (the bad value papermill would pass, the line that stops it)
STAGES = {
    "01-data.ipynb": (lambda tmp: {"limit": -5}, "data.limit: -5 is not >= 0"),
    "02-histogram-layers.ipynb": (lambda tmp: {"threads": 0}, "histogram_layers.threads: 0 is not >= 1"),
    "03-train.ipynb": (lambda tmp: {"params_file": _bad_file(tmp, "train.config.dropout", 1.5)},
                       "train.config.dropout: 1.5 is not in [0, 1)"),
    "03b-color-gan.ipynb": (lambda tmp: {"params_file": _bad_file(tmp, "color_gan.config.lr", "abc")},
                            "color_gan.config.lr: 'abc' is not a number"),
    "04-ablations.ipynb": (lambda tmp: {"shown_pairs": 300},
                           "ablations.shown_pairs: 300 is more than ablations.eval_pairs, 16 (the first of the pairs)"),
    "05-table1.ipynb": (lambda tmp: {"n_boot": 0}, "table1.n_boot: 0 is not >= 1"),
    "06-calibration.ipynb": (lambda tmp: {"params_file": _bad_file(tmp, "train.eval_pairs", -4)},
                             "train.eval_pairs: -4 is not >= 1"),
    "01b-cars-data.ipynb": (lambda tmp: {"validation_fraction": 2},
                            "cars.data.validation_fraction: 2 is not in [0, 1)"),
    "08-cars.ipynb": (lambda tmp: {"n_boot": 0}, "cars.table1.n_boot: 0 is not >= 1"),
}


@pytest.mark.slow  # each set-up cell imports its notebook's modules
@pytest.mark.parametrize("notebook", STAGES)
def test_each_stage_refuses_a_bad_setting_before_it_reads_anything(notebook: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    parameters, setup = _setup_code(notebook)
    bad, line = STAGES[notebook]
    monkeypatch.chdir(tmp_path)  # nothing the cell could build (build/smoke/...) lands in the repository
    monkeypatch.setattr("huenet.paths.project_root", lambda start=None: tmp_path)
    namespace: dict = {}
    exec(parameters, namespace)
    namespace.update(bad(tmp_path))
    with pytest.raises(ParamsError) as err:
        exec(setup, namespace)
    assert err.value.problems == [line]
    assert list(tmp_path.iterdir()) in ([], [tmp_path / "params.yaml"])  # nothing read or written before


@pytest.mark.parametrize(("config", "field", "value", "message"), [
    (TrainConfig, "lambda_mi", "abc", "lambda_mi must be a number >= 0, got 'abc'"),
    (TrainConfig, "lr", float("inf"), "lr must be a number >= 0, got inf"),
    (ColorGANConfig, "color_weight", "abc", "color_weight must be a number >= 0, got 'abc'"),
    (ColorGANConfig, "beta1", 1.0, r"beta1 must be a number in \[0, 1\), got 1.0"),
])
def test_a_config_built_without_the_schema_refuses_text_for_a_number(config, field, value, message) -> None:
    with pytest.raises(ValueError, match=message):  # a ValueError naming the field, not a TypeError
        config(**{field: value})
