"""Seconds per image of the realism metric's EfficientNet-Lite0 features: contiguous vs channels-last, one run.

``huenet.nets.efficientnet_lite0.FeatureExtractor`` (what Table 1's FD runs on
every output and real image) computes pooled features of 64 x 64 photos,
resized to 224 x 224 inside, once in the contiguous memory format and once
channels-last. The two variants alternate (contiguous, channels-last,
contiguous, ...) so that machine load affects them alike; each timing is one
pass over all the images. The report gives the median seconds per image of
each, their ratio and the largest difference between their features.

    python benchmarks/bench_pooled_features.py
    python benchmarks/bench_pooled_features.py --images 2 --repeats 1 --out /tmp/smoke.md   # smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from reporting import write_report

from huenet.nets.efficientnet_lite0 import FeatureExtractor
from huenet.pipeline.machine import benchmark_footer

VARIANTS = {"contiguous": False, "channels-last": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--size", type=int, default=64, help="side of the input images (Table 1: 64)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass (FeatureExtractor's)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant, after one warm-up each")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/pooled_features.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = torch.rand(args.images, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    extractors = {name: FeatureExtractor(batch_size=args.batch_size, channels_last=cl) for name, cl in VARIANTS.items()}
    features = {name: extract(images[: args.batch_size]) for name, extract in extractors.items()}  # warm-up
    load_before = os.getloadavg()[0]
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, extract in extractors.items():
            start = time.perf_counter()
            features[name] = extract(images)
            seconds[name].append(time.perf_counter() - start)
    load_after = os.getloadavg()[0]
    per_image = {name: statistics.median(s) / args.images for name, s in seconds.items()}
    ratio = per_image["contiguous"] / per_image["channels-last"]
    diff = float(np.abs(features["contiguous"] - features["channels-last"]).max())
    scale = float(np.abs(features["contiguous"]).max())
    rows = [f"| {name} | {per_image[name] * 1e3:.1f} | {' '.join(f'{s:.2f}' for s in seconds[name])} |"
            for name in VARIANTS]
    report = "\n".join([
        "# Realism features: contiguous vs channels-last",
        "",
        f"Pooled EfficientNet-Lite0 features of {args.images} random {args.size} x {args.size} images "
        f"(resized to 224 inside), batches of {args.batch_size}, {args.threads} thread{'s' * (args.threads > 1)}, "
        f"{args.repeats} interleaved passes per variant after a warm-up. `python benchmarks/bench_pooled_features.py`.",
        "",
        "| memory format | ms per image (median) | seconds per pass |",
        "| --- | --- | --- |",
        *rows,
        "",
        f"Channels-last is **{ratio:.2f}x** as fast as contiguous; the largest feature difference is {diff:.2e} "
        f"(features up to {scale:.2f}).",
        "",
        *benchmark_footer(load_before, load_after),
    ])
    write_report(args.out, report)


if __name__ == "__main__":
    main()
