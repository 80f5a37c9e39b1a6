"""The Hue-Net weights the package ships, so that ``huenet transfer`` paints right after ``pip install``.

The file is the pipeline's ``models/huenet/full/generator.pt`` (the CPU profile) with its weights stored as float16:
half the size, and within one 8-bit level of the float32 model on the sample photos (measured when it is
written, kept in ``reports/shipped_model.json``). The training stage records the float16 digest of the model
it trained (``reports/train_full.json``), so a test can tell that the shipped file is that model and not
another one beside the numbers reported for it.

    huenet ship models/huenet/full/generator.pt   # after `dvc repro`, when the model changed

Each shipped version adds its size to the git history: ship again only when the model changes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from huenet.nets.hue_net import (
    GENERATOR_FORMAT,
    inference_generator,
    load_generator,
    paint,
    save_network,
    weights_digest,
)
from huenet.paint.methods import SHIPPED_MODEL

__all__ = ["SHIPPED_MODEL", "write_shipped", "largest_level_difference"]

REPORT = Path("reports/shipped_model.json")
_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "flower")


def largest_level_difference(model: Path, shipped: Path, size: int = 128) -> int:
    """The largest difference, in 8-bit levels, between two generators' outputs on the sample photos, each
    painted with the next one's colours."""
    from huenet.data.photos import sample_photo

    photos = torch.cat([sample_photo(name, size) for name in _PHOTOS]).float()
    targets = photos.roll(1, 0)
    a, b = (inference_generator(load_generator(path)) for path in (model, shipped))
    with torch.inference_mode():
        levels = [(paint(g, photos, targets) * 255).round() for g in (a, b)]
    return int((levels[0] - levels[1]).abs().max())


def write_shipped(model: str | Path, out: Path = SHIPPED_MODEL, report: Path = REPORT) -> dict:
    """Write ``model``'s weights as float16 to ``out`` and what was measured to ``report``."""
    generator = load_generator(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_network(generator.half(), out, GENERATOR_FORMAT, config=generator.config())
    facts = {"file": out.name, "bytes": out.stat().st_size, "float16_sha256": weights_digest(load_generator(out)),
             "largest_level_difference": largest_level_difference(Path(model), out), "photos": list(_PHOTOS)}
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(facts, indent=1) + "\n")
    return facts


def main(argv: Sequence[str]) -> int:
    """``huenet ship MODEL``: write MODEL's weights as the package's float16 copy, and what was measured."""
    usage = "usage: huenet ship models/huenet/full/generator.pt"
    if list(argv[:1]) in (["-h"], ["--help"]):
        print(f"{usage}\n\n{main.__doc__}")
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print(usage, file=sys.stderr)
        return 2
    if not Path(argv[0]).is_file():
        print(f"huenet ship: {argv[0]} is not a file ({usage[7:]})", file=sys.stderr)
        return 2
    print(json.dumps(write_shipped(argv[0]), indent=1))
    return 0
