"""Seconds per megapixel of ``huenet transfer`` on the CPU: huenet, reinhard and histmatch side by side.

Each method runs the registered transfer function (what ``huenet.transfer`` calls
after decoding) on square random images of 0.25, 1 and 4 megapixels, the target
as large as the source. Methods are interleaved (huenet, reinhard, histmatch,
huenet, ...) so that machine load affects them alike. The first pass over the
sizes is the warm-up and measures huenet's peak memory: the growth of the
process's peak resident set, per megapixel, inputs included.

    python benchmarks/bench_transfer.py                         # models/full/generator.pt if present
    python benchmarks/bench_transfer.py --model path/to/generator.pt
    python benchmarks/bench_transfer.py --threads 1 2           # compare thread counts

Without a model file the generator is randomly initialised with the CPU
profile's architecture (width 32, depth 6): speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
from reporting import write_report

from huenet.api import DEFAULT_MODEL, get_method
from huenet.machine import cpu_name
from huenet.models import UNetGenerator, inference_generator

METHODS = ("huenet", "reinhard", "histmatch")
GOAL_SECONDS_PER_MEGAPIXEL = 1.5  # huenet, 2 threads (issue 6)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _generator(model: Path) -> tuple[UNetGenerator, str]:
    if model.is_file():
        return get_method("huenet").load_model(model), f"`{model}`"
    return (inference_generator(UNetGenerator(width=32, depth=6)),
            f"randomly initialised `UNetGenerator(width=32, depth=6)` (CPU profile; `{model}` not found)")


def _images(megapixels: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    side = round((megapixels * 1e6) ** 0.5)
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, side, side, generator=g), torch.rand(1, 3, side, side, generator=g)


def _run(method: str, source: torch.Tensor, target: torch.Tensor, generator: UNetGenerator) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all threads) of one transfer."""
    options = {"model": generator} if method == "huenet" else {}
    wall, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        get_method(method).fn(source, target, **options)
    return time.perf_counter() - wall, time.process_time() - cpu


Cell = tuple[str, float, int]  # method, megapixels, threads


def _table(values: dict[Cell, list[float]], sizes: list[float], threads: int) -> list[str]:
    rows = ["| method | " + " | ".join(f"{mp:g} MP" for mp in sizes) + " |", "|" + " --- |" * (len(sizes) + 1)]
    for method in METHODS:
        cells = (f"{statistics.median(values[method, mp, threads]):.2f}" for mp in sizes)
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--megapixels", type=float, nargs="+", default=[0.25, 1.0, 4.0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per cell (median reported)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="torch thread counts to compare")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/transfer.md"))
    args = parser.parse_args()
    generator, model_note = _generator(args.model)
    sizes = sorted(args.megapixels)
    load_before = os.getloadavg()[0]

    memory: dict[float, float] = {}
    torch.set_num_threads(max(args.threads))
    baseline = _peak_rss_mib()
    for mp in sizes:  # warm-up, ascending, so that each peak is this size's
        images = _images(mp, 0)
        for method in METHODS:
            _run(method, *images, generator)
            if method == "huenet":
                memory[mp] = (_peak_rss_mib() - baseline) / mp

    # every cell in every repeat, interleaved, so that load that comes and goes hits all cells alike
    images = {mp: _images(mp, 1) for mp in sizes}
    wall: dict[Cell, list[float]] = defaultdict(list)
    cpu: dict[Cell, list[float]] = defaultdict(list)
    for _ in range(args.repeats):
        for mp in sizes:
            for threads in args.threads:
                torch.set_num_threads(threads)
                for method in METHODS:
                    seconds, cpu_seconds = _run(method, *images[mp], generator)
                    wall[method, mp, threads].append(seconds / mp)
                    cpu[method, mp, threads].append(cpu_seconds / mp)
    load_after = os.getloadavg()[0]

    one_mp = min(sizes, key=lambda mp: abs(mp - 1.0))
    goal_threads = 2 if 2 in args.threads else args.threads[0]
    huenet_wall = statistics.median(wall["huenet", one_mp, goal_threads])
    huenet_cpu = statistics.median(cpu["huenet", one_mp, goal_threads])
    verdict = "met" if huenet_wall <= GOAL_SECONDS_PER_MEGAPIXEL else "not met"
    lines = [
        "# Transfer speed on the CPU",
        "",
        f"Seconds per megapixel, median of {args.repeats} runs, of each method's transfer function on square random "
        "images, the target as large as the source (decoding and encoding files not included); all cells "
        "interleaved. `python benchmarks/bench_transfer.py" + (f" --threads {' '.join(map(str, args.threads))}`."
                                                                 if args.threads != [2] else "`."),
        "",
    ]
    for threads in args.threads:
        lines += [f"Wall-clock seconds per megapixel, {threads} thread{'s' * (threads > 1)}:", "",
                  *_table(wall, sizes, threads), ""]
    for threads in args.threads:
        lines += [f"CPU seconds per megapixel (all threads summed), {threads} thread{'s' * (threads > 1)}:", "",
                  *_table(cpu, sizes, threads), ""]
    lines += [
        "huenet peak memory (growth of the peak resident set, inputs included): "
        + ", ".join(f"{memory[mp]:.0f} MiB/MP at {mp:g} MP" for mp in sizes) + ".",
        "",
        f"Goal: huenet at most {GOAL_SECONDS_PER_MEGAPIXEL} s per megapixel on 2 threads: **{verdict}** on this run "
        f"({huenet_wall:.2f} s/MP wall-clock, {huenet_cpu:.2f} CPU-s/MP, {goal_threads} threads at {one_mp:g} MP).",
        "",
        f"- model: {model_note}",
        f"- machine: {cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}",
        f"- torch {torch.__version__}, threads: {', '.join(map(str, args.threads))}",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- 1-minute load average: {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs "
        "(other processes share them; a load above the CPU count inflates the wall-clock times, and the CPU times "
        "too where threads spin waiting for each other)",
        "",
    ]
    report = "\n".join(lines)
    write_report(args.out, report)


if __name__ == "__main__":
    main()
