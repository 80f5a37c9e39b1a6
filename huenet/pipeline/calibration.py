"""The loss-weight calibration: ``reports/calibration.csv`` from DVC experiments, its front and the pick.

Each sweep point is a DVC experiment of one training of the full model (``dvc exp run
--queue score@full -S 'train.variants={full:{}}' -S train.config.lambda_mi=...``). Its numbers on the
validation pairs (``reports/metrics/train_full.json``) and its ``train`` params
become one row, with the split it was scored on and the CPU it ran on.
``emd_ratio`` is W1(target, output) / W1(target, source): below 1 when the
output's hues are closer to the target's than the source's are. ``python -m
huenet.pipeline.calibration`` reads ``dvc exp show --json --all-commits`` and adds the
finished experiments to the csv (rows already there, such as runs of earlier
commits, stay).

The pipeline's config is :func:`choose`'s pick from the validation rows of the sweep (``study=calibration``): the
config whose seed mean lies nearest the paper's point in the plane of EMD ratio
and relative MI, each axis in units of the seed spread (:func:`seed_spread`).
Configs within one such unit of the nearest one are finalists; the pick is
decided only when every finalist has at least two seeds. Experiments named ``claims-...`` (``sweeps/claims.sh``)
are another study, ``study=claims``: the flips and the paper's literal loss, read by :mod:`huenet.pipeline.claims`;
they choose no loss.

>>> rows = [{"emd_ratio": 0.3, "rel_mi_src_out": 0.2}, {"emd_ratio": 0.4, "rel_mi_src_out": 0.3},
...         {"emd_ratio": 0.5, "rel_mi_src_out": 0.25}]
>>> [r["emd_ratio"] for r in pareto_front(rows)]
[0.3, 0.4]
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from huenet.pipeline.report import PAPER_MEANS

__all__ = ["COLUMNS", "COLOR_GAN_COLUMNS", "PAPER_POINT", "AXES", "Choice", "experiment_rows", "color_gan_rows",
           "pareto_front", "meets_goal", "seed_spread", "choose", "describe", "calibration_markdown", "write_csv",
           "read_csv", "merge_rows", "main"]

METRICS_FILE = "reports/metrics/train_full.json"
CONFIG_COLUMNS = ("emd_form", "emd_reduction", "lambda_emd", "lambda_mi", "mi_bins", "flips", "steps", "lr",
                  "batch_size", "width", "depth", "seed")
# What a run did before its config had the field: the sweep's runs flipped the crops horizontally.
BEFORE_THE_FIELD = {"flips": "horizontal"}
# experiment name prefix -> study; other experiments: "calibration". A study other than the flowers' reads its
# run's metrics, and the variant's fields, where its stages write them: the cars' seeds (sweeps/cars_seeds.sh).
STUDY_PREFIXES = {"claims-": "claims", "cars-": "cars"}
STUDY_METRICS = {"cars": "reports/cars/metrics/train_full.json"}
STUDY_VARIANTS = {"cars": "cars"}
# commit: the code the experiment ran on (its baseline), since the code, not only the params, defines a run;
# split: the pairs it was scored on (only validation rows choose anything); cpu: the same seed lands elsewhere
# on another CPU
# study: which question the run answers (the loss sweep, "calibration", or the claims of sweeps/claims.sh)
COLUMNS = ("experiment", "commit", "split", "study", "cpu", *CONFIG_COLUMNS, "threads", "eval_pairs", "emd_ratio",
           "emd_tar_out", "rel_mi_src_out", "rel_mi_src_out_lo", "rel_mi_src_out_hi", "grey_ssim")
METRIC_COLUMNS = COLUMNS[-6:]
COLOR_GAN_FILE = "reports/color_gan.json"
COLOR_GAN_PREFIX = "cgan-"
COLOR_GAN_COLUMNS = ("experiment", "split", "steps", "lr", "color_weight", "n_critic", "seconds_per_step",
                     "color_distance_source", "color_distance_output", "fraction_of_the_way", "grey_ssim")
# The plane the pick is made in: EMD ratio (lower paints more) and relative MI with the source (higher keeps more).
AXES = ("emd_ratio", "rel_mi_src_out")
# The paper's Table 1 means (Figure 6's seven pairs) as one point: EMD TAR-OUT / TAR-SRC and MI SRC-OUT.
PAPER_POINT = {"emd_ratio": round(PAPER_MEANS["emd_tar_out"] / PAPER_MEANS["emd_tar_src"], 3),
               "rel_mi_src_out": PAPER_MEANS["rel_mi_src_out"]}


def _entries(exp_show: Sequence[Mapping]) -> Iterator[tuple[str, Mapping]]:
    """Every finished experiment of ``dvc exp show --json`` (DVC 3) with its baseline commit (7 characters).

    A queued, running or failed one is left out: DVC shows it with the metrics of the workspace it started from."""
    for baseline in exp_show:
        for experiment in baseline.get("experiments") or []:
            if (experiment.get("executor") or {}).get("state", "success") != "success":
                continue
            for rev in experiment.get("revs") or []:
                yield baseline.get("rev", "")[:7], rev


def experiment_rows(exp_show: Sequence[Mapping], metrics_file: str = METRICS_FILE) -> list[dict[str, Any]]:
    """One row (``COLUMNS``) per finished experiment that wrote ``metrics_file`` (a study's own file where it has
    one, :data:`STUDY_METRICS`), sorted by study, form and weights."""
    rows = []
    for commit, rev in _entries(exp_show):
        data = rev.get("data") or {}
        name = rev.get("name") or rev.get("rev", "")[:7]
        study = study_of(name)
        metrics = ((data.get("metrics") or {}).get(STUDY_METRICS.get(study, metrics_file)) or {}).get("data")
        groups = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
        params = groups.get("train")
        # an experiment of another stage carries the metrics file it found: only a scored run says its split
        if not metrics or not params or "split" not in metrics:
            continue
        variants = (groups.get(STUDY_VARIANTS.get(study, "train")) or {}).get("variants") or {}
        config = {**params["config"], **(variants.get("full") or {})}
        row = {"experiment": name, "commit": commit, "split": metrics.get("split"), "study": study,
               "cpu": metrics.get("cpu")}
        row |= {key: config.get(key, BEFORE_THE_FIELD.get(key)) for key in CONFIG_COLUMNS}
        row |= {"threads": params.get("threads"), "eval_pairs": params.get("eval_pairs")}
        row |= {key: metrics.get(key) for key in METRIC_COLUMNS}  # an interval added since a run: None
        rows.append(row)
    return _sorted(rows)


def pipeline_rows(params: Mapping[str, Any], metrics: Mapping[str, Mapping[str, Any]], commit: str) -> list[dict]:
    """The pipeline's own runs (stage train's variants, scored by score@<run>) as rows of the claims study: the
    same trainings as the study's runs of their configs, so the study does not train them a second time.

    Args:
        params: ``params.yaml``'s contents.
        metrics: variant -> its headline metric (``reports/metrics/train_<variant>.json``).
        commit: the commit whose pipeline ran them.

    >>> params = {"train": {"config": {"lambda_mi": 80, "seed": 0}, "threads": 1, "eval_pairs": 256,
    ...                     "variants": {"full": {}, "no_mi": {"lambda_mi": 0}}}}
    >>> headline = {"split": "validation", "cpu": "a CPU", "emd_ratio": 0.4, "rel_mi_src_out": 0.26}
    >>> [(r["experiment"], r["study"], r["lambda_mi"]) for r in pipeline_rows(params, {"no_mi": headline}, "abc1234")]
    [('claims-pipeline-no_mi', 'claims', 0)]
    """
    train = params["train"]
    rows = []
    for variant, fields in (train.get("variants") or {}).items():
        if variant not in metrics:
            continue
        config = {**train["config"], **(fields or {})}
        name = f"claims-pipeline-{variant}"
        row = {"experiment": name, "commit": commit, "split": metrics[variant].get("split"),
               "study": study_of(name), "cpu": metrics[variant].get("cpu")}
        row |= {key: config.get(key, BEFORE_THE_FIELD.get(key)) for key in CONFIG_COLUMNS}
        row |= {"threads": train.get("threads"), "eval_pairs": train.get("eval_pairs")}
        row |= {key: metrics[variant].get(key) for key in METRIC_COLUMNS}
        rows.append(row)
    return _sorted(rows)


def color_gan_rows(exp_show: Sequence[Mapping], prefix: str = COLOR_GAN_PREFIX) -> list[dict[str, Any]]:
    """One row (``COLOR_GAN_COLUMNS``) per finished colour-GAN trial, an experiment named ``prefix...``
    (``sweeps/color_gan.sh``), sorted by name; ``fraction_of_the_way`` is 1 - output / source colour distance, the
    share of the way to the target colour (the goal: at least 0.5). Other experiments carry the workspace's
    ``reports/color_gan.json`` and are not trials."""
    rows = []
    for _, rev in _entries(exp_show):
        data = rev.get("data") or {}
        metrics = ((data.get("metrics") or {}).get(COLOR_GAN_FILE) or {}).get("data")
        params = (((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}).get("color_gan")
        if not (rev.get("name") or "").startswith(prefix) or not metrics or not params:
            continue
        config = params["config"]
        rows.append({"experiment": rev["name"], "split": "validation",  # notebook 03b scores validation pairs
                     **{key: config[key] for key in ("steps", "lr", "color_weight", "n_critic")},
                     **{key: metrics[key] for key in ("seconds_per_step", "color_distance_source",
                                                      "color_distance_output")},
                     "fraction_of_the_way": round(1 - metrics["color_distance_output"]
                                                  / metrics["color_distance_source"], 3),
                     "grey_ssim": metrics["grey_ssim"]})
    return sorted(rows, key=lambda r: r["experiment"])


def study_of(experiment: str) -> str:
    """The study an experiment belongs to, by its name's prefix (:data:`STUDY_PREFIXES`).

    >>> study_of("claims-sum-mi-s0"), study_of("cars-full-s1"), study_of("v-root-mi80-bins32")
    ('claims', 'cars', 'calibration')
    """
    return next((study for prefix, study in STUDY_PREFIXES.items() if experiment.startswith(prefix)), "calibration")


def _sorted(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted((dict(r) for r in rows), key=lambda r: (
        r["study"], r["split"] or "", r["emd_form"], r["emd_reduction"] or "", r["mi_bins"] or 0, r["lambda_emd"],
        r["flips"], r["steps"], r["seed"] or 0, r["lambda_mi"], r["experiment"]))


def merge_rows(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The csv's rows with ``new`` added; a row of the same experiment and commit is replaced."""
    new = list(new)
    seen = {(r["experiment"], r["commit"]) for r in new}
    return _sorted([*(r for r in old if (r["experiment"], r["commit"]) not in seen), *new])


