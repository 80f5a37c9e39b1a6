"""The Hue-Net weights the package ships are the committed pipeline model, and the command uses them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import huenet
from huenet.cli import main
from huenet.nets.hue_net import load_generator, weights_digest
from huenet.paint.methods import SHIPPED_MODEL, get_method, model_file
from tests.helpers import committed

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_weights_are_the_committed_pipeline_model() -> None:
    recorded = committed(ROOT, "reports/train_full.json")
    if recorded is None:
        pytest.skip("not a git checkout: no committed report to compare with")
    # the committed record, not the working tree's: a rerun on another CPU trains other weights (and may ship them)
    assert weights_digest(load_generator(SHIPPED_MODEL)) == json.loads(recorded)["generator_float16_sha256"]


def test_the_shipped_file_is_what_its_report_says() -> None:
    facts = json.loads((ROOT / "reports" / "shipped_model.json").read_text())
    assert facts["file"] == SHIPPED_MODEL.name and facts["bytes"] == SHIPPED_MODEL.stat().st_size
    assert facts["float16_sha256"] == weights_digest(load_generator(SHIPPED_MODEL))
    assert facts["largest_level_difference"] <= 1  # float16 keeps the float32 model's output to one 8-bit level


def test_without_a_models_folder_the_command_paints_with_the_shipped_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)  # no models/ here
    assert model_file(get_method("huenet")) == SHIPPED_MODEL
    rng = np.random.default_rng(0)
    source, target = (rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(2))
    from PIL import Image

    Image.fromarray(source).save("a.png")
    Image.fromarray(target).save("b.png")
    assert main(["transfer", "a.png", "b.png", "-o", "c.png", "--verbose"]) == 0
    assert capsys.readouterr().err.strip() == f"huenet: huenet weights: {SHIPPED_MODEL}"
    assert huenet.transfer("a.png", "b.png").size == (48, 40)
    (tmp_path / "models" / "huenet" / "full").mkdir(parents=True)
    (tmp_path / "models" / "huenet" / "full" / "generator.pt").write_bytes(SHIPPED_MODEL.read_bytes())
    assert model_file(get_method("huenet")) == Path("models/huenet/full/generator.pt")  # the pipeline's model first
