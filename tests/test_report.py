"""Table 1's report: the files notebook 05 writes, the claims' rules, and the README's results block."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from huenet.eval.evaluate import score, summarise, table1_rows
from huenet.pipeline.report import (
    PAPER_MEANS,
    README_END,
    README_START,
    beyond_the_paper,
    cars_readme,
    closer_to_target,
    column_leaders,
    headline,
    main,
    mi_ties_to_source,
    not_a_colour_map,
    paper_claims,
    paper_tar_src_is_non_cyclic,
    readme_block,
    readme_results,
    seven_pairs,
    summary_table,
    table1_markdown,
    table1_report,
    update_readme,
    write_table1,
)
from tests.helpers import committed as _committed

ROOT = Path(__file__).resolve().parents[1]
METHODS = tuple(table1_rows("full.pt", "no_mi.pt", "gan.pt"))  # the rows the claims read, by the same keys


def _entry(mean: float, half_width: float = 0.01) -> dict:
    return {"mean": mean, "ci95": [round(mean - half_width, 4), round(mean + half_width, 4)]}


def _summary(pairs: int, emd_tar_src: float = 0.14, huenet_emd: float = 0.05, mi: float = 0.26,
             no_mi_mi: float = 0.06, reinhard_emd: float = 0.06, context: dict | None = None,
             noise_excess: dict | None = None) -> dict:
    """A summary in :func:`huenet.eval.evaluate.summarise`'s shape, every method present."""
    context = {"huenet": 0.3, **(context or {})}
    noise_excess = {"huenet-no-mi": 0.05, **(noise_excess or {})}
    kid = {"mean": 0.012, "std": 0.001}
    methods = {name: {"pairs": pairs, "emd_tar_out": _entry(0.1), "emd_tar_out_linear": _entry(0.2),
                      "rel_mi_src_out": _entry(0.2), "ssim": _entry(0.9), "edge_ssim": _entry(0.8),
                      "rgbuv_out_tar": _entry(0.3), "context": _entry(context.get(name, 0.05)),
                      "hue_noise": _entry(0.02 + noise_excess.get(name, 0.0), 0.002),
                      "hue_noise_excess": _entry(noise_excess.get(name, 0.0), 0.002),
                      "realism_fd": 30.0, "realism_kid": kid} for name in METHODS}
    methods["huenet"]["emd_tar_out"] = _entry(huenet_emd)
    methods["huenet"]["rel_mi_src_out"] = _entry(mi)
    methods["huenet-no-mi"]["rel_mi_src_out"] = _entry(no_mi_mi)
    methods["reinhard"]["emd_tar_out"] = _entry(reinhard_emd)
    return {"pairs": pairs, "emd_tar_src": _entry(emd_tar_src), "emd_tar_src_linear": _entry(0.25),
            "rel_mi_src_tar": _entry(0.04), "rgbuv_src_tar": _entry(0.4), "hue_noise_src": _entry(0.02, 0.002),
            "methods": methods,
            "realism_sources": {"realism_fd": 1.0, "realism_kid": kid}, "kid_subsets": [100, 500]}


def _report(**kwargs) -> dict:
    return table1_report(_summary(1000, **kwargs), _summary(200))


S, M, N = "Supported", "Mixed", "Not supported"


def test_claim_1_needs_the_intervals_apart():
    assert closer_to_target(_report(emd_tar_src=0.14, huenet_emd=0.05)) == S
    assert closer_to_target(_report(emd_tar_src=0.06, huenet_emd=0.05)) == N  # [0.04, 0.06] meets [0.05, 0.07]
    assert closer_to_target(_report(emd_tar_src=0.05, huenet_emd=0.14)) == N


def test_claim_2_needs_more_mi_with_the_mi_loss_and_the_intervals_apart():
    assert mi_ties_to_source(_report(mi=0.26, no_mi_mi=0.06)) == S
    assert mi_ties_to_source(_report(mi=0.26, no_mi_mi=0.25)) == N
    assert mi_ties_to_source(_report(mi=0.06, no_mi_mi=0.26)) == N