def pareto_front(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows no other row beats on both axes (lower ``emd_ratio``, higher ``rel_mi_src_out``), by ratio."""
    rows = list(rows)

    def beaten(r: Mapping) -> bool:
        return any(o["emd_ratio"] <= r["emd_ratio"] and o["rel_mi_src_out"] >= r["rel_mi_src_out"]
                   and (o["emd_ratio"], o["rel_mi_src_out"]) != (r["emd_ratio"], r["rel_mi_src_out"]) for o in rows)

    return sorted((r for r in rows if not beaten(r)), key=lambda r: r["emd_ratio"])


def meets_goal(row: Mapping[str, Any], point: Mapping[str, float] = PAPER_POINT) -> bool:
    """At least as good as ``point`` (the paper's) on both axes."""
    return row["emd_ratio"] <= point["emd_ratio"] and row["rel_mi_src_out"] >= point["rel_mi_src_out"]


def _by_config(rows: Iterable[Mapping[str, Any]]) -> dict[tuple, list[Mapping[str, Any]]]:
    """The rows grouped by config, every config column but the seed (a config's runs: its seeds, its CPUs)."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in CONFIG_COLUMNS if k != "seed"), []).append(r)
    return groups


def seed_spread(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Per axis, the pooled standard deviation between seeds of the configs run with more than one seed.

    Runs of one config on different CPUs count as different seeds: both move a run by chance.

    Raises:
        ValueError: no config has two runs.
    """
    repeated = [g for g in _by_config(rows).values() if len(g) > 1]
    if not repeated:
        raise ValueError("no config has two runs: train a second seed of one to measure the seed spread")
    spread = {}
    for axis in AXES:
        squares = sum(sum((r[axis] - sum(o[axis] for o in g) / len(g)) ** 2 for r in g) for g in repeated)
        spread[axis] = math.sqrt(squares / sum(len(g) - 1 for g in repeated))
    return spread


@dataclass(frozen=True)
class Choice:
    """:func:`choose`'s answer.

    Attributes:
        config: the picked config's ``CONFIG_COLUMNS`` but the seed and the flips.
        distance: its seed mean's distance to the paper's point, in seed-spread units.
        seeds: how many runs its mean is over.
        finalists: ``(config, distance, seeds)`` of every config within one unit of the pick's distance,
            nearest first (the pick among them).
        undecided: the finalists with a single run: the pick stands only when this is empty.
        spread: the seed spread per axis (:func:`seed_spread`).
    """

    config: dict[str, Any]
    distance: float
    seeds: int
    finalists: tuple[tuple[dict[str, Any], float, int], ...]
    undecided: tuple[dict[str, Any], ...]
    spread: dict[str, float]


def choose(rows: Iterable[Mapping[str, Any]], point: Mapping[str, float] = PAPER_POINT) -> Choice:
    """The pipeline's config: the validation-scored seed mean nearest ``point``, axes in seed-spread units.

    Only the sweep's rows scored on the validation split take part (``study=calibration``). A config's position is
    the mean of its runs (seeds, CPUs); its distance to ``point`` is Euclidean
    with each axis divided by :func:`seed_spread`. Configs within one unit of
    the nearest are finalists, closer to it than chance can tell apart: while
    one of them has a single run the choice is ``undecided`` on it (train its
    second seed and choose again).

    >>> rows = [dict(split="validation", study="calibration", emd_form="root", emd_reduction="mean", lambda_emd=100,
    ...              lambda_mi=m, mi_bins=32, flips="vertical", steps=2000, lr=2e-4, batch_size=8, width=32, depth=6,
    ...              seed=s, emd_ratio=e, rel_mi_src_out=i)
    ...         for m, s, e, i in [(80, 0, 0.40, 0.20), (80, 1, 0.44, 0.24), (100, 0, 0.70, 0.30)]]
    >>> pick = choose(rows)
    >>> pick.config["lambda_mi"], pick.seeds, round(pick.distance, 2), pick.undecided
    (80, 2, 2.05, ())
    """
    rows = [r for r in rows if r["split"] == "validation" and r["study"] == "calibration"]
    spread = seed_spread(rows)
    groups = _by_config(rows)

    def distance(group: list[Mapping[str, Any]]) -> float:
        return math.hypot(*((sum(r[a] for r in group) / len(group) - point[a]) / spread[a] for a in AXES))

    ranked = sorted(((distance(g), g) for g in groups.values()), key=lambda dg: dg[0])
    best, group = ranked[0]

    def config_of(g: list[Mapping[str, Any]]) -> dict[str, Any]:
        # the loss and its training settings; the flips are the claims study's question (huenet.pipeline.claims)
        return {k: g[0][k] for k in CONFIG_COLUMNS if k not in ("seed", "flips")}

    finalists = tuple((config_of(g), d, len(g)) for d, g in ranked if d <= best + 1.0)
    return Choice(config=config_of(group), distance=best, seeds=len(group), finalists=finalists,
                  undecided=tuple(c for c, _, n in finalists if n < 2), spread=spread)


def describe(config: Mapping[str, Any]) -> str:
    """A config's loss in words: ``root EMD (mean over the bins) x 100, MI x 85 on 32 x 32 bins``."""
    bins = f"{config['mi_bins']} x {config['mi_bins']}" if config["mi_bins"] else "K x K"
    return (f"{config['emd_form']} EMD ({config['emd_reduction']} over the bins) x {config['lambda_emd']:g}, "
            f"MI x {config['lambda_mi']:g} on {bins} bins")


def calibration_markdown(rows: Sequence[Mapping[str, Any]], baselines: Mapping[str, Mapping[str, float]]) -> str:
    """``reports/calibration.md``: the validation runs, the seed spread, the rule's pick and its finalists.

    ``baselines``: method name -> its ``emd_ratio`` and ``rel_mi_src_out`` on the same validation pairs, shown
    beside the runs for reference (the rule does not read them).
    """
    validation = [r for r in rows if r["split"] == "validation" and r["study"] == "calibration"]
    choice = choose(rows)
    header = ["run", "loss", "seed", "CPU", "EMD ratio", "rel. MI", "grey SSIM"]
    lines = ["| " + " | ".join(header) + " |", "| :--- | :--- | ---: | :--- | ---: | ---: | ---: |"]
    for r in validation:
        lines.append(f"| {r['experiment']} | {describe(r)} | {r['seed']} | {r['cpu']} | {r['emd_ratio']:.3f} | "
                     f"{r['rel_mi_src_out']:.3f} | {r['grey_ssim']:.3f} |")
    for name, b in baselines.items():
        lines.append(f"| {name} (no training) |  |  |  | {b['emd_ratio']:.3f} | {b['rel_mi_src_out']:.3f} |  |")
    finalists = "; ".join(f"{describe(c)}: {d:.2f} ({n} seed{'s' * (n > 1)})" for c, d, n in choice.finalists)
    earlier = sum(r["split"] == "test" for r in rows)
    return "\n\n".join([
        "# The loss calibration",
        f"Written by notebook 06 (`dvc repro calibration`) from `reports/calibration.csv`: {len(validation)} runs of "
        f"the full model, each scored on the same {validation[0]['eval_pairs']} validation pairs (never a test pair). "
        f"The paper's point: EMD ratio {PAPER_POINT['emd_ratio']:.3f}, relative MI "
        f"{PAPER_POINT['rel_mi_src_out']:.3f}.",
        "\n".join(lines),
        f"**The rule** (`huenet.pipeline.calibration.choose`, fixed before any of these runs): the config whose seed "
        f"mean lies nearest the paper's point, each axis in units of the seed spread, here "
        f"{choice.spread['emd_ratio']:.3f} in EMD ratio and {choice.spread['rel_mi_src_out']:.3f} in relative MI "
        "(pooled over the configs run with two seeds); configs within one unit of the nearest are finalists, and each "
        "needs two seeds.",
        f"**The pick**: {describe(choice.config)}, {choice.distance:.2f} spreads from the paper's point over its "
        f"{choice.seeds} seed{'s' * (choice.seeds > 1)}. Finalists (distance in spreads): {finalists}."
        + (f" Undecided until they have a second seed: {'; '.join(describe(c) for c in choice.undecided)}."
           if choice.undecided else ""),
        f"{earlier} earlier runs, scored on test pairs before the validation split existed, are in the csv with "
        "`split=test` and choose nothing (notebook 06 draws them in grey).",
    ]) + "\n"


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike,
              columns: Sequence[str] = COLUMNS) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The csv's rows with numbers as numbers and empty cells as None."""

    def number(text: str) -> Any:
        if text == "":
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline="") as f:
        return [{k: number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _add_pipeline_rows(out: Path) -> int:
    """``huenet calibration --pipeline [OUT]``: this commit's pipeline runs (the workspace's ``reports/metrics``)."""
    commit = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True).stdout.strip()
    params = yaml.safe_load(Path("params.yaml").read_text())
    metrics = {v: json.loads(path.read_text()) for v in params["train"]["variants"]
               if (path := Path(f"reports/metrics/train_{v}.json")).is_file()}
    rows = pipeline_rows(params, metrics, commit)
    stale = {r["experiment"] for r in rows}
    # a later commit's pipeline replaces an earlier one's rows: one set of pipeline runs at a time
    old = [r for r in (read_csv(out) if out.is_file() else []) if r["experiment"] not in stale]
    write_csv(merge_rows(old, rows), out)
    print(f"{len(rows)} pipeline runs of {commit} -> {out}")
    return 0 if rows else 1


def main(argv: Sequence[str]) -> int:
    """``huenet calibration [OUT]``: the finished experiments' rows added to OUT (reports/calibration.csv).
    ``huenet calibration --color-gan [OUT]``: the colour-GAN trials written to OUT (reports/color_gan_trials.csv).
    ``huenet calibration --pipeline [OUT]``: the pipeline's own runs of this commit, as rows of the claims study."""
    args = list(argv)
    usage = "usage: huenet calibration [--pipeline | --color-gan] [OUT.csv]"
    if args[:1] in (["-h"], ["--help"]):
        print(usage + "\n\n" + (main.__doc__ or ""))
        return 0
    flags = [a for a in args if a.startswith("-") and a not in ("--pipeline", "--color-gan")]
    if flags or len(args) > 2 or (len(args) == 2 and args[0] not in ("--pipeline", "--color-gan")):
        print(f"{usage} (got {' '.join(args)})", file=sys.stderr)
        return 2
    if args[:1] == ["--pipeline"]:
        return _add_pipeline_rows(Path(args[1] if len(args) > 1 else "reports/calibration.csv"))
    color_gan = bool(args) and args[0] == "--color-gan"
    args = args[1:] if color_gan else args
    out = Path(args[0] if args else "reports/color_gan_trials.csv" if color_gan else "reports/calibration.csv")
    shown = subprocess.run(["dvc", "exp", "show", "--json", "--all-commits"], capture_output=True, text=True)
    if shown.returncode != 0:  # e.g. a queued run holds DVC's lock for a moment: try again
        print(f"dvc exp show failed: {(shown.stderr.strip().splitlines() or ['no message'])[-1]}", file=sys.stderr)
        return 1
    exp_show = json.loads(shown.stdout)
    rows = color_gan_rows(exp_show) if color_gan else experiment_rows(exp_show)
    if not rows:
        print("no finished experiment has written " + (COLOR_GAN_FILE if color_gan else METRICS_FILE),
              file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    if color_gan:
        write_csv(rows, out, COLOR_GAN_COLUMNS)
        print(f"{len(rows)} trials -> {out}")
        return 0
    old = read_csv(out) if out.is_file() else []
    write_csv(merge_rows(old, rows), out)
    print(f"{len(rows)} experiments -> {out} ({len(old)} rows before)")
    return 0
