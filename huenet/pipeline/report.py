"""Table 1's report: the paper's table as data, ``reports/table1.md`` and ``.json``, the claims checked.

Everything here reads what :mod:`huenet.eval.evaluate` computed: :func:`~huenet.eval.evaluate.score`'s per-pair values
or a *report*, the ``reports/table1.json`` shape (:func:`table1_report`: :func:`~huenet.eval.evaluate.summarise`'s
summary of all the pairs, plus ``"feature_matching_subset"``, the summary of feature matching's prefix of them).
Nothing here draws (Figure 6 is :func:`huenet.pipeline.figures.figure6`), so ``huenet readme``, which
rewrites the README's results block from ``reports/table1.json``, needs only the base dependencies.

>>> format_ci({"mean": 0.0542, "ci95": [0.0528, 0.0556]})
'0.054 [0.053, 0.056]'
>>> print(markdown_table(["method", "pairs"], [["huenet", 1000]]))
| method | pairs |
| :--- | ---: |
| huenet | 1000 |
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from huenet.eval.hue_noise import NOISE_MARGIN

__all__ = [
    "PAPER_CITATION", "PAPER_TABLE1", "PAPER_MEANS", "TITLES", "format_ci", "markdown_table", "headline",
    "table1_report", "summary_table", "seven_pairs", "closer_to_target", "mi_ties_to_source", "column_leaders",
    "paper_tar_src_is_non_cyclic", "not_a_colour_map", "COLUMNS", "README_COLUMNS", "DIRECTIONS", "format_kid",
    "paper_claims", "beyond_the_paper", "column_sentences", "CLAIMS_NOTE", "cars_markdown",
    "seeds_on_validation", "verdicts", "cars_readme",
    "source_vs_target", "method_means", "table1_markdown", "write_table1",
    "readme_block", "readme_results", "update_readme", "main",
]

PAPER_CITATION = (
    "Avi-Aharon, Arbelle and Riklin Raviv, 'Hue-Net: Intensity-based Image-to-Image Translation with "
    "Differentiable Histogram Loss Functions', arXiv:1912.06044, Table 1 (Figure 6's seven pairs)"
)
# The paper's Table 1 as printed, column by column (its seven pairs in order): EMD TAR-SRC, EMD TAR-OUT,
# relative MI SRC-TAR, SRC-OUT, and SRC-OUT of the model trained without the MI loss.
PAPER_TABLE1 = {
    "emd_tar_src": (0.175, 0.184, 0.173, 0.186, 0.482, 0.221, 0.290),
    "emd_tar_out": (0.080, 0.131, 0.139, 0.053, 0.081, 0.088, 0.216),
    "rel_mi_src_tar": (0.029, 0.039, 0.069, 0.055, 0.034, 0.070, 0.036),
    "rel_mi_src_out": (0.210, 0.460, 0.255, 0.304, 0.144, 0.263, 0.180),
    "rel_mi_src_out_no_mi": (0.111, 0.112, 0.118, 0.094, 0.046, 0.127, 0.095),
}
PAPER_MEANS = {column: float(np.round(np.mean(values), 3)) for column, values in PAPER_TABLE1.items()}
TITLES = {"emd_tar_src": "EMD TAR-SRC", "emd_tar_out": "EMD TAR-OUT", "rel_mi_src_tar": "rel. MI SRC-TAR",
          "rel_mi_src_out": "rel. MI SRC-OUT", "rel_mi_src_out_no_mi": "rel. MI SRC-OUT w/o MI loss"}
"""Flat column titles of the paper's Table 1 columns."""

CLAIMS_NOTE = (
    "Each verdict is over Hue-Net's training seeds (`huenet.pipeline.report.verdict`: Supported when every seed and "
    "the interval over seeds and pairs agree). The magnitudes of claims 1 and 2 were the calibration's target: the "
    "loss was chosen on validation pairs to land nearest the paper's point (EMD ratio "
    f"{PAPER_MEANS['emd_tar_out'] / PAPER_MEANS['emd_tar_src']:.3f}, relative MI {PAPER_MEANS['rel_mi_src_out']:.3f}),"
    " so their agreement with the paper is by construction; only the orderings, output closer to the target than the "
    "source and more MI with the MI loss than without, are evidence. Every departure from the paper: "
    "[docs/deviations.md](docs/deviations.md).")

COLOUR_MAPS = ("reinhard", "histmatch")
"""The rows that are colour maps by construction: each source colour gets one output hue wherever it is."""

README_START = "<!-- results: written by `huenet readme` from reports/table1.json; do not edit -->"
README_END = "<!-- end of results -->"


