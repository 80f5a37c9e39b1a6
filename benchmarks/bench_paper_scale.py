"""The paper-scale training step, timed: 256 px pairs, pix2pix width 64 / depth 8, the paper's batch.

The paper trains for 100 epochs, about 184,300 steps; this times a few steps on
synthetic pairs (no data set needed, so it runs on a bare GPU machine) and
extrapolates. The config is :class:`huenet.training.train.TrainConfig`'s defaults (the
paper's settings), the device ``--device`` (default: CUDA when available).

Each run adds its row to the report, or replaces the row of the same device and
``--amp``, so that one report keeps every machine it was run on, each row with its
own date, torch version, command and the machine's load around the timings.

    python benchmarks/bench_paper_scale.py                  # its row in reports/benchmarks/paper_scale.md
    python benchmarks/bench_paper_scale.py --amp            # bf16 autocast
    python benchmarks/bench_paper_scale.py --steps 1 --warmup 1 --size 64 --out /tmp/check.md   # does it run
"""

from __future__ import annotations

import argparse
import datetime
import os
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


HEADER = ("| device | amp | s / step | images / s | peak memory | 184,300 steps | load before, after | torch | date "
          "| command |")


def intro(size: int) -> list[str]:
    """The report's lines above its rows: what a row measures, and the table's header."""
    c = TrainConfig
    return [
        "# Paper-scale training step",
        "",
        f"One full step (D step + G step) of `TrainConfig()` (width {c.width}, depth {c.depth}, batch {c.batch_size}, "
        f"K = {c.bins}, {c.emd_form} EMD, lambda_MI {c.lambda_mi:g}) on synthetic {size} x {size} px pairs, one "
        "process: the median of the timed steps after the warm-up steps (the command gives both counts). `amp`: bf16 "
        f"autocast for the networks. Extrapolated: {PAPER_STEPS:,} steps x the median step, nothing else counted "
        "(data loading, checkpoints). Load: the 1-minute load average before and after the timings, over the "
        "logical CPUs; a load above what the benchmark's own threads make inflates a CPU row.",
        "",
        HEADER,
        "| --- | --- | ---: | ---: | --- | ---: | --- | --- | --- | --- |",
    ]


def merged_rows(old_report: str, row: str) -> list[str]:
    """The table rows of ``old_report`` with ``row`` added, in place of the row of the same device and amp.

    >>> old = "| CPU: X, 2 threads | False | 4.0 |\\n| CPU: X, 2 threads | True | 3.0 |"
    >>> merged_rows(old, "| CPU: X, 2 threads | True | 2.0 |")
    ['| CPU: X, 2 threads | False | 4.0 |', '| CPU: X, 2 threads | True | 2.0 |']
    >>> merged_rows(old, "| GPU: Y | True | 0.1 |")[-1]
    '| GPU: Y | True | 0.1 |'
    """
    def key(line: str) -> list[str]:
        return [cell.strip() for cell in line.split("|")[1:3]]

    rows = [line for line in old_report.splitlines()
            if line.startswith("| ") and line != HEADER and not line.startswith("| ---")]
    kept = [row if key(line) == key(row) else line for line in rows]
    return kept if row in kept else [*kept, row]


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
    load_before = os.getloadavg()[0]
    config = TrainConfig(device=args.device, amp=args.amp)
    device = _device(config.device)
    run = TrainingRun(config, device)
    times = step_seconds(run, *hsv_pairs(config.batch_size, args.size, device), args.steps, args.warmup)
    seconds = statistics.median(times)
    load_after = os.getloadavg()[0]
    kind = "GPU" if device.type == "cuda" else "CPU"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {args.threads} threads"
    command = " ".join(["benchmarks/bench_paper_scale.py", *sys.argv[1:]])
    row = (f"| {kind}: {name} | {config.amp} | {seconds:.3f} | {config.batch_size / seconds:.1f} | "
           f"{peak_memory(device)} | {PAPER_STEPS * seconds / 3600:.1f} h | {load_before:.1f}, {load_after:.1f} on "
           f"{os.cpu_count()} CPUs | {torch.__version__} | {datetime.date.today().isoformat()} | `python {command}` |")
    old = args.out.read_text() if args.out.is_file() else ""
    write_report(args.out, "\n".join([*intro(args.size), *merged_rows(old, row), ""]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
