"""Table 1's scoring: its rows are the registry's methods with their model files, scored on all pairs or on a
prefix of them, in summaries that say how many."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import huenet
from huenet.baselines.color_gan import ColorGANConfig, ColorGenerator, color_gan, load_color_gan, save_color_gan
from huenet.core.color import mean_color
from huenet.eval.evaluate import Row, apply_method, labels, score, seed_groups, summarise, table1_rows
from huenet.eval.metrics import hue_emd
from huenet.nets.hue_net import UNetGenerator, inference_generator, load_generator, paint, save_generator
from huenet.paint.command import transfer_parser
from huenet.paint.methods import get_method, methods
from huenet.paint.translations import translation_mean
from huenet.pipeline.report import headline

ROOT = Path(__file__).resolve().parents[1]


def _pairs(n: int = 6, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)


@pytest.mark.slow
def test_a_prefix_is_scored_against_its_own_pairs():
    source, target = _pairs()
    scores = score(source, target, {"copy": source, "copy_of_3": source[:3]})
    copy, prefix = scores["methods"]["copy"], scores["methods"]["copy_of_3"]
    # copying the source scores the source-target distance of the same pairs, and SSIM 1
    np.testing.assert_allclose(copy["emd_tar_out"], hue_emd(target, source))
    np.testing.assert_allclose(prefix["emd_tar_out"], copy["emd_tar_out"][:3])
    np.testing.assert_allclose(prefix["ssim"], 1.0)
    summary = summarise(scores, n_boot=50)
    assert summary["pairs"] == 6
    assert summary["methods"]["copy"]["pairs"] == 6 and summary["methods"]["copy_of_3"]["pairs"] == 3


@pytest.mark.slow
def test_a_row_of_several_seeds_is_their_mean_and_keeps_each_seed_apart():
    source, target = _pairs()
    noise = torch.Generator().manual_seed(3)
    outputs = {"huenet": target, "huenet-seed1": source, "reinhard": target}
    rows = table1_rows("a.pt", "b.pt", "c.pt", full_seeds=["s1.pt", "s2.pt"])
    assert seed_groups(rows) == {"huenet": ["huenet", "huenet-seed1", "huenet-seed2"]}
    assert rows["huenet-seed2"].model == "s2.pt" and rows["huenet-seed2"].method == "huenet"
    outputs["huenet-seed2"] = (source + 0.1 * torch.rand(source.shape, generator=noise)).clamp(0, 1)
    scores = score(source, target, outputs)
    # These synthetic sources have no flat region, so hue noise is undefined on every pair of every seed; summarise
    # does not yet turn a metric that no seed defines into an undefined entry (it raises), so it is left out here.
    for method in scores["methods"].values():
        del method["hue_noise"], method["hue_noise_excess"]
    summary = summarise(scores, n_boot=200, seeds=seed_groups(rows))
    assert list(summary["methods"]) == ["huenet", "reinhard"]  # the other seeds are no rows of their own
    entry, runs = summary["methods"]["huenet"], summary["seed_runs"]["huenet"]
    assert entry["seeds"] == 3 and list(runs) == ["huenet", "huenet-seed1", "huenet-seed2"]
    seed_means = [runs[k]["emd_tar_out"]["mean"] for k in runs]
    assert entry["emd_tar_out"]["seed_means"] == seed_means
    assert entry["emd_tar_out"]["mean"] == pytest.approx(np.mean(seed_means), abs=1e-4)
    # the interval over seeds and pairs is wider than seed 0's over pairs alone: the seeds disagree
    width = lambda e: e["ci95"][1] - e["ci95"][0]  # noqa: E731
    assert width(entry["emd_tar_out"]) > width(runs["huenet"]["emd_tar_out"])


@pytest.mark.parametrize("bad", [lambda s: s[:, :, :8], lambda s: torch.cat((s, s)), lambda s: s[:0]])
def test_outputs_that_are_not_a_prefix_are_refused(bad):
    source, target = _pairs()
    with pytest.raises(ValueError, match="or a prefix of it"):
        score(source, target, {"bad": bad(source)})


class _MeanColourFeatures:
    """A stand-in feature extractor: each image's mean colour and its square (cheap, deterministic)."""

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        m = images.mean((2, 3)).double()
        return torch.cat((m, m**2), 1).numpy()