def test_a_column_is_won_only_by_an_interval_apart_from_every_other():
    report = _report(huenet_emd=0.03, reinhard_emd=0.057)
    report["methods"]["histmatch"]["emd_tar_out"] = _entry(0.003, 0.001)
    assert column_leaders(report["methods"], "emd_tar_out") == ["histmatch"]
    report["methods"]["histmatch"]["emd_tar_out"] = _entry(0.035)  # overlaps Hue-Net's [0.02, 0.04]
    assert column_leaders(report["methods"], "emd_tar_out") == ["huenet", "histmatch"]
    report["methods"]["reinhard"]["ssim"] = _entry(0.95, 0.001)  # higher is better for what is kept
    assert column_leaders(report["methods"], "ssim") == ["reinhard"]
    report["methods"]["reinhard"]["realism_kid"] = {"mean": 0.005, "std": 0.002}  # KID: mean +- spread apart
    assert column_leaders(report["methods"], "realism_kid") == ["reinhard"]
    report["methods"]["reinhard"]["realism_kid"] = {"mean": 0.009, "std": 0.002}
    assert column_leaders(report["methods"], "realism_kid")[0] == "reinhard" and len(
        column_leaders(report["methods"], "realism_kid")) == len(METHODS)


def _with_seeds(report: dict, emd_means: list[float], half_width: float = 0.01) -> dict:
    """Hue-Net's row as the mean of seeds with these EMD means, its interval over seeds and pairs."""
    report = json.loads(json.dumps(report))
    row = report["methods"]["huenet"]
    report["seed_runs"] = {"huenet": {f"s{i}": row | {"emd_tar_out": _entry(m)} for i, m in enumerate(emd_means)}}
    mean = sum(emd_means) / len(emd_means)
    row["emd_tar_out"] = {"mean": mean, "ci95": [min(emd_means) - half_width, max(emd_means) + half_width],
                          "seed_means": emd_means}
    return report


def test_a_claim_is_supported_only_when_every_seed_holds():
    base = _report(emd_tar_src=0.14)
    assert closer_to_target(_with_seeds(base, [0.04, 0.045, 0.05])) == S
    assert closer_to_target(_with_seeds(base, [0.05, 0.13, 0.2])) == M  # one seed above the sources
    assert closer_to_target(_with_seeds(base, [0.15, 0.16, 0.2])) == N


def test_claims_name_how_many_seeds_hold():
    text = paper_claims(_with_seeds(_report(emd_tar_src=0.14), [0.04, 0.05, 0.16]))
    assert "1. **Closer to the target.** Mixed (2 of 3 seeds)" in text


def test_the_papers_tar_src_reading():
    assert PAPER_MEANS["emd_tar_src"] == 0.244
    assert paper_tar_src_is_non_cyclic(_report())  # 0.25 non-cyclic, 0.14 cyclic
    report = _report(emd_tar_src=0.24)
    assert not paper_tar_src_is_non_cyclic(report)


def test_the_painting_is_not_a_colour_map_needs_its_interval_above_both_colour_maps_and_no_noise():
    assert not_a_colour_map(_report(context={"huenet": 0.3, "reinhard": 0.05, "histmatch": 0.02})) == S
    assert not_a_colour_map(_report(context={"huenet": 0.3, "reinhard": 0.29})) == N  # intervals meet
    assert not_a_colour_map(_report(context={"huenet": 0.01})) == N
    # context from speckle: far above the colour maps, but noisier than the sources by more than the margin
    assert not_a_colour_map(_report(context={"huenet-no-mi": 0.6}), "huenet-no-mi") == N
    assert not_a_colour_map(_report(context={"huenet": 0.3}, noise_excess={"huenet": 0.009})) == N  # interval 0.011
    assert not_a_colour_map(_report(context={"huenet": 0.3}, noise_excess={"huenet": 0.007})) == S
    undefined = _report()
    undefined["methods"]["huenet"]["context"] = {"mean": None, "ci95": [None, None], "defined": 0}
    assert not_a_colour_map(undefined) == N


def test_claims_say_what_the_rules_decide():
    text = paper_claims(_report())
    assert text.startswith("1. **Closer to the target.** Supported (1 of 1 seeds): EMD TAR-OUT 0.050 [0.040, 0.060]")
    assert "2. **The MI loss ties the output to the source.** Supported" in text
    study = {"claim2": {"literal sum": {"verdict": N, "seeds": 3, "seeds_holding": 0, "with_mi": 0.045,
                                        "without_mi": 0.05}}}
    assert ("on validation pairs ([reports/claims.md](reports/claims.md)): literal sum Not supported (0 of 3 seeds; "
            "relative MI 0.045 with the MI loss, 0.050 without)") in paper_claims(_report(), study)
    failing = paper_claims(_report(emd_tar_src=0.05, huenet_emd=0.14, mi=0.06, no_mi_mi=0.26))
    assert failing.count("Not supported") == 2
    beyond = beyond_the_paper(_report(reinhard_emd=0.08))
    assert "- EMD TAR-OUT (lower is better: closest to the target's hues): **huenet**." in beyond
    assert "Hue-Net: Supported (1 of 1 seeds)" in beyond and "Without the MI loss, by the same rule: Not supported" \
        in beyond


