"""Hue-Net's working size on photos at their native size: the calibration's numbers at each size, and the pick.

Pairs of validation images (the choice is a model choice: the test images stay for Table 1) are read from
``data/flowers-102/jpg`` at the release's own size (shorter side 256 px), and ``huenet.transfer`` paints each
source with its target at every working size (and at the photo's own size, ``native``), lifting the change to
the full 256 px. Each size is scored as the training stage scores the model: the EMD ratio and the relative MI
with the source, on the full-size output. ``huenet.paint.work_size.pick_work_size`` picks the size nearest the
model's own validation point at its training scale (``reports/metrics/train_full.json``);
``tests/test_work_size.py`` checks that ``huenet.paint.api.DEFAULT_WORK_SIZE`` is that pick from the committed csv.

    python benchmarks/bench_work_size.py                 # models/huenet/full/generator.pt, 64 pairs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from reporting import write_report

from huenet.data.split import read_splits
from huenet.eval.metrics import hue_emd, hue_relative_mi
from huenet.paint.api import DEFAULT_MODEL, transfer
from huenet.paint.images import read_rgb
from huenet.paint.work_size import distance_to, pick_work_size
from huenet.pipeline.machine import benchmark_footer

SIZES: tuple[int | None, ...] = (64, 96, 128, 192, None)


def _pairs(splits: Path, images: Path, n: int, seed: int) -> list[tuple[Path, Path]]:
    names = read_splits(splits).validation
    order = np.random.default_rng(seed).permutation(len(names))
    chosen = [images / names[i] for i in order[: 2 * n]]
    return list(zip(chosen[:n], chosen[n:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", type=Path, default=Path("artifacts/splits.json"))
    parser.add_argument("--images", type=Path, default=Path("data/flowers-102/jpg"))
    parser.add_argument("--reference", type=Path, default=Path("reports/metrics/train_full.json"))
    parser.add_argument("--csv", type=Path, default=Path("reports/work_size.csv"))
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/work_size.md"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    validated = json.loads(args.reference.read_text())
    reference = (validated["emd_ratio"], validated["rel_mi_src_out"])
    pairs = _pairs(args.splits, args.images, args.pairs, args.seed)
    load_before = os.getloadavg()[0]
    rows = []
    for size in SIZES:
        emd_out, emd_src, mi, seconds = [], [], [], 0.0
        for source_path, target_path in pairs:
            source, target = read_rgb(source_path), read_rgb(target_path)
            started = time.perf_counter()
            painted = transfer(source, target, model=args.model, work_size=size)
            seconds += time.perf_counter() - started
            output = torch.from_numpy(np.asarray(painted, dtype=np.float32) / 255).permute(2, 0, 1)[None]
            # hue histograms are per image: source, target and output may differ in size
            emd_out.append(float(hue_emd(target, output)[0]))
            emd_src.append(float(hue_emd(target, source)[0]))
            mi.append(float(hue_relative_mi(source, output)[0]))
        rows.append({"work_size": size, "pairs": len(pairs),
                     "emd_ratio": round(float(np.mean(emd_out) / np.mean(emd_src)), 4),
                     "rel_mi_src_out": round(float(np.mean(mi)), 4),
                     "seconds_per_pair": round(seconds / len(pairs), 3),
                     # the point the pick is made against, kept with the numbers: a rerun of training elsewhere
                     # moves reports/metrics/train_full.json, not this table's pick
                     "reference_emd_ratio": reference[0], "reference_rel_mi": reference[1]})
    load_after = os.getloadavg()[0]
    pick = pick_work_size(rows, reference)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "work_size": "native" if r["work_size"] is None else r["work_size"]} for r in rows)
    table = ["| working size | EMD ratio | relative MI | distance to the validation point | s per pair |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        table.append(f"| {r['work_size'] or 'native (256)'} | {r['emd_ratio']:.3f} | {r['rel_mi_src_out']:.3f} | "
                     f"{distance_to(r, reference):.3f} | {r['seconds_per_pair']:.2f} |")
    lines = [
        "# Hue-Net's working size on photos at their native size",
        "",
        f"{len(pairs)} pairs of validation images at the release's own size (shorter side 256 px), painted by "
        f"`huenet.transfer` at each working size and lifted to 256 px (`python benchmarks/bench_work_size.py`). "
        f"The model's own point on validation pairs at its training scale: EMD ratio {reference[0]:.3f}, relative MI "
        f"{reference[1]:.3f} (`{args.reference}`).",
        "",
        *table,
        "",
        f"The pick (`huenet.paint.work_size.pick_work_size`: the size nearest the validation point): "
        f"**{pick or 'native'}**. The numbers: `{args.csv}`.",
        "",
        f"- model: `{args.model}`",
        *benchmark_footer(load_before, load_after),
    ]
    write_report(args.out, "\n".join(lines))


if __name__ == "__main__":
    main()
