"""huenet.pipeline.gpu's profile and pack: the GPU settings over params.yaml, and what travels to the GPU machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from huenet.data.split import Split, make_split
from huenet.eval.evaluate import fixed_pairs
from huenet.pipeline.gpu.pack import build_pack, load_pack, table1_test_pairs
from huenet.pipeline.gpu.profile import read_profile
from huenet.training.params import read_group
from tests.helpers import ROOT, edited_params, synthetic_cache, synthetic_release


def test_the_profile_trains_the_chosen_loss_the_papers_and_the_chosen_without_mi_at_pix2pix_scale():
    profile = read_profile(ROOT / "params_gpu.yaml", ROOT / "params.yaml")
    runs = {run.name: run.config for run in profile.full.runs}
    chosen = read_group(ROOT / "params.yaml", "train")["config"]
    assert list(runs) == ["huenet", "huenet-literal", "huenet-no-mi"]
    for config in runs.values():
        assert (config.width, config.depth, config.amp, config.flips) == (64, 8, True, "vertical")
        assert config.device == "cuda"
    assert profile.full.crop_size == profile.pack.load_size == 256
    loss = ("emd_form", "emd_reduction", "lambda_emd", "lambda_mi", "mi_bins", "bins")
    assert [getattr(runs["huenet"], k) for k in loss] == [chosen[k] for k in loss]  # read from params.yaml
    assert [getattr(runs["huenet-literal"], k) for k in loss] == ["squared", "sum", 100, 25, None, chosen["bins"]]
    assert runs["huenet-no-mi"].lambda_mi == 0
    assert [getattr(runs["huenet-no-mi"], k) for k in loss if k != "lambda_mi"] == [
        chosen[k] for k in loss if k != "lambda_mi"]
    # the toy pass is the same runs, smaller
    toy = {run.name: run.config for run in profile.toy.runs}
    assert toy["huenet-literal"].emd_reduction == "sum" and toy["huenet"].width < 64 and toy["huenet"].depth == 8
    assert (profile.pack.table1_pairs, profile.pack.table1_seed) == (1000, 0)


def _params_gpu(folder: Path, change) -> Path:
    return edited_params(folder, "params_gpu.yaml", change)


@pytest.mark.parametrize("change, message", [
    (lambda p: p["train"]["config"].update(lamda_mi=3), r"unknown training \(.*huenet\) parameters: lamda_mi"),
    (lambda p: p["train"]["runs"]["huenet"].update(seed=1), "unknown keys seed"),
    (lambda p: p["toy"].pop("n_boot"), "missing keys n_boot"),
    (lambda p: p["toy"].update(test_pairs=10_000), "the pack holds"),
    (lambda p: p["train"].update(probe_steps=10_000), "probe_steps"),
    (lambda p: p["train"].update(crop_size=200), r"no multiple of 2 \*\* depth"),
])
def test_a_profile_that_could_not_run_is_refused_before_the_machine_starts(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        read_profile(_params_gpu(tmp_path, change), ROOT / "params.yaml")


def test_the_packed_pairs_are_table_1s_first_pairs():
    cache = synthetic_cache(n=30, size=8)
    test = list(cache.names[5:25])  # the notebook's cache holds every image, not only the test side's
    source, target = fixed_pairs(cache, test, crop_size=8, n_pairs=40, seed=3)
    names = table1_test_pairs(test, n_pairs=40, seed=3)[:12]
    for i, (s, t) in enumerate(names):
        assert torch.allclose(source[i], cache.images[cache.indices([s])][0].float() / 255, atol=1e-6)
        assert torch.allclose(target[i], cache.images[cache.indices([t])][0].float() / 255, atol=1e-6)


def _pack_settings(tmp_path: Path, **pack):
    def change(params):
        params["pack"] |= {"dir": str(tmp_path / "pack"), "train_images": 12, "test_pairs": 4} | pack
        params["train"]["config"]["batch_size"] = 2
        params["toy"] |= {"train_images": 2, "test_pairs": 1}

    path = _params_gpu(tmp_path, change)
    return read_profile(path, ROOT / "params.yaml").pack


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[list, Split]:
    """A small release of JPEGs and its split."""
    records = synthetic_release(tmp_path_factory.mktemp("release"), 24)
    return records, make_split([r.name for r in records], seed=0)


def test_the_pack_holds_the_cached_pixels_and_says_what_the_codec_did_to_them(tmp_path, release):
    records, split = release
    settings = _pack_settings(tmp_path)
    manifest = build_pack(records, split, settings, settings.dir)
    pack = load_pack(settings.dir)
    assert pack.split.train == split.train[:12] and pack.split.seed == split.seed
    assert [list(p) for p in pack.pairs] == [list(p) for p in table1_test_pairs(split.test, n_pairs=1000,
                                                                                 seed=0)[:4]]
    assert set(pack.test.names) == {n for pair in pack.pairs for n in pair}
    assert pack.train.images.shape[1:] == (3, 256, 256)
    # what the codec changed is small, measured and recorded: the test side at the higher quality
    for side in ("train", "test"):
        error = manifest[side]["colour_error"]
        assert error["images"] == len(getattr(pack, side).names)
        assert 0 < error["ciede2000"]["mean"] < 5 and 0 <= error["hue_emd"]["mean"] < 0.05
    delta_e = {side: manifest[side]["colour_error"]["ciede2000"]["mean"] for side in ("train", "test")}
    assert delta_e["test"] < delta_e["train"]
    assert json.loads((settings.dir / "manifest.json").read_text())["digest"] == manifest["digest"]


def test_a_pack_that_is_not_its_manifest_or_too_large_is_refused(tmp_path, release):
    records, split = release
    settings = _pack_settings(tmp_path, train_images=4, test_pairs=2)
    build_pack(records, split, settings, settings.dir)
    webp = next((settings.dir / "train").iterdir())
    webp.write_bytes(webp.read_bytes()[:-10])  # a copy cut short
    with pytest.raises(ValueError, match="not those of its manifest"):
        load_pack(settings.dir)
    small = _pack_settings(tmp_path / "small", train_images=4, test_pairs=2, max_mib=0.001)
    with pytest.raises(ValueError, match="over max_mib"):
        build_pack(records, split, small, small.dir)
