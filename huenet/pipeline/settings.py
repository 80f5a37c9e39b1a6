"""``params.yaml`` checked before anything runs: each value's type and range, and the relations between values.

Each group has a schema here (:data:`GROUPS`, pydantic models: strict, so that YAML's ``abc`` is not a number and
``true`` not an integer, and closed, so that a typo is an unknown key), and :data:`RELATIONS` holds the checks that
read more than one value: a crop within the cached images, a crop the U-Net halves ``depth`` times, a batch split
evenly between processes. Every problem is one line that names its key path::

    train.config.dropout: 1.5 is not in [0, 1)

``huenet check`` lists every problem of the file (:func:`problems`). Each stage checks its own group with
:func:`require` before it loads anything (a notebook with the values papermill gave it or the file it reads,
``huenet launch`` with the file), so a bad value stops ``dvc repro`` in seconds with the same line, and no training run
starts. A new group is a model in :data:`GROUPS` and, where its values bound each other or another group's, a
:class:`Relation`.

>>> problems({"table1": {"eval_pairs": 100, "feature_matching_pairs": 20, "seed": 0, "n_boot": 0,
...                      "reference_images": 64, "threads": "two"}}, groups=["table1"])
['table1.n_boot: 0 is not >= 1', "table1.threads: 'two' is not an integer"]
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from huenet.core.histograms import IMPLS
from huenet.core.losses import EMD_FORMS, EMD_REDUCTIONS

__all__ = ["GROUPS", "RELATIONS", "ParamsError", "Relation", "problems", "read_params", "require"]


def _within(low: float, high: float | None = None, *, open_low: bool = False, open_high: bool = False):
    """A finite number from ``low`` (to ``high``), each end included unless open: ``_within(0, 1, open_high=True)``
    is [0, 1)."""
    if high is None:
        text = f"{'>' if open_low else '>='} {low:g}"
    else:
        text = f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"

    def check(value: float) -> float:
        below = value <= low if open_low else value < low
        above = high is not None and (value >= high if open_high else value > high)
        if not math.isfinite(value) or below or above:
            raise ValueError(f"is not {text}")  # after the value as written (:func:`_message`)
        return value

    return AfterValidator(check)


def _device(value: str) -> str:
    """``auto`` or a device torch knows (``cpu``, ``cuda``, ``cuda:1``, ...)."""
    if value != "auto":
        try:
            torch.device(value)
        except RuntimeError:
            raise ValueError("is not auto or a torch device (cpu, cuda, cuda:1, ...)") from None
    return value


Count = Annotated[int, _within(1)]
Natural = Annotated[int, _within(0)]
Weight = Annotated[float, _within(0)]
Positive = Annotated[float, _within(0, open_low=True)]
Share = Annotated[float, _within(0, 1, open_low=True, open_high=True)]
Unit = Annotated[float, _within(0, 1, open_high=True)]  # dropout, Adam's betas
Device = Annotated[str, AfterValidator(_device)]
Sizes = Annotated[list[Count], Field(min_length=1)]


class _Group(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Data(_Group):
    """``data``: notebook 01's parameters."""

    seed: Natural
    test_fraction: Share
    validation_fraction: Unit  # of the images left after the test split
    load_size: Count
    crop_size: Count
    limit: Natural | None  # 0 or null: every image
    batch_size: Annotated[int, _within(6)]  # the notebook shows six of the batch


class HistogramLayers(_Group):
    """``histogram_layers``: notebook 02's parameters."""

    bins: Annotated[int, _within(2)]
    image_size: Count
    kernel_width_ratio: Positive
    seed: Natural
    threads: Count


