"""Seconds per 256 x 256 image of feature matching (Soiffer & Zhang 2018, 3.1) on the CPU.

Each of scikit-image's colour sample photos, centre-cropped square and resized
to 256 x 256, is recoloured towards the mean colour of the next photo with the
defaults of ``huenet.baselines.feature_matching`` (150 Adam steps on the pixels,
EfficientNet-Lite0 features of four octaves), one image per call, as
``huenet transfer --method feature-matching`` runs it. The report gives the
wall-clock and CPU seconds of every image, their median against the goal of
at most 60 s per image (the authors report hours), the colour distance
|C - C_T| before and after, and the growth of the process's peak memory.

    python benchmarks/bench_feature_matching.py
    python benchmarks/bench_feature_matching.py --threads 1 --size 512
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from reporting import write_report

from huenet.baselines.color_gan import color_distance
from huenet.baselines.feature_matching import feature_matching
from huenet.core.color import mean_color
from huenet.pipeline.machine import benchmark_footer

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina")
GOAL_SECONDS = 60.0  # per 256 x 256 image, 2 threads (issue 7)


def photo(name: str, size: int) -> torch.Tensor:
    """A sample photo, centre-cropped square and resized (antialiased): ``(1, 3, size, size)`` in [0, 1]."""
    x = torch.from_numpy(np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    side = min(x.shape[-2:])
    top, left = (x.shape[-2] - side) // 2, (x.shape[-1] - side) // 2
    x = x[..., top : top + side, left : left + side]
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/feature_matching.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = [photo(name, args.size) for name in PHOTOS]
    feature_matching(images[0][..., :32, :32], mean_color(images[1]), steps=2)  # warm-up: loads the network
    load_before = os.getloadavg()[0]
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    rows, walls = [], []
    for i, (name, source) in enumerate(zip(PHOTOS, images)):
        goal = mean_color(images[(i + 1) % len(images)])
        wall, cpu = time.perf_counter(), time.process_time()
        out = feature_matching(source, goal)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        walls.append(wall)
        rows.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {float(color_distance(source, goal)):.3f} | "
                    f"{float(color_distance(out, goal)):.3f} |")
    load_after = os.getloadavg()[0]
    peak_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - peak_before
    megapixels = args.size**2 / 1e6
    median = statistics.median(walls)
    verdict = "met" if median <= GOAL_SECONDS else "not met"
    report = "\n".join([
        "# Feature matching speed on the CPU",
        "",
        f"One {args.size} x {args.size} photo per call, default settings (150 Adam steps, EfficientNet-Lite0, "
        f"four octaves), {args.threads} thread{'s' * (args.threads > 1)}. `python benchmarks/bench_feature_matching.py"
        + (f" --size {args.size}" if args.size != 256 else "") + (f" --threads {args.threads}`." if args.threads != 2
                                                                    else "`."),
        "",
        "| photo | wall s | CPU s | colour distance before | after |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Goal: at most {GOAL_SECONDS:g} s per 256 x 256 image: **{verdict}** on this run (median {median:.1f} s "
        f"per {args.size} x {args.size} image, {median / megapixels:.0f} s per megapixel).",
        "",
        f"Peak memory: the process's peak resident set grew by {peak_growth:.0f} MiB "
        f"({peak_growth / megapixels:.0f} MiB per megapixel of one image).",
        "",
        *benchmark_footer(load_before, load_after),
    ])
    write_report(args.out, report)


if __name__ == "__main__":
    main()