def format_ci(entry: Mapping) -> str:
    """A summary entry ``{"mean", "ci95"}`` as ``mean [low, high]``, three decimals."""
    return f"{entry['mean']:.3f} [{entry['ci95'][0]:.3f}, {entry['ci95'][1]:.3f}]"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table: the first column left-aligned (names), the others right-aligned (numbers)."""
    lines = [header, [":---"] + ["---:"] * (len(header) - 1), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def headline(summary: Mapping) -> dict:
    """The flat numbers per method that DVC shows as metrics: EMD (cyclic), relative MI, grey SSIM, RGB-uv
    Hellinger, edge SSIM, coarse context dependence, and the realism FD and KID."""
    def flat(entry: Mapping) -> dict:
        realism = {"fd": entry["realism_fd"], "kid": entry["realism_kid"]["mean"]} if "realism_fd" in entry else {}
        return {"emd": entry["emd_tar_out"]["mean"], "mi": entry["rel_mi_src_out"]["mean"],
                "ssim": entry["ssim"]["mean"], "rgbuv": entry["rgbuv_out_tar"]["mean"],
                "edge_ssim": entry["edge_ssim"]["mean"], "context": entry["context"]["mean"], **realism}

    return {name: flat(entry) for name, entry in summary["methods"].items()}


def table1_report(summary: Mapping, subset: Mapping) -> dict:
    """``reports/table1.json``: the summary of all the pairs and, apart, of feature matching's prefix of them."""
    return dict(summary) | {"feature_matching_subset": subset}


# Table 1's columns: key of a method's summary entry -> title. The README shows the short list.
COLUMNS = {"emd_tar_out": "EMD TAR-OUT", "emd_tar_out_linear": "EMD TAR-OUT (non-cyclic)",
           "rel_mi_src_out": "rel. MI SRC-OUT", "ssim": "grey SSIM SRC-OUT", "edge_ssim": "edge SSIM SRC-OUT",
           "rgbuv_out_tar": "RGB-uv Hellinger OUT-TAR", "context": "context dependence (4 x 4)",
           "hue_noise": "hue noise in flat regions", "hue_noise_excess": "hue noise over the source's",
           "realism_kid": "KID x 1000 (EffNet-Lite0)", "realism_fd": "FD (EffNet-Lite0)"}
README_COLUMNS = ("emd_tar_out", "rel_mi_src_out", "ssim", "context", "hue_noise", "realism_kid")
# Which side of each column is better (docs/metrics.md): lower is closer to the target's colours, less noisy or
# more realistic; higher keeps more of the source. Context dependence describes how a method paints: no side.
DIRECTIONS = {"emd_tar_out": "lower", "rgbuv_out_tar": "lower", "rel_mi_src_out": "higher", "ssim": "higher",
              "edge_ssim": "higher", "hue_noise": "lower", "realism_kid": "lower"}
# What a column's better side means, for the sentence that names its winner.
MEANINGS = {"emd_tar_out": "closest to the target's hues", "rgbuv_out_tar": "closest to the target's colours",
            "rel_mi_src_out": "keeps the most of the source's hue", "ssim": "keeps the source's grey levels best",
            "edge_ssim": "keeps the source's edges best", "hue_noise": "the least hue noise",
            "realism_kid": "the most realistic"}


def format_kid(entry: Mapping) -> str:
    """KID x 1000, mean +- the standard deviation over its subsets.

    >>> format_kid({"mean": 0.01234, "std": 0.00101})
    '12.3 ± 1.0'
    """
    return f"{1000 * entry['mean']:.1f} ± {1000 * entry['std']:.1f}"


def _cell(entry: Mapping, key: str, *, counts: bool = True) -> str:
    if key not in entry:
        return ""
    value = entry[key]
    if key == "realism_fd":
        return f"{value:.1f}"
    if key == "realism_kid":
        return format_kid(value)
    text = format_ci(value) if value["mean"] is not None else "undefined"
    return f"{text} ({value['defined']} defined)" if counts and "defined" in value else text


def summary_table(summary: Mapping, columns: Sequence[str] = tuple(COLUMNS), *, counts: bool = True) -> str:
    """One row per method: its pairs, mean [95% CI] of each metric, the realism distances (Markdown). ``counts``:
    say how many pairs define a metric that some leave undefined."""
    header = ["method", "pairs", *(COLUMNS[key] for key in columns)]
    rows = [[name, entry["pairs"], *(_cell(entry, key, counts=counts) for key in columns)]
            for name, entry in summary["methods"].items()]
    return markdown_table(header, rows)