@pytest.mark.slow
def test_precomputed_real_features_give_the_same_realism_distance():
    source, target = _pairs(8)
    real = _pairs(12)[0]
    features = _MeanColourFeatures()
    outputs = {"copy": source, "half": source[:4]}
    by_images = score(source, target, outputs, features=features, real=real)
    by_features = score(source, target, outputs, features=features, real_features=features(real))
    assert by_images["realism_sources"] == by_features["realism_sources"]
    assert by_images["realism_sources"]["realism_fd"] > 0
    for name in outputs:
        for key in ("realism_fd", "realism_kid"):
            assert by_images["methods"][name][key] == by_features["methods"][name][key]


@pytest.mark.slow
def test_features_computed_once_serve_a_prefix_too():
    source, target = _pairs(8)
    features = _MeanColourFeatures()
    calls = []

    def counting(images: torch.Tensor) -> np.ndarray:
        calls.append(len(images))
        return features(images)

    outputs = {"copy": source, "half": source[:4]}
    known = {"sources": features(source), "copy": features(source), "half": features(source[:4])}
    full = score(source, target, outputs, features=counting, real_features=features(source), image_features=known)
    prefix = score(source[:4], target[:4], {k: v[:4] for k, v in outputs.items()}, features=counting,
                   real_features=features(source), image_features=known)
    assert calls == []  # every feature came from `known`
    direct = score(source[:4], target[:4], {k: v[:4] for k, v in outputs.items()}, features=features,
                   real_features=features(source))
    assert prefix["methods"]["copy"]["realism_fd"] == direct["methods"]["copy"]["realism_fd"]
    assert full["realism_sources"]["realism_fd"] == full["methods"]["copy"]["realism_fd"]
    assert full["realism_sources"]["realism_kid"] == full["methods"]["copy"]["realism_kid"]


def test_headline_is_flat_per_method_and_has_the_non_cyclic_emd_beside():
    source, target = _pairs()
    scores = score(source, target, {"copy": source}, features=_MeanColourFeatures(), real=_pairs(12)[0])
    np.testing.assert_allclose(scores["methods"]["copy"]["emd_tar_out_linear"], hue_emd(target, source, cyclic=False))
    summary = summarise(scores, n_boot=50)
    copy = summary["methods"]["copy"]
    assert headline(summary) == {"copy": {"emd": copy["emd_tar_out"]["mean"], "mi": copy["rel_mi_src_out"]["mean"],
                                          "ssim": copy["ssim"]["mean"], "rgbuv": copy["rgbuv_out_tar"]["mean"],
                                          "edge_ssim": copy["edge_ssim"]["mean"], "context": copy["context"]["mean"],
                                          "fd": copy["realism_fd"], "kid": copy["realism_kid"]["mean"]}}
    assert copy["edge_ssim"]["mean"] == 1.0 and copy["rgbuv_out_tar"]["mean"] == summary["rgbuv_src_tar"]["mean"]


def test_the_mean_of_a_score_with_undefined_pairs_is_over_the_defined_ones():
    from huenet.eval.evaluate import _ci

    assert _ci(np.array([0.1, np.nan, 0.3]), 50, 0) == {"mean": 0.2, "ci95": [0.1, 0.3], "defined": 2}
    assert _ci(np.array([np.nan]), 50, 0) == {"mean": None, "ci95": [None, None], "defined": 0}
    assert "defined" not in _ci(np.array([0.1, 0.3]), 50, 0)


