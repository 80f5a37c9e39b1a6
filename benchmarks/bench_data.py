"""Data-loading cost per training batch, from the image cache.

Times ``pair_loader`` over a ``PairDataset`` in train mode (random crops and
flips, HSV conversion) and prints milliseconds per batch, median and 90th
percentile over batches, for 1 thread and for the default thread count.
A training step at the CPU profile's size takes roughly 300-1000 ms, so the
aim is a few milliseconds (at most 10% of a step).

    python benchmarks/bench_data.py                      # artifacts/cache_72.pt (dvc repro data)
    python benchmarks/bench_data.py --cache build/smoke/cache_72.pt --batches 50

Without a cache it builds a small one from data/ (needs `dvc pull`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from huenet.data.cache import build_cache, load_cache
from huenet.data.pairs import PairDataset, pair_loader
from huenet.data.release import list_images


def time_batches(ds: PairDataset, batch_size: int, batches: int) -> list[float]:
    """Milliseconds per batch over ``batches`` batches (whole epochs, reshuffled each)."""
    times: list[float] = []
    epoch = 0
    while len(times) < batches:
        ds.set_epoch(epoch)
        it = iter(pair_loader(ds, batch_size))
        while len(times) < batches:
            t0 = time.perf_counter()
            try:
                next(it)
            except StopIteration:
                break
            times.append((time.perf_counter() - t0) * 1e3)
        epoch += 1
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("artifacts/cache_72.pt"))
    ap.add_argument("--data-root", type=Path, default=Path("data"))
    ap.add_argument("--load-size", type=int, default=72, help="only used when the cache must be built")
    ap.add_argument("--crop-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()

    if args.cache.is_file():
        cache = load_cache(args.cache)
        print(f"cache: {args.cache} ({len(cache)} images, {cache.load_size} px)")
    else:
        cache = build_cache(list_images(args.data_root)[:400], args.load_size)
        print(f"cache: {args.cache} not found, built 400 images at {args.load_size} px")
    ds = PairDataset(cache, cache.names, crop_size=args.crop_size, mode="train", seed=0)
    time_batches(ds, args.batch_size, 10)  # warm-up: first calls allocate

    default_threads = torch.get_num_threads()
    print(f"batch {args.batch_size}, crop {args.crop_size} px, {args.batches} batches")
    print(f"{'threads':>8} {'median ms':>10} {'p90 ms':>8}")
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        t = sorted(time_batches(ds, args.batch_size, args.batches))
        print(f"{threads:>8} {statistics.median(t):>10.2f} {t[int(0.9 * (len(t) - 1))]:>8.2f}")
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