def seven_pairs(scores: Mapping, full: str = "huenet", no_mi: str = "huenet-no-mi") -> str:
    """The paper's seven rows beside our first seven pairs, then both means, as two Markdown tables.

    ``scores`` is :func:`huenet.eval.evaluate.score`'s output with the methods ``full`` and ``no_mi``. Values are
    rounded to three decimals, as the paper prints them; our means are of the unrounded values.
    """
    rows = len(PAPER_TABLE1["emd_tar_src"])
    ours = {"emd_tar_src": scores["emd_tar_src"], "emd_tar_out": scores["methods"][full]["emd_tar_out"],
            "rel_mi_src_tar": scores["rel_mi_src_tar"], "rel_mi_src_out": scores["methods"][full]["rel_mi_src_out"],
            "rel_mi_src_out_no_mi": scores["methods"][no_mi]["rel_mi_src_out"]}
    ours = {column: np.asarray(values, dtype=np.float64)[:rows] for column, values in ours.items()}

    def cell(values: Sequence[float], i: int) -> str:
        return f"{np.round(values[i], 3):.3f}" if i < len(values) else ""

    header = ["pair"] + [f"{who} {TITLES[column]}" for column in TITLES for who in ("paper", "ours")]
    table = [[i + 1] + [cell(values[column], i) for column in TITLES for values in (PAPER_TABLE1, ours)]
             for i in range(rows)]
    means = [[TITLES[column], f"{PAPER_MEANS[column]:.3f}", f"{np.round(ours[column].mean(), 3):.3f}"]
             for column in TITLES]
    return (markdown_table(header, table) + "\n\n"
            + markdown_table(["", "paper", f"ours ({len(ours['emd_tar_src'])} pairs)"], means))


def _below(low: Mapping, high: Mapping) -> bool:
    """Whether the 95% interval of summary entry ``low`` lies wholly below that of ``high``."""
    return low["ci95"][1] < high["ci95"][0]


def _span(entry: Mapping, key: str) -> tuple[float, float] | None:
    """The interval a column's rule compares: the 95% CI, or for KID (a set-level score) its mean +- its spread
    over subsets; None where the column is undefined."""
    value = entry.get(key)
    if value is None or value.get("mean") is None:
        return None
    if key == "realism_kid":
        return value["mean"] - value["std"], value["mean"] + value["std"]
    return tuple(value["ci95"])


def column_leaders(methods: Mapping[str, Mapping], key: str) -> list[str]:
    """The methods at the top of column ``key``: the best mean on the better side (:data:`DIRECTIONS`), then every
    method whose interval (:func:`_span`) overlaps the best one's. One name is the column's winner: its interval lies
    apart from every other method's. An empty list where no method has the column.

    >>> entry = lambda m, lo, hi: {"emd_tar_out": {"mean": m, "ci95": [lo, hi]}}
    >>> column_leaders({"a": entry(0.1, 0.09, 0.11), "b": entry(0.2, 0.18, 0.22)}, "emd_tar_out")
    ['a']
    >>> column_leaders({"a": entry(0.1, 0.09, 0.11), "b": entry(0.105, 0.10, 0.12)}, "emd_tar_out")
    ['a', 'b']
    """
    spans = {name: span for name, entry in methods.items() if (span := _span(entry, key)) is not None}
    if not spans:
        return []
    sign = 1 if DIRECTIONS[key] == "lower" else -1
    best = min(spans, key=lambda name: sign * methods[name][key]["mean"])
    lo, hi = spans[best]
    return [best] + [name for name, (a, b) in spans.items() if name != best and a <= hi and b >= lo]


VERDICTS = ("Supported", "Mixed", "Not supported")


def verdict(per_seed: Sequence[bool], overall: bool) -> str:
    """A claim's verdict from its test on each training seed and on the seed-aware interval.

    Supported: it holds for every seed and the interval over seeds and pairs excludes the alternative. Not
    supported: it holds for no seed and not for the interval. Mixed: anything between, the seeds disagree or
    chance over seeds could undo it.

    >>> verdict([True, True, True], True), verdict([True, False, True], False), verdict([False], False)
    ('Supported', 'Mixed', 'Not supported')
    """
    if all(per_seed) and overall:
        return VERDICTS[0]
    if not any(per_seed) and not overall:
        return VERDICTS[2]
    return VERDICTS[1]


def seed_entries(report: Mapping, row: str = "huenet") -> list[Mapping]:
    """Each training seed's own entry of ``row`` (pairs resampled only); the row itself when it has one seed."""
    runs = (report.get("seed_runs") or {}).get(row)
    return list(runs.values()) if runs else [report["methods"][row]]


