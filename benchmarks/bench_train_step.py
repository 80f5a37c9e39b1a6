"""Throughput of a full Hue-Net training step (D step + G step), fast vs dense histogram layers.

Both variants run in this one process, interleaved (fast, dense, fast, dense, ...),
so that machine load affects them alike; the ratio is the number to read.

    python benchmarks/bench_train_step.py            # 128 px, batch 4, K = 256
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import torch
from huenet.machine import cpu_name

from huenet.color import rgb_to_hsv
from huenet.train import TrainConfig, _Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--width", type=int, default=32, help="generator/discriminator width (CPU profile)")
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/train_step.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    source = rgb_to_hsv(torch.rand(args.batch, 3, args.size, args.size, generator=g))
    target = rgb_to_hsv(torch.rand(args.batch, 3, args.size, args.size, generator=g))
    runs = {
        impl: _Run(TrainConfig(width=args.width, depth=args.depth, disc_width=args.width, batch_size=args.batch,
                               bins=args.bins, histogram_impl=impl), torch.device("cpu"))
        for impl in ("fast", "dense")
    }
    times: dict[str, list[float]] = {impl: [] for impl in runs}
    for impl, run in runs.items():  # warm-up: first calls allocate and pick kernels
        run.train_step(source, target)
    for _ in range(args.repeats):
        for impl, run in runs.items():
            started = time.perf_counter()
            run.train_step(source, target)
            times[impl].append(time.perf_counter() - started)

    seconds = {impl: statistics.median(t) for impl, t in times.items()}
    ratio = seconds["dense"] / seconds["fast"]
    lines = [
        "# Training-step throughput: fast vs dense histogram layers",
        "",
        f"One full step (D step + G step with L_adv + 100 L_EMD + 25 L_MI) at {args.size} x {args.size} px, "
        f"batch {args.batch}, K = {args.bins}, generator width {args.width} / depth {args.depth}; median of "
        f"{args.repeats} interleaved steps after one warm-up step each.",
        "",
        "| histogram layers | s / step | images / s |",
        "| --- | ---: | ---: |",
        *(f"| {impl} | {seconds[impl]:.3f} | {args.batch / seconds[impl]:.1f} |" for impl in runs),
        "",
        f"**fast / dense throughput: {ratio:.1f}x** (goal >= 3x: {'met' if ratio >= 3 else 'missed'})",
        "",
        f"Machine: {cpu_name()}, {args.threads} threads, torch {torch.__version__}, "
        f"{datetime.date.today().isoformat()}. Command: `python benchmarks/bench_train_step.py`.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