class TrainConfigFields(_Group):
    """``train.config``: every field of :class:`huenet.training.train.TrainConfig`."""

    width: Count
    depth: Annotated[int, _within(2)]
    dropout: Unit
    disc_width: Count | None
    disc_layers: Count
    batch_size: Count
    steps: Count
    lr: Weight
    beta1: Unit
    beta2: Unit
    emd_form: Literal[EMD_FORMS]
    emd_reduction: Literal[EMD_REDUCTIONS]
    lambda_emd: Weight
    lambda_mi: Weight
    bins: Count
    mi_bins: Count | None
    kernel_width_ratio: Positive
    histogram_impl: Literal[IMPLS]
    # huenet.data.pairs.FLIPS, spelled out: importing it would import torchvision, seconds of `huenet check`
    # (tests/test_settings.py checks that they agree)
    flips: Literal["vertical", "horizontal", "both", "none"]
    seed: Natural
    checkpoint_every: Count
    device: Device
    amp: bool


def _replacements(model: type[_Group]) -> type[_Group]:
    """``model`` with every field optional: what a variant replaces (the fields it sets, ``model_fields_set``)."""
    fields = {name: (Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation, None)
              for name, f in model.model_fields.items()}
    return create_model(f"{model.__name__}Replaced", __base__=_Group, **fields)


TrainVariant = _replacements(TrainConfigFields)


class Train(_Group):
    """``train``: the run's config, stage ``train``'s own keys and the variants, each run of the stage."""

    config: TrainConfigFields
    crop_size: Count
    eval_pairs: Count
    threads: Count
    nproc_per_node: Count
    variants: Annotated[dict[str, TrainVariant | None], Field(min_length=1)]


class ColorGANConfigFields(_Group):
    """``color_gan.config``: every field of :class:`huenet.baselines.color_gan.ColorGANConfig`."""

    noise_dim: Count
    gen_width: Count
    gen_layers: Count
    residual: bool
    critic_widths: Sizes
    critic_fc: Sizes
    crop_size: Count
    batch_size: Count
    steps: Natural
    n_critic: Count
    lr: Weight
    beta1: Unit
    beta2: Unit
    gp_weight: Weight
    color_weight: Weight
    recon_weight: Weight
    seed: Natural
    checkpoint_every: Count
    device: Device


class ColorGAN(_Group):
    """``color_gan``: notebook 03b's config and own keys."""

    config: ColorGANConfigFields
    eval_pairs: Count
    threads: Count


class Ablations(_Group):
    """``ablations``: notebook 04's parameters."""

    eval_pairs: Count
    feature_matching_pairs: Count
    shown_pairs: Count
    seed: Natural
    threads: Count


class Table1(_Group):
    """``table1``: notebook 05's parameters."""

    eval_pairs: Count
    feature_matching_pairs: Count
    seed: Natural
    n_boot: Count
    reference_images: Count
    threads: Count


class CarsData(_Group):
    """``cars.data``: notebook 01b's own parameters (its image and crop sizes are the ``data`` group's)."""

    seed: Natural
    test_fraction: Share
    validation_fraction: Unit
    limit: Natural | None


class CarsTable1(_Group):
    """``cars.table1``: notebook 08's parameters."""

    eval_pairs: Count
    seed: Natural
    n_boot: Count
    reference_images: Count
    threads: Count


class Cars(_Group):
    """``cars``: the Stanford Cars data, runs (stage ``train_cars``, each ``train.config`` with fields replaced) and
    table; a stage checks its own part (``require(..., "cars.data")``)."""

    data: CarsData
    variants: Annotated[dict[str, TrainVariant | None], Field(min_length=1)]
    table1: CarsTable1


GROUPS: dict[str, type[_Group]] = {"data": Data, "histogram_layers": HistogramLayers, "train": Train,
                                   "color_gan": ColorGAN, "ablations": Ablations, "table1": Table1, "cars": Cars}


# ------------------------------------------------------------------ relations


def _get(params: Mapping[str, Any], key: str) -> Any:
    for part in key.split("."):
        params = params[part]
    return params


@dataclass(frozen=True)
class Relation:
    """A check that reads several values: ``check(params)`` yields a problem line each; it runs once every group
    in ``groups`` is valid on its own."""

    groups: tuple[str, ...]
    check: Callable[[Mapping[str, Any]], Iterator[str]]