def _claim(report: Mapping, holds: Callable[[Mapping], bool], overall: Callable[[Mapping], bool] | None = None,
           row: str = "huenet") -> str:
    """``holds(entry)`` on each seed's entry of ``row`` and ``overall`` (default: ``holds``) on its seed-aware
    entry, as a verdict."""
    return verdict([holds(e) for e in seed_entries(report, row)], (overall or holds)(report["methods"][row]))


def _seeds_holding(report: Mapping, holds: Callable[[Mapping], bool], row: str = "huenet") -> str:
    entries = seed_entries(report, row)
    return f"{sum(holds(e) for e in entries)} of {len(entries)} seeds"


def _closer(report: Mapping) -> Callable[[Mapping], bool]:
    return lambda e: _below(e["emd_tar_out"], report["emd_tar_src"])


def _more_mi(report: Mapping) -> Callable[[Mapping], bool]:
    return lambda e: _below(report["methods"]["huenet-no-mi"]["rel_mi_src_out"], e["rel_mi_src_out"])


def _paints_by_region(report: Mapping) -> Callable[[Mapping], bool]:
    """Context dependence above both colour maps' (intervals apart), and hue noise at most :data:`NOISE_MARGIN`
    above the source's own on its flat pixels (the excess's interval wholly below the margin)."""
    methods = report["methods"]

    def holds(e: Mapping) -> bool:
        above = e["context"]["mean"] is not None and all(
            methods[k]["context"]["mean"] is not None and _below(methods[k]["context"], e["context"])
            for k in COLOUR_MAPS)
        return above and e["hue_noise_excess"]["mean"] is not None and e["hue_noise_excess"]["ci95"][1] <= NOISE_MARGIN

    return holds


def closer_to_target(report: Mapping) -> str:
    """Claim 1: Hue-Net's EMD TAR-OUT interval lies wholly below the sources' EMD TAR-SRC interval."""
    return _claim(report, _closer(report))


def mi_ties_to_source(report: Mapping) -> str:
    """Claim 2: relative MI SRC-OUT with the MI loss has its interval wholly above the one without it."""
    return _claim(report, _more_mi(report))


def not_a_colour_map(report: Mapping, row: str = "huenet") -> str:
    """Beyond the paper (its section 3): ``row`` paints by region, not as one colour -> hue map of the source. Its
    coarse context dependence has its interval wholly above both colour maps' (Reinhard, hue histogram matching),
    and its hue noise on the sources' flat pixels exceeds the sources' own by at most :data:`NOISE_MARGIN` (a margin
    fixed before any trained model was scored): context without noise."""
    return _claim(report, _paints_by_region(report), row=row)


def paper_tar_src_is_non_cyclic(report: Mapping) -> bool:
    """Whether the paper's mean EMD TAR-SRC is nearer our non-cyclic W1 of the pairs than our cyclic one.

    The paper does not say which W1 it prints; the nearer one is the likelier reading.
    """
    paper = PAPER_MEANS["emd_tar_src"]
    return abs(paper - report["emd_tar_src_linear"]["mean"]) < abs(paper - report["emd_tar_src"]["mean"])


def seeds_sentence(report: Mapping, row: str = "huenet") -> str:
    """How a row's numbers come from its training seeds, for the text beside the tables."""
    entries = seed_entries(report, row)
    if len(entries) < 2:
        return "Hue-Net is one training seed: its intervals resample pairs only."
    means = ", ".join(f"{e['emd_tar_out']['mean']:.3f}" for e in entries)
    return (f"Hue-Net is the mean of {len(entries)} training seeds (EMD TAR-OUT {means}), its intervals resampling "
            "seeds and pairs; the other learned rows are one seed each.")


def _reading_sentence(readings: Mapping[str, Mapping]) -> str:
    """Claim 2 under the three losses of the claims study (validation pairs), one clause each."""
    clauses = [f"{name} {r['verdict']} ({r['seeds_holding']} of {r['seeds']} seeds; relative MI {r['with_mi']:.3f} "
               f"with the MI loss, {r['without_mi']:.3f} without)" for name, r in readings.items()]
    return "; ".join(clauses)


