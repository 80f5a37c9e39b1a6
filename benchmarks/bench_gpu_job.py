"""What the GPU job's numbers rest on, measured here, and the estimate of its steps that follows (docs/gpu.md).

No GPU has run the job yet, so its length is an estimate. This measures, on the CPU, what the estimate needs:

- each run's work: the floating-point operations of one training step per image (``torch.utils.flop_counter``:
  convolutions and matrix products, forward and backward, D step and G step) at the profile's size and width;
- the host work the job moves or spreads: making one training batch (crops, flips, HSV) on one CPU thread, which
  the job does on the GPU instead, and Table 1's metrics per pair and per method on one thread, which it spreads
  over the machine's cores;

and from them, with a matrix rate and an efficiency range given as arguments, the steps that fit the job's training
window. The estimate is labelled as one in the report.

    python benchmarks/bench_gpu_job.py   # needs gpu_pack/ (tools/gpu_prepare.sh); writes reports/benchmarks/gpu_job.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import torch
from reporting import write_report
from torch.utils.flop_counter import FlopCounterMode

from huenet.eval.evaluate import score
from huenet.pipeline.gpu.pack import load_pack, subset
from huenet.pipeline.gpu.profile import read_profile
from huenet.pipeline.gpu.scoring import baseline_outputs
from huenet.pipeline.gpu.trainer import PLAN_SHARE, unit_rgb
from huenet.pipeline.machine import benchmark_footer
from huenet.training.train import TrainingRun, training_pairs


def flops_per_image(config, pairs) -> float:
    """Operations of one training step of ``config`` on one pair, counted on the CPU in float32 (the count is the
    same in bf16)."""
    run = TrainingRun(dataclasses.replace(config, device="cpu", amp=False, batch_size=1), torch.device("cpu"))
    batch = pairs.batch(torch.arange(1))
    run.train_step(batch["source"], batch["target"])  # the first step allocates; count the second
    with FlopCounterMode(display=False) as counter:
        run.train_step(batch["source"], batch["target"])
    return counter.get_total_flops()


def seconds(fn, repeats: int = 3) -> float:
    """The fastest of ``repeats`` calls: the least disturbed by other jobs on the machine."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params-gpu", type=Path, default=Path("params_gpu.yaml"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--pairs", type=int, default=4, help="test pairs the metrics are timed on (default: 4)")
    parser.add_argument("--rate", type=float, default=788.0,
                        help="bf16 matrix rate in TFLOP/s (default: 788, measured on an H200 here: KINDS.md)")
    parser.add_argument("--efficiency", type=float, nargs=2, default=(0.3, 0.5),
                        help="the share of --rate the networks' convolutions are assumed to reach (default: 0.3 0.5)")
    parser.add_argument("--memory-ms", type=float, default=3.0,
                        help="ms of memory-bound work per common step, assumed (default: 3; fused Adam alone moves "
                             "1.6 GB a run, 1.1 ms for three at 4.3 TB/s, KINDS.md; then batch norm, activations, "
                             "histograms)")
    parser.add_argument("--toy-s", type=float, default=30.0, help="seconds assumed for the toy pass (default: 30)")
    parser.add_argument("--start-s", type=float, default=20.0,
                        help="seconds assumed from the real pass's start to its first steps (default: 20)")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/gpu_job.md"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    profile = read_profile(args.params_gpu, args.params)
    full = profile.full
    pack = load_pack(profile.pack.dir)
    first = full.runs[0].config
    names = pack.split.train[:64]
    train = training_pairs(subset(pack.train, names), dataclasses.replace(pack.split, train=names), first,
                           full.crop_size)
    flops = {run.name: flops_per_image(run.config, train) for run in full.runs}
    batch_s = seconds(lambda: train.batch(torch.arange(first.batch_size)))

    pairs = pack.pairs[: args.pairs]
    source, target = (unit_rgb(subset(pack.test, [p[i] for p in pairs]).images) for i in (0, 1))
    outputs = baseline_outputs(source, target)
    sources_s = seconds(lambda: score(source, target, {})) / len(pairs)
    method_s = (seconds(lambda: score(source, target, outputs)) / len(pairs) - sources_s) / len(outputs)
    load_after = os.getloadavg()[0]

    batch = first.batch_size
    common_tflop = sum(flops.values()) * batch / 1e12
    window = profile.wall_s - profile.after_training_s - args.toy_s - args.start_s
    step_ms = [1e3 * common_tflop / (args.rate * e) + args.memory_ms for e in sorted(args.efficiency, reverse=True)]
    steps = [int(PLAN_SHARE * window / (ms / 1e3)) for ms in step_ms]
    core_s = full.test_pairs * (sources_s + method_s * (len(full.runs) + len(outputs)))
    lines = [
        "# The GPU job: its work, measured here, and the estimate of its steps",
        "",
        f"`params_gpu.yaml`: {len(full.runs)} runs side by side, width {first.width}, depth {first.depth}, "
        f"batch {batch}, {full.crop_size} px. Measured on this machine's CPU, one thread:",
        "",
        "| run | GFLOP per image and training step | TFLOP per step at batch " + f"{batch} |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {f / 1e9:.1f} | {f * batch / 1e12:.2f} |" for name, f in flops.items()),
        "",
        f"- one training batch of {batch} pairs made on the host (crops, flips, HSV): {batch_s:.2f} s; the job makes "
        "them on the GPU",
        f"- Table 1's metrics at {full.crop_size} px: {sources_s:.2f} s a pair for the pair itself, {method_s:.2f} s a "
        f"pair for each method (the fastest of 3 timings on {len(pairs)} test pairs of the pack): "
        f"{core_s:.0f} core-seconds for {full.test_pairs} pairs and {len(full.runs) + len(outputs)} rows",
        "",
        "## The estimate (no GPU has run the job)",
        "",
        f"All runs' operations per common step: {common_tflop:.1f} TFLOP. At {args.rate:g} TFLOP/s and an assumed "
        f"{min(args.efficiency):.0%} to {max(args.efficiency):.0%} of it for the convolutions, and "
        f"{args.memory_ms:g} ms assumed for the memory-bound work (Adam, batch norm, activations, histograms): "
        f"{step_ms[0]:.0f} to {step_ms[1]:.0f} ms a common step. Training window: the job's "
        f"{profile.wall_s:g} s, less {profile.after_training_s:g} s kept for the rest, {args.toy_s:g} s of toy pass "
        f"and {args.start_s:g} s of start (assumed): {window:g} s, of which the plan fills {PLAN_SHARE:.0%}: "
        f"{steps[1]:,} to {steps[0]:,} steps a run at most (the profile's cap: {first.steps:,}).",
        "",
        f"Command: `{' '.join(['python', 'benchmarks/bench_gpu_job.py', *sys.argv[1:]])}`.",
        "",
        *benchmark_footer(load_before, load_after),
    ]
    write_report(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