@pytest.mark.slow
@pytest.mark.parametrize("module", ["huenet.eval.evaluate", "huenet.pipeline.report"])
def test_scoring_and_the_readme_command_need_no_dev_extras(module: str) -> None:
    """pandas and matplotlib are dev extras: a base install imports these (None in sys.modules blocks an import)."""
    code = f"""import sys
sys.modules.update(pandas=None, matplotlib=None)
import {module}
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_one_name_per_method_and_a_label_each():
    """The registry's names are the CLI's choices and Table 1's keys; each method has its own label."""
    registered = methods()
    assert list(registered) == ["huenet", "reinhard", "histmatch", "feature-matching", "color-gan"]
    for name in registered:  # what users type
        assert transfer_parser().parse_args(["s.png", "-o", "o.png", "--method", name]).method == name
    assert [m.label for m in registered.values()] == ["Hue-Net", "Reinhard", "hue hist. match", "feature match.",
                                                      "colour GAN"]
    rows = table1_rows("full.pt", "no_mi.pt", "gan.pt")
    assert list(rows) == ["huenet", "huenet-no-mi", "reinhard", "histmatch", "color-gan", "feature-matching"]
    assert {row.method for row in rows.values()} == set(registered)
    assert all(key == row.method for key, row in rows.items() if key != "huenet-no-mi")
    # two Hue-Net rows: one method, two model files, told apart by the label
    assert (rows["huenet"].method, rows["huenet-no-mi"].method) == ("huenet", "huenet")
    assert (rows["huenet"].model, rows["huenet-no-mi"].model) == ("full.pt", "no_mi.pt")
    assert labels(rows) == {"huenet": "Hue-Net", "huenet-no-mi": "w/o MI", "reinhard": "Reinhard",
                            "histmatch": "hue hist. match", "color-gan": "colour GAN",
                            "feature-matching": "feature match."}
    committed = json.loads((ROOT / "reports" / "table1.json").read_text())
    assert list(committed["methods"]) == list(rows) == list(committed["feature_matching_subset"]["methods"])
    assert list(json.loads((ROOT / "reports" / "metrics" / "table1.json").read_text())) == list(rows)


def test_a_hue_net_row_is_the_inference_of_huenet_transfer(tmp_path: Path):
    """One inference: Table 1's Hue-Net row, ``huenet.transfer`` and notebook 03 all run ``huenet.nets.hue_net.paint``
    on the generator as the registry loads it; ``huenet.transfer`` averages it over the input's translations
    (``huenet.paint.translations``) and is the raw network with ``steps=1``."""
    save_generator(UNetGenerator(width=4, depth=3), tmp_path / "g.pt")
    source, target = _pairs(3, 16)
    out = apply_method(Row("huenet", tmp_path / "g.pt").load(), source, target, batch_size=2)
    generator = inference_generator(load_generator(tmp_path / "g.pt"))
    torch.testing.assert_close(out, paint(generator, source, target).clamp(0, 1))
    for i in range(3):
        image = huenet.transfer(source[i : i + 1], target[i : i + 1], model=tmp_path / "g.pt")
        want = translation_mean(lambda s, t: paint(generator, s, t), source[i : i + 1], target[i : i + 1],
                                hue_only=True, spatial_target=True).clamp(0, 1)
        assert np.abs(np.asarray(image, dtype=float) / 255 - want[0].permute(1, 2, 0).numpy()).max() <= 0.5 / 255 + 1e-6
        raw = translation_mean(lambda s, t: paint(generator, s, t), source[i : i + 1], target[i : i + 1], steps=1)
        torch.testing.assert_close(raw.clamp(0, 1), out[i : i + 1])


def test_a_colour_row_aims_at_the_targets_mean_colour(tmp_path: Path):
    generator = ColorGenerator(noise_dim=3, width=4, layers=1)
    save_color_gan(generator, ColorGANConfig(noise_dim=3, gen_width=4, gen_layers=1), tmp_path / "gan.pt", step=0)
    source, target = _pairs(4, 16)
    row = table1_rows("full.pt", "no_mi.pt", tmp_path / "gan.pt")["color-gan"]
    expected = color_gan(source, mean_color(target), model=load_color_gan(tmp_path / "gan.pt"))
    torch.testing.assert_close(apply_method(row.load(), source, target), expected)
    assert get_method(row.method).uses_color


@pytest.mark.parametrize(("module", "not_imported"), [
    ("huenet.eval.evaluate", ["huenet.training.train"]),
    ("huenet.training.train", ["huenet.eval.metrics", "huenet.pipeline.report", "huenet.baselines"]),
    ("huenet.baselines.color_gan", ["huenet.eval.metrics", "huenet.pipeline.report", "huenet.training.train"]),
])
@pytest.mark.slow
def test_what_a_module_does_not_import(module: str, not_imported: list[str]) -> None:
    """Scoring runs no training code; training and the colour GAN run no scoring or report code (a change there
    must not rerun them: tests/test_stage_deps.py)."""
    code = f"""import sys
import {module}
found = [m for m in sys.modules if m.startswith(tuple({not_imported!r}))]
assert not found, found
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