def paper_claims(report: Mapping, study: Mapping | None = None, *, beside_the_paper: bool = True) -> str:
    """The paper's two measurable claims on Table 1's test pairs, and claim 2 under its own losses from the claims
    study (``reports/claims.json``, validation pairs) when given: a numbered Markdown list. ``beside_the_paper``:
    quote the paper's numbers, which are the flowers' (not for the cars' table)."""
    methods = report["methods"]
    hue_net, no_mi = methods["huenet"], methods["huenet-no-mi"]
    paper = PAPER_MEANS
    source, output = report["emd_tar_src"]["mean"], hue_net["emd_tar_out"]["mean"]
    nearer = ("non-cyclic", report["emd_tar_src_linear"]["mean"]) if paper_tar_src_is_non_cyclic(report) \
        else ("cyclic", source)
    literal = ""
    if study and study.get("claim2"):
        literal = (" Under each loss the claims study trained with and without the MI loss, seed by seed, on "
                   f"validation pairs ([reports/claims.md](reports/claims.md)): {_reading_sentence(study['claim2'])}.")
    quote_1 = (f" (the paper: {paper['emd_tar_out'] / paper['emd_tar_src']:.2f}; its TAR-SRC is nearer our "
               f"{nearer[0]} W1 of the same pairs, {nearer[1]:.3f})" if beside_the_paper else "")
    quote_2 = (f" (the paper: {paper['rel_mi_src_out']:.3f} against {paper['rel_mi_src_out_no_mi']:.3f})"
               if beside_the_paper else "")
    items = [
        f"**Closer to the target.** {closer_to_target(report)} ({_seeds_holding(report, _closer(report))}): EMD "
        f"TAR-OUT {format_ci(hue_net['emd_tar_out'])} against TAR-SRC {format_ci(report['emd_tar_src'])}, a ratio "
        f"of {output / source:.2f}{quote_1}.",
        f"**The MI loss ties the output to the source.** {mi_ties_to_source(report)} "
        f"({_seeds_holding(report, _more_mi(report))}): relative MI SRC-OUT {format_ci(hue_net['rel_mi_src_out'])} "
        f"with the MI loss, {format_ci(no_mi['rel_mi_src_out'])} without{quote_2}.{literal}",
    ]
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def column_sentences(summary: Mapping, *, compact: bool = False) -> str:
    """Each column with a better side, and the method that wins it by :func:`column_leaders`, or the methods tied at
    its top: one Markdown list item per column, or with ``compact`` one sentence."""
    items = []
    for key, meaning in MEANINGS.items():
        leaders = column_leaders(summary["methods"], key)
        if not leaders:
            continue
        who = f"**{leaders[0]}**" if len(leaders) == 1 else ", ".join(leaders) + " (tied)"
        items.append(f"{meaning} ({COLUMNS[key]}): {who}" if compact
                     else f"- {COLUMNS[key]} ({DIRECTIONS[key]} is better: {meaning}): {who}.")
    return ("Each column's winner: " + "; ".join(items) + ".") if compact else "\n".join(items)


def _soiffer_zhang(report: Mapping) -> str:
    methods, subset = report["methods"], report["feature_matching_subset"]
    gan, fm, hue_net_k = methods["color-gan"], subset["methods"]["feature-matching"], subset["methods"]["huenet"]

    def mean(entry: Mapping, key: str) -> str:
        return f"{entry[key]['mean']:.3f}"

    return (f"**Soiffer & Zhang's systems** aim at the target's mean colour, not its hue histogram. On the first "
            f"{subset['pairs']} pairs feature matching reaches EMD {mean(fm, 'emd_tar_out')} (Hue-Net "
            f"{mean(hue_net_k, 'emd_tar_out')}), grey SSIM {mean(fm, 'ssim')} (Hue-Net {mean(hue_net_k, 'ssim')}) and "
            f"KID x 1000 {format_kid(fm['realism_kid'])} (Hue-Net {format_kid(hue_net_k['realism_kid'])}, the "
            f"untouched sources {format_kid(subset['realism_sources']['realism_kid'])}); on all the pairs the colour "
            f"GAN reaches EMD {mean(gan, 'emd_tar_out')}, grey SSIM {mean(gan, 'ssim')} and KID x 1000 "
            f"{format_kid(gan['realism_kid'])}.")