def test_summary_table_says_how_many_pairs_each_method_had():
    summary = _summary(1000)
    summary["methods"]["feature-matching"]["pairs"] = 200
    del summary["methods"]["color-gan"]["realism_fd"]
    summary["methods"]["reinhard"]["context"] |= {"defined": 700}
    lines = summary_table(summary).splitlines()
    assert lines[0].startswith("| method | pairs | EMD TAR-OUT |")
    assert [line.split(" | ")[1] for line in lines[2:]] == ["1000"] * 5 + ["200"]
    assert lines[2] == ("| huenet | 1000 | 0.050 [0.040, 0.060] | 0.200 [0.190, 0.210] | 0.260 [0.250, 0.270] "
                        "| 0.900 [0.890, 0.910] | 0.800 [0.790, 0.810] | 0.300 [0.290, 0.310] | 0.300 [0.290, 0.310] "
                        "| 0.020 [0.018, 0.022] | 0.000 [-0.002, 0.002] | 12.0 ± 1.0 | 30.0 |")
    assert lines[6].endswith("|  |")  # no realism distance: an empty cell
    assert "| 0.050 [0.040, 0.060] (700 defined) |" in lines[4]  # some pairs without a context score


def _scores(n: int = 9) -> dict:
    rng = np.random.default_rng(0)
    per_pair = {name: {"emd_tar_out": rng.random(n), "rel_mi_src_out": rng.random(n)} for name in METHODS[:2]}
    return {"emd_tar_src": rng.random(n), "rel_mi_src_tar": rng.random(n), "methods": per_pair}


def test_seven_pairs_have_flat_headers_and_the_paper_beside_ours():
    scores = _scores()
    pairs, means = seven_pairs(scores).split("\n\n")
    header, _, *rows = pairs.splitlines()
    assert "('" not in header and header.startswith("| pair | paper EMD TAR-SRC | ours EMD TAR-SRC |")
    assert len(rows) == 7 and rows[0].startswith("| 1 | 0.175 | ")
    ours = float(rows[0].split(" | ")[2])
    assert ours == np.round(scores["emd_tar_src"][0], 3)
    assert means.splitlines()[0] == "|  | paper | ours (7 pairs) |"
    assert means.splitlines()[2] == f"| EMD TAR-SRC | 0.244 | {np.round(scores['emd_tar_src'][:7].mean(), 3):.3f} |"


def test_write_table1_writes_the_json_the_metrics_and_the_markdown(tmp_path: Path):
    report = _report()
    write_table1(tmp_path, report, _scores(), crop_size=64)
    assert (tmp_path / "table1.json").read_text() == json.dumps(report, indent=1) + "\n"
    assert json.loads((tmp_path / "metrics" / "table1.json").read_text()) == headline(report)
    markdown = (tmp_path / "table1.md").read_text()
    assert markdown == table1_markdown(report, _scores(), crop_size=64)
    assert "1000 fixed-seed test pairs at 64 px" in markdown and paper_claims(report) in markdown
    assert "not the paper's images" in markdown


class ReadmeShowsTheCommittedRun(UserWarning):
    """reports/table1.json is this machine's run, README.md still shows the committed one's numbers."""


def check_readme(root: Path) -> None:
    """The committed README shows the committed report; the working tree's shows its report or the committed one.

    ``dvc repro`` rewrites reports/table1.json, and on another CPU the same seeds train other numbers
    (docs/pipeline.md#reproducibility): the README's order, pipeline then tests, must not fail for that. A
    rerun is told how to show its own numbers instead.
    """
    readme, report = _committed(root, "README.md"), _committed(root, "reports/table1.json")
    if readme is None:
        pytest.skip(f"{root} is not a git checkout: the committed README and report are read from git")
    def optional(path: str):
        try:
            return _committed(root, path)
        except subprocess.CalledProcessError:  # not in the commit: the block leaves its part out
            return None

    extras = [json.loads(text) if text else None for text in map(optional, ("reports/claims.json",
                                                                              "reports/cars/table1.json"))]
    committed = readme_block(json.loads(report), *extras)
    assert readme_results(readme) == committed, \
        "the committed README.md does not show the committed reports/table1.json: run huenet readme"
    shown = readme_results((root / "README.md").read_text())
    def current(path: str):
        return json.loads((root / path).read_text()) if (root / path).is_file() else None

    if shown == readme_block(current("reports/table1.json"), current("reports/claims.json"),
                             current("reports/cars/table1.json")):
        return
    assert shown == committed, "README.md's results block shows neither reports/table1.json nor the committed " \
        "report: run huenet readme"
    warnings.warn(ReadmeShowsTheCommittedRun(
        "reports/table1.json is not the committed one (this machine's run: docs/pipeline.md#reproducibility), "
        "README.md shows the committed numbers; to show yours: huenet readme"), stacklevel=2)


