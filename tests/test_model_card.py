import json
from pathlib import Path

import pytest
import yaml

from huenet.pipeline.model_card import model_card
from tests.helpers import committed

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("params.yaml", "reports/data.json", "reports/train_full.json", "reports/table1.json",
           "reports/shipped_model.json")


def test_the_committed_model_card_is_written_from_the_committed_reports():
    # committed against committed: a rerun of the pipeline on another CPU rewrites the reports, not this pair
    files = {path: committed(ROOT, path) for path in (*SOURCES, "docs/model_card.md")}
    if None in files.values():
        pytest.skip("not a git checkout")
    params, *reports = (yaml.safe_load(files[SOURCES[0]]), *(json.loads(files[p]) for p in SOURCES[1:]))
    assert files["docs/model_card.md"] == model_card(params, *reports), "run huenet model-card"