def _at_most(key: str, bound: str, why: str) -> Relation:
    """``key``'s value must not exceed ``bound``'s."""
    def check(params: Mapping[str, Any]) -> Iterator[str]:
        value, most = _get(params, key), _get(params, bound)
        if value > most:
            yield f"{key}: {value} is more than {bound}, {most} ({why})"

    return Relation(tuple(dict.fromkeys(k.split(".")[0] for k in (key, bound))), check)


def _train_runs(params: Mapping[str, Any], owner: str) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """Each run of ``<owner>.variants``: its config, and where each field of it is set (the key path)."""
    for variant, replaced in params[owner]["variants"].items():
        replaced = replaced or {}
        config = {**params["train"]["config"], **replaced}
        where = {name: f"{owner}.variants.{variant}.{name}" if name in replaced else f"train.config.{name}"
                 for name in config}
        yield config, where


def _train_shapes(params: Mapping[str, Any], owner: str = "train") -> Iterator[str]:
    """Every run's crops fit its networks, and its batch splits evenly between the processes."""
    train, problems_seen = params["train"], set()
    for config, where in _train_runs(params, owner):
        crop, depth, layers = train["crop_size"], config["depth"], config["disc_layers"]
        found = []
        if crop % 2 ** depth:
            found.append(f"train.crop_size: {crop} is not a multiple of 2 ** {where['depth']} = {2 ** depth} "
                         "(the U-Net halves it that many times)")
        if crop < 3 * 2 ** layers:
            found.append(f"train.crop_size: {crop} is less than 3 x 2 ** {where['disc_layers']} = {3 * 2 ** layers} "
                         "(the PatchGAN would see no patch)")
        if config["batch_size"] % train["nproc_per_node"]:
            found.append(f"{where['batch_size']}: {config['batch_size']} is not a multiple of train.nproc_per_node, "
                         f"{train['nproc_per_node']} (each process trains an equal share)")
        for line in found:  # a field of train.config is reported once, not once per variant
            if line not in problems_seen:
                problems_seen.add(line)
                yield line


def _critic_poolings(params: Mapping[str, Any]) -> Iterator[str]:
    config = params["color_gan"]["config"]
    least = 2 ** len(config["critic_widths"])
    if config["crop_size"] < least:
        yield (f"color_gan.config.crop_size: {config['crop_size']} is less than 2 ** len(critic_widths) = {least} "
               "(one pixel after the critic's poolings)")


RELATIONS: tuple[Relation, ...] = (
    _at_most("data.crop_size", "data.load_size", "crops are cut from the cached images"),
    _at_most("train.crop_size", "data.load_size", "crops are cut from the cached images"),
    _at_most("color_gan.config.crop_size", "data.load_size", "crops are cut from the cached images"),
    Relation(("train",), _train_shapes),
    Relation(("train", "cars"), functools.partial(_train_shapes, owner="cars")),
    Relation(("color_gan",), _critic_poolings),
    _at_most("ablations.feature_matching_pairs", "ablations.eval_pairs", "the first of the pairs"),
    _at_most("ablations.shown_pairs", "ablations.eval_pairs", "the first of the pairs"),
    _at_most("table1.feature_matching_pairs", "table1.eval_pairs", "the first of the pairs"),
)


# ------------------------------------------------------------------ problems

_KINDS = {"int_type": "an integer", "float_type": "a number", "bool_type": "true or false", "string_type": "a string",
          "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping"}


def _message(error: Mapping[str, Any]) -> str:
    """One of pydantic's errors in the words of this module."""
    kind, value = error["type"], error.get("input")
    if kind == "value_error":  # a check of this module's, after the value as written (not the float it became)
        return f"{value!r} {error['ctx']['error']}"
    exponent = re.fullmatch(r"([-+]?[0-9]+)[eE]([-+]?[0-9]+)", value) if isinstance(value, str) else None
    if kind == "float_type" and exponent:  # YAML 1.2 (DVC's) reads 1e-4 as a number, YAML 1.1 (the stages') as text
        return f"{value!r} is text to PyYAML, which the stages read with: write {exponent[1]}.0e{exponent[2]}"
    if kind in _KINDS:
        return f"{value!r} is not {_KINDS[kind]}"
    if kind == "literal_error":
        return f"{value!r} is not {error['ctx']['expected']}"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing"
    if kind == "too_short":
        return "must not be empty"
    return error["msg"]