def test_the_readme_shows_the_committed_report():
    """The README's results block is generated: refresh it with ``huenet readme``."""
    check_readme(ROOT)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.com",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_readme_check_warns_after_a_rerun_and_fails_on_a_stale_commit(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # update_readme reads the optional claims and cars reports from the working directory
    readme, report = tmp_path / "README.md", tmp_path / "reports" / "table1.json"
    report.parent.mkdir()
    committed, rerun = _report(), _report(mi=0.246)  # Hue-Net's relative MI of a run on another CPU
    report.write_text(json.dumps(committed))
    readme.write_text(f"# title\n\n{README_START}\n{README_END}\n")
    update_readme(readme, report)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "the committed run")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_readme(tmp_path)  # a fresh clone: silent
        report.write_text(json.dumps(rerun))
        with pytest.warns(ReadmeShowsTheCommittedRun, match="huenet readme"):
            check_readme(tmp_path)  # the pipeline rewrote the report: told, not failed
        update_readme(readme, report)
        check_readme(tmp_path)  # the README refreshed from the rerun: silent again
    readme.write_text(readme.read_text().replace("0.246", "0.999"))
    with pytest.raises(AssertionError, match="shows neither"):
        check_readme(tmp_path)  # an edited block
    _git(tmp_path, "checkout", "-q", "README.md")
    _git(tmp_path, "commit", "-qam", "a new report, the README not refreshed")
    with pytest.raises(AssertionError, match="committed README.md does not show"):
        check_readme(tmp_path)
    (tmp_path / "plain").mkdir()
    with pytest.raises(pytest.skip.Exception, match="not a git checkout"):
        check_readme(tmp_path / "plain")


def test_the_readme_is_at_most_10_kb():
    assert (ROOT / "README.md").stat().st_size <= 10_000


def test_update_readme_rewrites_only_the_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    report = _report()
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "table1.json").write_text(json.dumps(report))
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{README_START}\nstale numbers\n{README_END}\n\nthe rest\n")
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    assert readme.read_text() == f"# title\n\n{readme_block(report)}\n\nthe rest\n"
    assert not update_readme(readme, tmp_path / "reports" / "table1.json")  # already current
    assert main(["README.md"]) == 2
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="no results block"):
        update_readme(readme, tmp_path / "reports" / "table1.json")


def test_a_real_summary_fits_the_report():
    """score -> summarise -> the report's writers, end to end on small random pairs."""
    g = torch.Generator().manual_seed(0)
    source, target = torch.rand(8, 3, 16, 16, generator=g), torch.rand(8, 3, 16, 16, generator=g)
    outputs = {name: target if name != "feature-matching" else target[:4] for name in METHODS}
    scores = score(source, target, outputs)
    subset = summarise(score(source[:4], target[:4], {k: v[:4] for k, v in outputs.items()}), n_boot=20)
    report = table1_report(summarise(scores, n_boot=20), subset)
    for entry in (report, subset):  # score adds realism only with a feature extractor: stand-in values
        entry["realism_sources"] = {"realism_fd": 1.0, "realism_kid": {"mean": 0.0, "std": 0.0}}
        entry["kid_subsets"] = [100, 500]
        for values in entry["methods"].values():
            values["realism_fd"], values["realism_kid"] = 2.0, {"mean": 0.1, "std": 0.01}
    assert "| feature-matching | 4 |" in table1_markdown(report, scores, crop_size=16)


def test_the_readme_shows_the_cars_beside_the_flowers_and_where_they_disagree():
    flowers = _report()
    cars = json.loads(json.dumps(flowers))
    cars["methods"]["huenet"]["rel_mi_src_out"] = _entry(0.06)  # no more MI with the MI loss on cars
    text = cars_readme(cars, flowers)
    assert ("the MI loss ties the output to the source: Not supported / Supported" in text
            and "Cars and flowers disagree on 1 of 3: the MI loss ties the output to the source." in text)
    assert "Cars and flowers agree on every claim." in cars_readme(flowers, flowers)
    block = readme_block(flowers, None, cars)
    assert "**Cars** (Stanford Cars" in block and "**Cars**" not in readme_block(flowers)
