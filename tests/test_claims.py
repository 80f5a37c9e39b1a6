"""The claims study's rules (huenet.pipeline.claims): the flips the pipeline trains with, claim 2 under three losses."""

from __future__ import annotations

import pytest

from huenet.pipeline.claims import READINGS, claim2_readings, claims_markdown, claims_report, flips_choice, reading_of

SPREAD = {"emd_ratio": 0.04, "rel_mi_src_out": 0.005}


def _row(reading: str, with_mi: bool, seed: int, mi: float, ratio: float = 0.4, flips: str = "vertical",
         halfwidth: float = 0.01, study: str = "claims") -> dict:
    form, reduction, lambda_emd, lambda_mi, mi_bins = READINGS[reading]
    name = f"claims-{reading.replace(' ', '-')}-{'mi' if with_mi else 'nomi'}-{flips}-s{seed}"
    return {"experiment": name, "split": "validation", "study": study, "emd_form": form, "emd_reduction": reduction,
            "lambda_emd": lambda_emd, "lambda_mi": lambda_mi if with_mi else 0, "mi_bins": mi_bins, "flips": flips,
            "seed": seed, "emd_ratio": ratio, "rel_mi_src_out": mi, "rel_mi_src_out_lo": mi - halfwidth,
            "rel_mi_src_out_hi": mi + halfwidth, "grey_ssim": 0.9}


def test_every_reading_is_told_apart() -> None:
    for name in READINGS:
        assert reading_of(_row(name, True, 0, 0.2)) == (name, True)
        assert reading_of(_row(name, False, 0, 0.2)) == (name, False)
    assert reading_of({**_row("calibrated", True, 0, 0.2), "lambda_mi": 70}) is None


@pytest.mark.parametrize("mis, expected", [
    ([(0.26, 0.06)] * 3, "Supported"),
    ([(0.26, 0.06), (0.26, 0.06), (0.065, 0.06)], "Mixed"),  # one seed's intervals overlap
    ([(0.045, 0.05)] * 3, "Not supported"),  # the literal sum's finding: no more MI with the MI loss
])
def test_claim2_is_read_per_seed_and_over_the_seeds(mis: list[tuple[float, float]], expected: str) -> None:
    rows = [r for s, (w, wo) in enumerate(mis)
            for r in (_row("literal sum", True, s, w), _row("literal sum", False, s, wo))]
    readings = claim2_readings(rows, SPREAD)
    assert list(readings) == ["literal sum"] and readings["literal sum"]["verdict"] == expected
    assert readings["literal sum"]["seeds"] == 3


def test_claim2_reads_only_the_claims_runs_with_the_pipelines_flips() -> None:
    rows = [_row("calibrated", True, 0, 0.26), _row("calibrated", False, 0, 0.06),
            _row("calibrated", False, 1, 0.5, flips="horizontal"),
            _row("calibrated", True, 1, 0.1, study="calibration")]
    readings = claim2_readings(rows, SPREAD)
    assert readings["calibrated"]["seeds"] == 1 and readings["calibrated"]["verdict"] == "Supported"


def test_flips_stay_vertical_unless_another_beats_them_by_a_spread_at_no_lower_mi() -> None:
    def setting(flips: str, ratio: float, mi: float) -> list[dict]:
        return [_row("calibrated", True, s, mi, ratio=ratio, flips=flips) for s in (0, 1)]

    vertical = setting("vertical", 0.40, 0.26)
    # better by less than a spread, or by more but with less MI: vertical stays
    assert flips_choice([*vertical, *setting("horizontal", 0.37, 0.27), *setting("both", 0.30, 0.25)],
                        SPREAD)["choice"] == "vertical"
    choice = flips_choice([*vertical, *setting("horizontal", 0.35, 0.26), *setting("both", 0.30, 0.27)], SPREAD)
    assert choice["choice"] == "both" and choice["beats"] == ["both", "horizontal"]
    with pytest.raises(ValueError, match="two seeds"):
        flips_choice([*vertical, _row("calibrated", True, 0, 0.3, flips="both")], SPREAD)


def test_the_report_waits_for_the_flips_and_says_every_verdict() -> None:
    rows = [r for s in range(3) for r in (_row("literal mean", True, s, 0.2), _row("literal mean", False, s, 0.05))]
    report = claims_report(rows, SPREAD)
    assert report["flips"] is None and report["claim2"]["literal mean"]["verdict"] == "Supported"
    text = claims_markdown(report, rows)
    assert "**The flips**: not decided" in text and "- **literal mean**: Supported" in text
    rows += [_row("calibrated", True, s, 0.26, flips=f) for f in ("vertical", "horizontal") for s in (0, 1)]
    report = claims_report(rows, SPREAD)
    assert report["flips"]["choice"] == "vertical"
    assert "The pipeline trains **vertical**" in claims_markdown(report, rows)
