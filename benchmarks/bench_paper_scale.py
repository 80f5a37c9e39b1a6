"""The paper-scale training step, timed: 256 px pairs, pix2pix width 64 / depth 8, the paper's batch.

The paper trains for 100 epochs, about 184,300 steps; this times a few steps on
synthetic pairs (no data set needed, so it runs on a bare GPU machine) and
extrapolates. The config is :class:`huenet.training.train.TrainConfig`'s defaults (the
paper's settings), the device ``--device`` (default: CUDA when available).

    python benchmarks/bench_paper_scale.py                  # writes reports/benchmarks/paper_scale.md
    python benchmarks/bench_paper_scale.py --amp            # bf16 autocast (GPU)
    python benchmarks/bench_paper_scale.py --steps 1 --warmup 1 --size 64 --out /tmp/check.md   # does it run
"""

from __future__ import annotations

import argparse
import datetime
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from reporting import write_report
from synthetic import hsv_pairs
from torch import Tensor

from huenet.pipeline.machine import cpu_name
from huenet.training.train import TrainConfig, TrainingRun, _device

PAPER_STEPS = 184_300  # 100 epochs of the paper's training set at its batch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_seconds(run: TrainingRun, source: Tensor, target: Tensor, steps: int, warmup: int) -> list[float]:
    """Seconds of each of ``steps`` training steps after ``warmup`` untimed ones (kernel choice, allocation)."""
    device = source.device
    for _ in range(warmup):
        run.train_step(source, target)
    times = []
    for _ in range(steps):
        _sync(device)
        started = time.perf_counter()
        run.train_step(source, target)
        _sync(device)
        times.append(time.perf_counter() - started)
    return times


def peak_memory(device: torch.device) -> str:
    """CUDA: the most memory tensors held; CPU: the process's peak resident set (Linux reports KiB)."""
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB (CUDA max allocated)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (peak RSS of the process)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default: 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: 2)")
    parser.add_argument("--size", type=int, default=256, help="crop size in px (default: 256, the paper's)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (train.amp)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/paper_scale.md"))
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.size < 2 ** TrainConfig.depth:
        print(f"bench_paper_scale: error: need --steps >= 1, --warmup >= 0, --size >= {2 ** TrainConfig.depth}",
              file=sys.stderr)
        return 2

    torch.set_num_threads(args.threads)
    config = TrainConfig(device=args.device, amp=args.amp)
    device = _device(config.device)
    run = TrainingRun(config, device)
    times = step_seconds(run, *hsv_pairs(config.batch_size, args.size, device), args.steps, args.warmup)
    seconds = statistics.median(times)
    kind = "GPU" if device.type == "cuda" else "CPU"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {args.threads} threads"
    lines = [
        f"# Paper-scale training step ({kind})",
        "",
        f"One full step (D step + G step) of `TrainConfig()` (width {config.width}, depth {config.depth}, "
        f"batch {config.batch_size}, K = {config.bins}, {config.emd_form} EMD, lambda_MI {config.lambda_mi:g}, "
        f"amp {config.amp}) on synthetic {args.size} x {args.size} px pairs: median of {args.steps} steps after "
        f"{args.warmup} warm-up steps.",
        "",
        "| device | s / step | images / s | peak memory | 184,300 steps |",
        "| --- | ---: | ---: | --- | ---: |",
        f"| {kind}: {name} | {seconds:.3f} | {config.batch_size / seconds:.1f} | {peak_memory(device)} | "
        f"{PAPER_STEPS * seconds / 3600:.1f} h |",
        "",
        f"Extrapolated: {PAPER_STEPS:,} steps x the median step, one process, nothing else counted "
        "(data loading, checkpoints). "
        f"torch {torch.__version__}, {datetime.date.today().isoformat()}. "
        f"Command: `python {' '.join(['benchmarks/bench_paper_scale.py', *sys.argv[1:]])}`.",
        "",
    ]
    text = "\n".join(lines)
    write_report(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
