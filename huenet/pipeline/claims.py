"""The claims study (``sweeps/claims.sh``): which flips the pipeline trains with, and claim 2 under three losses.

Every run of the study is a DVC experiment named ``claims-...`` (:func:`huenet.pipeline.calibration.study_of`), one
training of the full model scored on the validation pairs, a row of ``reports/calibration.csv`` with
``study=claims``. Two questions are read from those rows, each by a rule fixed before the runs:

**The flips** (:func:`flips_choice`). The paper: "We augmented the training images with vertical flips". With the
calibrated loss, two seeds of each setting: the pipeline flips vertically unless horizontal or both beats vertical
by more than one seed spread in EMD ratio (the calibration's unit, :func:`~huenet.pipeline.calibration.seed_spread`
of the sweep) at no lower relative MI, seed means against seed means.

**Claim 2, the MI loss ties the output to the source** (:func:`claim2_readings`), under three losses, three seeds
each with the MI loss and three without (the same loss with MI weight 0, the paper's "w/o" column):

* ``calibrated``: the pipeline's loss, the sweep's pick (root of the mean squared CDF difference x 100, MI x 80 on
  32 x 32 bins);
* ``literal sum``: the paper's Eq. 13 as printed, the squared CDF difference summed over the K bins, EMD x 100,
  MI x 25 on K x K bins (Eq. 25's weights in the order it names them);
* ``literal mean``: the same averaged over the bins (Eq. 13 with its normalisation kept).

Each is read by :func:`huenet.pipeline.report.verdict`: for each seed, the with-MI run's relative MI has its 95%
interval over the pairs wholly above the same seed's without-MI run's; over the seeds, the mean with MI is above the
mean without by more than one seed spread of relative MI.

>>> rows = [dict(split="validation", study="claims", emd_form="root", emd_reduction="mean", lambda_emd=100,
...              lambda_mi=mi, mi_bins=32, flips="vertical", seed=s, emd_ratio=0.4, rel_mi_src_out=m,
...              rel_mi_src_out_lo=m - 0.01, rel_mi_src_out_hi=m + 0.01)
...         for s in range(3) for mi, m in ((80, 0.26), (0, 0.06))]
>>> claim2_readings(rows, {"emd_ratio": 0.04, "rel_mi_src_out": 0.005})["calibrated"]["verdict"]
'Supported'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from huenet.pipeline.report import verdict

__all__ = ["READINGS", "FLIPS_DEFAULT", "reading_of", "flips_choice", "claim2_readings", "claims_report",
           "claims_markdown"]

# The three losses claim 2 is read under: (emd_form, emd_reduction, lambda_emd, MI weight with MI, mi_bins).
READINGS = {
    "calibrated": ("root", "mean", 100, 80, 32),
    "literal sum": ("squared", "sum", 100, 25, None),
    "literal mean": ("squared", "mean", 100, 25, None),
}
FLIPS_DEFAULT = "vertical"  # the paper's


def reading_of(row: Mapping[str, Any]) -> tuple[str, bool] | None:
    """``(reading, with MI)`` of a claims row, or None for a row of no reading."""
    for name, (form, reduction, lambda_emd, lambda_mi, mi_bins) in READINGS.items():
        if (row["emd_form"], row["emd_reduction"], row["lambda_emd"], row["mi_bins"]) == (
                form, reduction, lambda_emd, mi_bins) and row["lambda_mi"] in (lambda_mi, 0):
            return name, row["lambda_mi"] > 0
    return None


def _claims(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["study"] == "claims" and r["split"] == "validation"]


def _mean(rows: list[Mapping[str, Any]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def flips_choice(rows: Iterable[Mapping[str, Any]], spread: Mapping[str, float]) -> dict[str, Any]:
    """The flips the pipeline trains with, and each setting's seed means (the module's rule).

    Args:
        rows: ``reports/calibration.csv``'s rows; the claims study's calibrated runs with the MI loss are read.
        spread: the calibration's seed spread per axis.

    Returns:
        ``{"choice": ..., "settings": {flips: {"seeds", "emd_ratio", "rel_mi_src_out"}}, "beats": [...]}``: the
        settings that beat vertical by the rule (the choice is the first of them, else vertical).

    Raises:
        ValueError: a setting has fewer than two seeds, or vertical has none.
    """
    runs: dict[str, list[Mapping[str, Any]]] = {}
    for r in _claims(rows):
        if reading_of(r) == ("calibrated", True):
            runs.setdefault(r["flips"], []).append(r)
    thin = sorted(f for f, group in runs.items() if len(group) < 2)
    if FLIPS_DEFAULT not in runs or thin:
        raise ValueError(f"the flips need two seeds of each setting with the calibrated loss; short: "
                         f"{', '.join(thin) or FLIPS_DEFAULT}")
    settings = {f: {"seeds": len(g), "emd_ratio": _mean(g, "emd_ratio"), "rel_mi_src_out": _mean(g, "rel_mi_src_out")}
                for f, g in sorted(runs.items())}
    base = settings[FLIPS_DEFAULT]
    beats = [f for f, s in settings.items() if f != FLIPS_DEFAULT
             and s["emd_ratio"] < base["emd_ratio"] - spread["emd_ratio"]
             and s["rel_mi_src_out"] >= base["rel_mi_src_out"]]
    beats.sort(key=lambda f: settings[f]["emd_ratio"])
    return {"choice": beats[0] if beats else FLIPS_DEFAULT, "settings": settings, "beats": beats,
            "spread": dict(spread)}


def claim2_readings(rows: Iterable[Mapping[str, Any]], spread: Mapping[str, float],
                    flips: str = FLIPS_DEFAULT) -> dict[str, dict[str, Any]]:
    """Claim 2's verdict under each of :data:`READINGS`, from the claims study's runs with ``flips``.

    Returns:
        reading -> ``{"verdict", "seeds", "with_mi", "without_mi", "seeds_holding"}``: the seed means of relative MI
        and how many seeds' intervals are apart; readings with no run are left out.
    """
    by_seed: dict[str, dict[bool, dict[int, Mapping[str, Any]]]] = {}
    for r in _claims(rows):
        reading = reading_of(r)
        if reading is not None and r["flips"] == flips:
            by_seed.setdefault(reading[0], {True: {}, False: {}})[reading[1]][r["seed"]] = r
    out = {}
    for name in READINGS:
        if name not in by_seed:
            continue
        with_mi, without = by_seed[name][True], by_seed[name][False]
        seeds = sorted(set(with_mi) & set(without))
        if not seeds:
            continue
        per_seed = [with_mi[s]["rel_mi_src_out_lo"] > without[s]["rel_mi_src_out_hi"] for s in seeds]
        mean_with = _mean([with_mi[s] for s in seeds], "rel_mi_src_out")
        mean_without = _mean([without[s] for s in seeds], "rel_mi_src_out")
        overall = mean_with - mean_without > spread["rel_mi_src_out"]
        out[name] = {"verdict": verdict(per_seed, overall), "seeds": len(seeds), "seeds_holding": sum(per_seed),
                     "with_mi": mean_with, "without_mi": mean_without,
                     "emd_ratio_with_mi": _mean([with_mi[s] for s in seeds], "emd_ratio")}
    return out


def claims_report(rows: Iterable[Mapping[str, Any]], spread: Mapping[str, float]) -> dict[str, Any]:
    """``reports/claims.json``: the flips' rule (None until every setting has two seeds) and claim 2's readings
    (:func:`claim2_readings`, with the flips the rule chose)."""
    rows = list(rows)
    try:
        flips = flips_choice(rows, spread)
    except ValueError:
        flips = None
    return {"runs": len(_claims(rows)), "spread": dict(spread), "flips": flips,
            "claim2": claim2_readings(rows, spread, flips["choice"] if flips else FLIPS_DEFAULT)}


def claims_markdown(report: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> str:
    """``reports/claims.md``: every run of the study, then the flips' decision and claim 2's verdicts, each with its
    rule."""
    runs = sorted(_claims(rows), key=lambda r: (str(reading_of(r)), r["flips"], r["seed"]))
    lines = ["| run | loss | MI loss | flips | seed | EMD ratio | rel. MI [95% CI] | grey SSIM |",
             "| :--- | :--- | :--- | :--- | ---: | ---: | ---: | ---: |"]
    for r in runs:
        reading = reading_of(r)
        lines.append(f"| {r['experiment']} | {reading[0] if reading else 'other'} | "
                     f"{'x ' + format(r['lambda_mi'], 'g') if r['lambda_mi'] else 'none'} | {r['flips']} | {r['seed']} "
                     f"| {r['emd_ratio']:.3f} | {r['rel_mi_src_out']:.3f} [{r['rel_mi_src_out_lo']:.3f}, "
                     f"{r['rel_mi_src_out_hi']:.3f}] | {r['grey_ssim']:.3f} |")
    spread = report["spread"]
    parts = ["# The claims study",
             f"Written by notebook 06 (`dvc repro calibration`) from `reports/calibration.csv`'s rows with "
             f"`study=claims` ({report['runs']} runs, `sweeps/claims.sh`), each one training of the full model scored "
             "on the validation pairs; the rules are `huenet.pipeline.claims`'s. The seed spread, the calibration's "
             f"unit: {spread['emd_ratio']:.3f} in EMD ratio, {spread['rel_mi_src_out']:.3f} in relative MI.",
             "\n".join(lines)]
    flips = report["flips"]
    if flips is None:
        parts.append("**The flips**: not decided; every setting needs two seeds with the calibrated loss.")
    else:
        settings = "; ".join(f"{f}: EMD ratio {s['emd_ratio']:.3f}, relative MI {s['rel_mi_src_out']:.3f} "
                             f"({s['seeds']} seeds)" for f, s in flips["settings"].items())
        beats = ", ".join(flips["beats"]) or "none"
        parts.append(f"**The flips** (the paper's vertical unless another setting beats it by more than one seed "
                     f"spread in EMD ratio at no lower relative MI): {settings}. Beating vertical: {beats}. The "
                     f"pipeline trains **{flips['choice']}**.")
    verdicts = [f"- **{name}**: {r['verdict']}: relative MI {r['with_mi']:.3f} with the MI loss and "
                f"{r['without_mi']:.3f} without, seed means over {r['seeds']} seeds; the intervals are apart for "
                f"{r['seeds_holding']} of them (EMD ratio with the MI loss {r['emd_ratio_with_mi']:.3f})"
                for name, r in report["claim2"].items()]
    parts.append("**Claim 2, the MI loss ties the output to the source**, under each loss (for each seed, the "
                 "with-MI run's 95% interval wholly above the same seed's without-MI run's; over the seeds, the means "
                 "apart by more than one seed spread):\n\n" + ("\n".join(verdicts) or "- no runs yet"))
    return "\n\n".join(parts) + "\n"