def _schema(name: str) -> type[_Group] | None:
    """The schema of a group or of a part of one (``cars.data``); None where there is none."""
    first, *parts = name.split(".")
    model = GROUPS.get(first)
    for part in parts:
        field = model.model_fields.get(part) if model else None
        kind = field.annotation if field else None
        model = kind if isinstance(kind, type) and issubclass(kind, _Group) else None
    return model


def _group_problems(name: str, values: Any) -> list[str]:
    try:
        _schema(name).model_validate(values)
    except ValidationError as err:
        return [f"{'.'.join(map(str, (name, *e['loc'])))}: {_message(e)}" for e in err.errors(include_url=False)]
    return []


def _part(params: Mapping[str, Any], name: str) -> Any:
    """The values of the group or part ``name``, or None where ``params`` has none."""
    for key in name.split("."):
        if not isinstance(params, Mapping) or key not in params:
            return None
        params = params[key]
    return params


def problems(params: Mapping[str, Any], groups: Iterable[str] | None = None) -> list[str]:
    """Every problem of ``params`` (``params.yaml`` read whole), one line each; with ``groups``, those of these
    groups and of the relations that read them (a relation runs once all the groups it reads are valid).

    A group asked for that is missing, or that has no schema here, is a problem too. A stage that reads a part of
    a group names it with a dot (``cars.data``), and only that part is checked.
    """
    if not isinstance(params, Mapping):
        return [f"the params are not a mapping of groups: {params!r}"]
    wanted = list(GROUPS) if groups is None else list(groups)
    lines = [f"{name}: unknown group (known: {', '.join(GROUPS)})"
             for name in (params if groups is None else wanted) if _schema(name) is None]
    for part in (name for name in wanted if "." in name and _schema(name) is not None):
        values = _part(params, part)
        lines += [f"{part}: missing"] if values is None else _group_problems(part, values)
    valid = set()
    for group in GROUPS:
        if group not in params:
            lines += [f"{group}: missing"] if group in wanted else []
            continue
        found = _group_problems(group, params[group])
        if not found:
            valid.add(group)
        elif group in wanted:
            lines += found
    for relation in RELATIONS:
        if set(relation.groups) <= valid and set(relation.groups) & set(wanted):
            # a train.config field several runs share is one problem, not one per run
            lines += [line for line in relation.check(params) if line not in lines]
    return lines


class ParamsError(ValueError):
    """Settings a stage must not run with: one line per problem (:attr:`problems`), all of them the message."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.problems = list(lines)
        super().__init__("\n".join(self.problems))


def read_params(path: str | os.PathLike) -> Any:
    """The YAML file ``path`` as the stages read it (PyYAML).

    Raises:
        ParamsError: the file is missing or is not YAML (the line of the fault).
    """
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except OSError as err:
        raise ParamsError([f"{path}: {err.strerror or err}"]) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ParamsError([f"{path}: not valid YAML{where}: {getattr(err, 'problem', None) or err}"]) from None


def require(params: Mapping[str, Any] | str | os.PathLike, *groups: str) -> None:
    """Stop a stage before it loads anything when its settings have a problem.

    Args:
        params: the params file, or groups of it (a notebook passes the values papermill gave it:
            ``require({"table1": {"eval_pairs": eval_pairs, ...}})``).
        groups: the stage's groups (default: all the groups given); the relations that read them are checked
            with the other groups present.

    Raises:
        ParamsError: every problem, one line each.
    """
    values = params if isinstance(params, Mapping) else read_params(params)
    found = problems(values, groups or (list(values) if isinstance(params, Mapping) else None))
    if found:
        raise ParamsError(found)
