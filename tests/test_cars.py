"""The paper's third dataset: the cars subset read from its folder, its runs' params, its table's intervals."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from huenet.data import DataError
from huenet.data.cars import FOLDER, N_CLASSES, N_IMAGES, class_names, list_images
from huenet.eval.evaluate import cars_rows, fixed_pair_images, fixed_pairs, score, summarise
from huenet.training.params import stage_params
from huenet.training.train import STAGE_KEYS, TrainConfig
from tests.helpers import synthetic_cache

ROOT = Path(__file__).resolve().parents[1]


def _folder(root: Path, n: int = N_IMAGES, drop: int = 0) -> Path:
    """A cars folder of ``n`` tiny JPEGs listed in labels.csv (the last ``drop`` listed but not written)."""
    images = root / FOLDER / "cars_train"
    images.mkdir(parents=True)
    with (root / FOLDER / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "class_id", "class_name"])
        for i in range(n):
            writer.writerow([f"{1001 + i:05d}.jpg", i % N_CLASSES + 1, f"Car {i % N_CLASSES + 1}"])
    tiny = Image.new("RGB", (4, 2), (200, 30, 30))
    for i in range(n - drop):
        tiny.save(images / f"{1001 + i:05d}.jpg")
    return root


def test_the_subset_is_listed_by_name_with_its_classes(tmp_path: Path) -> None:
    records = list_images(_folder(tmp_path))
    assert len(records) == N_IMAGES and records[0].name == "01001.jpg" and records[0].label == 0
    assert [r.name for r in records] == sorted(r.name for r in records)
    assert {r.label for r in records} == set(range(N_CLASSES)) and class_names(tmp_path)[0] == "Car 1"


@pytest.mark.parametrize("fault, message", [("missing", "labels.csv is missing"), ("short", "lists 10 images"),
                                            ("images", "lacks 3 of 2500 images")])
def test_an_incomplete_copy_is_one_line_saying_what_to_run(tmp_path: Path, fault: str, message: str) -> None:
    if fault == "short":
        _folder(tmp_path, n=10)
    elif fault == "images":
        _folder(tmp_path, drop=3)
    with pytest.raises(DataError, match=message) as err:
        list_images(tmp_path)
    assert "dvc pull" in str(err.value) and "\n" not in str(err.value)


def test_the_cars_runs_are_the_flowers_config_with_the_cars_variants() -> None:
    params = ROOT / "params.yaml"
    flowers, _ = stage_params(params, "train", TrainConfig, stage_keys=STAGE_KEYS, variant="full")
    cars, _ = stage_params(params, "train", TrainConfig, stage_keys=STAGE_KEYS, variant="no_mi",
                           variants_group="cars")
    assert cars.lambda_mi == 0 and {**vars(cars), "lambda_mi": flowers.lambda_mi} == vars(flowers)
    assert set(yaml.safe_load(params.read_text())["cars"]["variants"]) == {"full", "no_mi"}


def test_the_cars_table_resamples_images_and_reads_the_flowers_keys() -> None:
    rows = cars_rows("c.pt", "c0.pt", "f.pt")
    assert list(rows)[:2] == ["huenet", "huenet-no-mi"] and rows["huenet-flowers"].model == "f.pt"
    cache = synthetic_cache(n=8, size=12)
    source, target = fixed_pairs(cache, cache.names, crop_size=8, n_pairs=24, seed=0)
    images = fixed_pair_images(cache, cache.names, n_pairs=24, seed=0)
    assert images.shape == (24, 2) and (images[:, 0] != images[:, 1]).all()
    scores = score(source, target, {"copy": source, "target": target})
    by_images, by_pairs = summarise(scores, n_boot=300, images=images), summarise(scores, n_boot=300)
    entries = {name: s["methods"]["target"]["rel_mi_src_out"] for name, s in (("images", by_images),
                                                                               ("pairs", by_pairs))}
    assert entries["images"]["mean"] == entries["pairs"]["mean"]
    # 24 pairs of 8 images: the pairs are not independent, and resampling images widens the interval
    assert np.diff(entries["images"]["ci95"])[0] > np.diff(entries["pairs"]["ci95"])[0]
    with pytest.raises(ValueError, match="seeds or images"):
        summarise(scores, images=images, seeds={"copy": ["copy", "target"]})


@pytest.mark.skipif(not (ROOT / "data" / FOLDER / "labels.csv").is_file(), reason="the cars are not pulled")
def test_the_pulled_copy_is_complete() -> None:
    records = list_images(ROOT / "data")
    assert len(records) == N_IMAGES and len({r.label for r in records}) == N_CLASSES
    assert torch.tensor([r.path.stat().st_size > 0 for r in records]).all()
