"""The model card of the shipped Hue-Net weights, written from the reports (``docs/model_card.md``).

    huenet model-card      # after `huenet ship ...`

Every number in it is read from ``reports/`` and ``params.yaml``; ``tests/test_model_card.py`` fails when the
committed card is not what the committed reports give.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from huenet.pipeline.report import format_ci, format_kid, seed_entries

__all__ = ["model_card", "main"]


def _row(entry: Mapping) -> str:
    return (f"| {format_ci(entry['emd_tar_out'])} | {format_ci(entry['rel_mi_src_out'])} | {format_ci(entry['ssim'])} "
            f"| {format_ci(entry['rgbuv_out_tar'])} | {format_kid(entry['realism_kid'])} |")


def model_card(params: Mapping, data: Mapping, train: Mapping, table1: Mapping, shipped: Mapping) -> str:
    """The card's Markdown, from ``params.yaml``, ``reports/data.json``, ``reports/train_full.json``,
    ``reports/table1.json`` and ``reports/shipped_model.json``."""
    config = {**params["train"]["config"], **params["train"]["variants"]["full"]}
    stage = params["train"]
    methods = table1["methods"]
    lines = [
        "# Model card: the shipped Hue-Net generator",
        "",
        "Written by `huenet model-card` from `reports/` and `params.yaml`; do not edit.",
        "",
        "## What it is",
        "",
        f"`huenet/paint/weights/{shipped['file']}` ({shipped['bytes'] / 1e6:.1f} MB): the U-Net generator of the "
        "pipeline's `train` stage, run `full` (seed 0; the CPU profile of `params.yaml`), its weights stored as "
        "float16 "
        f"(largest output difference from the float32 model on {len(shipped['photos'])} sample photos: "
        f"{shipped['largest_level_difference']} 8-bit level{'s' * (shipped['largest_level_difference'] != 1)}). "
        f"Weight digest (float16): `{shipped['float16_sha256']}`, the one the training stage recorded. It "
        "paints a new hue for every pixel of a source photo from a target photo's hues; saturation and value "
        "stay the source's. `huenet transfer` uses it when there is no `models/huenet/full/generator.pt` in the "
        "current folder.",
        "",
        "## Training",
        "",
        f"- Data: Oxford 102 Flowers (Nilsback & Zisserman 2008), {data['images']} images; {data['train']} "
        f"training images, {data['validation']} validation images (every setting was chosen on these), "
        f"{data['test']} test images (a seeded split, byte-identical images on one side; `docs/data.md`). Pairs "
        "are random (source, target) pairs of training images.",
        f"- Input: {stage['crop_size']} px random crops of images resized to {params['data']['load_size']} px.",
        f"- Config: width {config['width']}, depth {config['depth']}, batch {config['batch_size']}, "
        f"{config['steps']} steps, Adam lr {config['lr']:g}, {config['emd_form']} EMD x {config['lambda_emd']:g}, "
        f"MI x {config['lambda_mi']:g} on {config['mi_bins']} x {config['mi_bins']} bins, seed {config['seed']}; "
        f"{train['train_minutes']:.0f} minutes on {train['threads']} CPU thread{'s' * (train['threads'] != 1)}.",
        f"- Validation ({train['pairs']} validation pairs at {stage['crop_size']} px): "
        f"EMD ratio {train['emd_ratio']:.3f}, "
        f"relative MI with the source {train['rel_mi_src_out']:.3f}, grey SSIM {train['grey_ssim']:.3f}.",
        "",
        "## Table 1 numbers of this model",
        "",
        f"{table1['pairs']} test pairs at {stage['crop_size']} px, mean [bootstrap 95% CI] "
        "([reports/table1.md](../reports/table1.md); the metrics: [metrics.md](metrics.md)):",
        "",
        "| model | EMD TAR-OUT | rel. MI SRC-OUT | grey SSIM SRC-OUT | RGB-uv Hellinger OUT-TAR | KID x 1000 |",
        "| :--- | ---: | ---: | ---: | ---: | ---: |",
        "| Hue-Net (this model, seed 0) " + _row(seed_entries(table1)[0]),
        f"| Hue-Net, mean of {methods['huenet'].get('seeds', 1)} training seeds " + _row(methods["huenet"]),
        "| Reinhard, for comparison " + _row(methods["reinhard"]),
        "",
        "## Intended use and limits",
        "",
        "- Intended: recolouring photos, flowers above all, with another photo's hues, as a research baseline "
        "and for trying the method of Avi-Aharon et al. (arXiv:1912.06044). Not for any decision about people.",
        f"- Trained on {stage['crop_size']} px crops: on a photo, `huenet transfer` runs it at a working size "
        "and lifts the hue change to the photo's resolution (`docs/cli.md`); at the photo's own size "
        "(`--work-size native`) it is another operator and paints harder.",
        "- Trained on flowers only. On other subjects it still paints, with less of the source's hue structure "
        "kept, and low-saturation regions (grey pavement, skies, skin in shadow) can pick up hue speckle.",
        "- It changes hue only: it cannot make a dark photo bright or a grey one colourful.",
        "",
        "## The data's terms",
        "",
        "Oxford 102 Flowers is published by the Visual Geometry Group, University of Oxford, for research; "
        "the images come from the web and their copyright stays with their owners. Check those terms before "
        "using outputs commercially.",
        "",
    ]
    return "\n".join(lines)


def _read(root: Path) -> str:
    def json_of(path: str) -> Mapping:
        return json.loads((root / path).read_text())

    return model_card(yaml.safe_load((root / "params.yaml").read_text()), json_of("reports/data.json"),
                      json_of("reports/train_full.json"), json_of("reports/table1.json"),
                      json_of("reports/shipped_model.json"))


def main(argv: Sequence[str]) -> int:
    """``huenet model-card``: write ``docs/model_card.md`` from the reports in the current folder."""
    if list(argv) in (["-h"], ["--help"]):
        print("usage: huenet model-card   (from the repository root)")
        return 0
    if argv:
        print("usage: huenet model-card   (from the repository root)", file=sys.stderr)
        return 2
    Path("docs/model_card.md").write_text(_read(Path.cwd()))
    return 0