def beyond_the_paper(report: Mapping, *, compact: bool = False) -> str:
    """The replication's own comparisons: the columns' winners (one sentence with ``compact``), Soiffer & Zhang's
    systems (where the report has them), and whether Hue-Net (and the model without the MI loss) paints by region:
    Markdown."""
    methods = report["methods"]
    hue_net, no_mi = methods["huenet"], methods["huenet-no-mi"]
    noise = (f"hue noise {_cell(hue_net, 'hue_noise')} against the sources' own "
             f"{_cell(report, 'hue_noise_src')} on the same flat pixels")
    region = (
        f"**Painting by region, not a colour map** (the paper's section 3: the insect painted apart from the petals). "
        f"Hue-Net: {not_a_colour_map(report)} ({_seeds_holding(report, _paints_by_region(report))}). Its context "
        f"dependence at the 4 x 4 scale, the share of the output's hue variance that no map of the source colour "
        f"explains, is {_cell(hue_net, 'context')}, against {_cell(methods['reinhard'], 'context')} for Reinhard and "
        f"{_cell(methods['histmatch'], 'context')} for hue histogram matching, colour maps by construction; its "
        f"{noise}, an excess of {_cell(hue_net, 'hue_noise_excess')} (the rule allows {NOISE_MARGIN}). Without the "
        f"MI loss, by the same rule: {not_a_colour_map(report, 'huenet-no-mi')} (context dependence "
        f"{_cell(no_mi, 'context')}, hue noise excess {_cell(no_mi, 'hue_noise_excess')}).")
    if compact:
        region = (
            f"**Painting by region, not a colour map** (the paper's section 3; context dependence above both colour "
            f"maps' and hue noise at most {NOISE_MARGIN} above the sources' own): Hue-Net "
            f"{not_a_colour_map(report)} ({_seeds_holding(report, _paints_by_region(report))}; hue noise excess "
            f"{_cell(hue_net, 'hue_noise_excess', counts=False)}), without the MI loss "
            f"{not_a_colour_map(report, 'huenet-no-mi')} (excess {_cell(no_mi, 'hue_noise_excess', counts=False)}).")
    return "\n\n".join([
        *([column_sentences(report, compact=True) + " (A method wins a column when its interval lies apart from "
           "every other's; [docs/metrics.md](docs/metrics.md) says which side of each is better.)"] if compact else [
            f"Column by column, on all {report['pairs']} pairs (a method wins a column when its interval lies apart "
            "from every other method's; KID's interval is its mean ± its spread over subsets):",
            column_sentences(report)]),
        *([_soiffer_zhang(report)] if "feature_matching_subset" in report else []),
        region,
    ])


def source_vs_target(report: Mapping, *, beside_the_paper: bool = True) -> str:
    """One sentence: how far the targets' hues are from the sources', before any method, with the paper's (flower)
    means where ``beside_the_paper``."""
    emd_quote = f"; the paper: {PAPER_MEANS['emd_tar_src']:.3f}" if beside_the_paper else ""
    mi_quote = f" (the paper: {PAPER_MEANS['rel_mi_src_tar']:.3f})" if beside_the_paper else ""
    return (f"Source vs target: EMD TAR-SRC {format_ci(report['emd_tar_src'])} (cyclic W1) and "
            f"{format_ci(report['emd_tar_src_linear'])} (non-cyclic W1, hue cut at red{emd_quote}), relative MI "
            f"SRC-TAR {format_ci(report['rel_mi_src_tar'])}{mi_quote}.")


def method_means(report: Mapping) -> str:
    """Every method's means over all the pairs, then over feature matching's prefix of them (Markdown)."""
    subset = report["feature_matching_subset"]
    return "\n\n".join([
        f"{source_vs_target(report)} EMD TAR-OUT is the cyclic W1, as in the claims; the non-cyclic column is for "
        "comparison with the paper's printed numbers. The realism distances are to real training images, not "
        "the sources; the untouched sources score FD "
        f"{report['realism_sources']['realism_fd']:.1f} and KID x 1000 "
        f"{format_kid(report['realism_sources']['realism_kid'])}. RGB-uv Hellinger SRC-TAR: "
        f"{format_ci(report['rgbuv_src_tar'])}. Context dependence is undefined for a pair whose output is nearly "
        "one hue; its count of defined pairs is shown where some are not.",
        summary_table(report),
        f"Feature matching (Soiffer & Zhang 2018, 3.1) optimises every image, so its row is scored on the first "
        f"{subset['pairs']} of the pairs (`pairs` column). Every method on those {subset['pairs']} pairs, the realism "
        f"distances at equal sample size (untouched sources: FD {subset['realism_sources']['realism_fd']:.1f}); "
        "EMD TAR-SRC "
        f"{format_ci(subset['emd_tar_src'])}:",
        summary_table(subset),
    ])


def table1_markdown(report: Mapping, scores: Mapping, *, crop_size: int) -> str:
    """``reports/table1.md``: the means, the seven pairs beside the paper's, the claims checked.

    Args:
        report: :func:`table1_report`'s dict.
        scores: :func:`huenet.eval.evaluate.score`'s per-pair values of all the pairs.
        crop_size: the pairs' side in pixels.
    """
    return "\n\n".join([
        "# Table 1, reproduced",
        f"Generated by `notebooks/05-table1.ipynb` (`dvc repro`). {report['pairs']} fixed-seed test pairs at "
        f"{crop_size} px; mean [bootstrap 95% CI]. Realism is a Frechet distance (FD) and a kernel "
        f"distance (KID, mean ± standard deviation over {report['kid_subsets'][0]} subsets of at most "
        f"{report['kid_subsets'][1]} images) on EfficientNet-Lite0 features to real training images, **not "
        "comparable to published FID or KID**. How each metric follows the published one it is named after: "
        "[docs/metrics.md](../docs/metrics.md).",
        method_means(report),
        "## Hue-Net's training seeds, each on its own",
        seeds_sentence(report) + " Each seed's row below resamples pairs only.",
        summary_table({"methods": dict((report.get("seed_runs") or {}).get("huenet")
                                       or {"huenet": report["methods"]["huenet"]})}),
        f"## Seven pairs, beside the paper's ({PAPER_CITATION})",
        "Our seven rows are the first seven of the random test pairs, not the paper's images (Figure 6's pairs are "
        "not identified in its text), and the means beside the paper's are over these seven only: a comparison of "
        "magnitudes, not of images.",
        seven_pairs(scores),
        "## The paper's claims, checked",
        CLAIMS_NOTE,
        paper_claims(report),
        "## Beyond the paper",
        beyond_the_paper(report),
    ]) + "\n"


def write_table1(report_dir: str | os.PathLike, report: Mapping, scores: Mapping, *, crop_size: int) -> None:
    """Write ``table1.json``, ``table1.md`` and ``metrics/table1.json`` (:func:`headline`) into ``report_dir``."""
    report_dir = Path(report_dir)
    (report_dir / "metrics").mkdir(parents=True, exist_ok=True)
    (report_dir / "table1.json").write_text(json.dumps(report, indent=1) + "\n")
    (report_dir / "metrics" / "table1.json").write_text(json.dumps(headline(report), indent=1) + "\n")
    (report_dir / "table1.md").write_text(table1_markdown(report, scores, crop_size=crop_size))


def seeds_on_validation(runs: Sequence[Mapping]) -> str:
    """The spread of a model's training seeds on its validation pairs, from their headline metrics (each run's
    ``emd_ratio`` and ``rel_mi_src_out``): one sentence."""
    ratios, mis = (np.array([r[key] for r in runs]) for key in ("emd_ratio", "rel_mi_src_out"))
    return (f"On the cars' validation pairs its {len(runs)} training seeds give EMD ratios "
            f"{', '.join(f'{v:.3f}' for v in ratios)} (standard deviation {ratios.std(ddof=1):.3f}) and relative MI "
            f"{', '.join(f'{v:.3f}' for v in mis)} ({mis.std(ddof=1):.3f}): the spread a verdict on one seed cannot "
            "see." if len(runs) > 1 else "Its other seeds have not been trained.")


def cars_markdown(report: Mapping, reverse: Mapping, seeds_sentence_text: str, *, crop_size: int) -> str:
    """``reports/cars/table1.md``: the cars' Table 1 with the flowers' columns, the cars model on flower pairs, the
    claims read by the same rules (on one seed)."""
    return "\n\n".join([
        "# Table 1 on cars",
        f"Generated by `notebooks/08-cars.ipynb` (`dvc repro table1_cars`). {report['pairs']} fixed-seed random pairs "
        f"of the cars' test images at {crop_size} px, mean [95% CI]; the pairs share their images (each test image is "
        "in several pairs), so the intervals resample images, not pairs (Owen's pigeonhole bootstrap, "
        "`huenet.eval.metrics.image_bootstrap_ci`). Hue-Net is trained on the cars with the loss chosen on flower "
        "validation pairs (no calibration of its own); `huenet-flowers` is the flowers' model on the same pairs.",
        source_vs_target(report, beside_the_paper=False),
        summary_table(report, README_COLUMNS),
        "## The models across datasets",
        f"The cars model and the flowers model on the flowers' first {reverse['pairs']} test pairs (Table 1's), "
        "pairs resampled:",
        summary_table(reverse, tuple(c for c in README_COLUMNS if not c.startswith("realism"))),
        "## The claims, by the same rules",
        "Hue-Net's row is one training seed (seed 0): each verdict rests on it. " + seeds_sentence_text,
        paper_claims(report, beside_the_paper=False),
        beyond_the_paper(report),
    ]) + "\n"


def verdicts(report: Mapping) -> dict[str, str]:
    """Each claim read on a dataset's table, by the rules above."""
    return {"closer to the target": closer_to_target(report), "the MI loss ties the output to the source":
            mi_ties_to_source(report), "painting by region, not a colour map": not_a_colour_map(report)}


def cars_readme(cars: Mapping, flowers: Mapping) -> str:
    """The README's paragraph on the cars (``reports/cars/table1.json``): its table, each claim's verdict beside the
    flowers', and where the two disagree."""
    on_cars, on_flowers = verdicts(cars), verdicts(flowers)
    differ = [claim for claim in on_cars if on_cars[claim] != on_flowers[claim]]
    columns = ("emd_tar_out", "rel_mi_src_out", "context", "hue_noise", "realism_kid")
    return "\n\n".join([
        f"**Cars** (Stanford Cars, the paper's third dataset: [reports/cars/table1.md](reports/cars/table1.md), with "
        f"the seed spread on validation pairs). {cars['pairs']} random pairs of the cars' test images, the intervals "
        "resampling images; Hue-Net trained on cars with the flowers' loss, one seed. "
        f"{source_vs_target(cars, beside_the_paper=False)}",
        summary_table(cars, columns, counts=False),
        "Each claim, on cars (one seed) / on flowers: " + "; ".join(
            f"{claim}: {on_cars[claim]} / {on_flowers[claim]}" for claim in on_cars) + ". "
        + (f"Cars and flowers disagree on {len(differ)} of {len(on_cars)}: {', '.join(differ)}." if differ
           else "Cars and flowers agree on every claim."),
    ])


def readme_block(report: Mapping, study: Mapping | None = None, cars: Mapping | None = None) -> str:
    """The README's results, between its markers: the means of every method, the paper's claims (with claim 2 under
    the claims study's losses, ``study`` = ``reports/claims.json``), the replication's own comparisons, the cars'
    table (``reports/cars/table1.json``) where it exists, Figure 6."""
    return "\n\n".join([
        README_START,
        f"**Flowers** (Oxford 102): {report['pairs']} fixed-seed random test pairs, mean [bootstrap 95% CI] "
        "([reports/table1.md](reports/table1.md): every column, each seed, the seven first pairs beside the paper's). "
        f"{source_vs_target(report)} {seeds_sentence(report)}",
        summary_table(report, README_COLUMNS, counts=False),
        "**The paper's claims.** " + CLAIMS_NOTE.replace(" Every departure", "\n\nEvery departure"),
        paper_claims(report, study),
        "**Beyond the paper.** The paper compares no numbers with Reinhard; these comparisons are this replication's.",
        beyond_the_paper(report, compact=True),
        *([cars_readme(cars, report)] if cars else []),
        "![Figure 6, reproduced](reports/figures/figure6.png)",
        README_END,
    ])


def _split_readme(text: str) -> tuple[str, str, str]:
    """README text -> (before the block, the block with its markers, after it)."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no results block: {README_START!r} ... {README_END!r}")
    end += len(README_END)
    return text[:start], text[start:end], text[end:]


def readme_results(readme: str) -> str:
    """The results block of the README's text, markers included."""
    return _split_readme(readme)[1]


def update_readme(readme: str | os.PathLike = "README.md", report: str | os.PathLike = "reports/table1.json",
                  study: str | os.PathLike = "reports/claims.json",
                  cars: str | os.PathLike = "reports/cars/table1.json") -> bool:
    """Rewrite the README's results block from ``report`` (``reports/table1.json``) and, where they exist,
    ``study`` (``reports/claims.json``) and ``cars`` (``reports/cars/table1.json``); True if it changed."""
    text = Path(readme).read_text()
    before, block, after = _split_readme(text)

    def optional(path: str | os.PathLike) -> Mapping | None:
        return json.loads(Path(path).read_text()) if Path(path).is_file() else None

    new = readme_block(json.loads(Path(report).read_text()), optional(study), optional(cars))
    Path(readme).write_text(before + new + after)
    return new != block


def main(argv: Sequence[str]) -> int:
    """``huenet readme``: rewrite README.md's results block from reports/table1.json."""
    if list(argv) in (["-h"], ["--help"]):
        print("usage: huenet readme   (from the repository root)")
        return 0
    if argv:
        print("usage: huenet readme   (from the repository root)", file=sys.stderr)
        return 2
    print("README.md: results " + ("rewritten" if update_readme() else "unchanged"))
    return 0
