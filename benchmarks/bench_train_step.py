"""Throughput of a full Hue-Net training step (D step + G step).

Two comparisons, each measured in this one process with its variants interleaved, so that
machine load affects them alike; the ratios are the numbers to read:

- fast vs dense histogram layers (128 px, batch 4, K = 256);
- the pipeline's own step (params.yaml's train group) as it is, and with channels_last, bf16 autocast
  and torch.compile tried on top;
- the histogram losses' share of that step on one thread: the EMD and MI terms alone, forward and backward, on
  the step's shapes, beside the whole step (goal: at most 10%).

    python benchmarks/bench_train_step.py
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import statistics
import time
from pathlib import Path

import torch
from reporting import write_report
from synthetic import hsv_pairs
from torch import Tensor

from huenet.core.losses import emd_loss
from huenet.pipeline.machine import cpu_name
from huenet.training.params import stage_params
from huenet.training.train import STAGE_KEYS, TrainConfig, TrainingRun


def _bf16_flags() -> str:
    """Which of the CPU's bfloat16 instruction sets Linux reports."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "instruction sets unknown"
    named = {"avx512_bf16": "AVX-512 BF16", "amx_bf16": "AMX-BF16"}
    return ", ".join(f"{label} {'yes' if flag in flags else 'no'}" for flag, label in named.items())


def _median_step_seconds(cases: dict[str, tuple[TrainingRun, Tensor, Tensor]], repeats: int) -> dict[str, float]:
    """Median seconds of one ``train_step`` per ``(run, source, target)``, interleaved: load affects all alike."""
    for run, source, target in cases.values():  # warm-up: first calls allocate and pick kernels
        run.train_step(source, target)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (run, source, target) in cases.items():
            started = time.perf_counter()
            run.train_step(source, target)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def _compiled(run: TrainingRun) -> TrainingRun:
    run.generator = torch.compile(run.generator)
    run.discriminator = torch.compile(run.discriminator)
    return run


def _channels_last(run: TrainingRun) -> TrainingRun:
    run.generator.to(memory_format=torch.channels_last)
    run.discriminator.to(memory_format=torch.channels_last)
    return run


def fast_vs_dense(args: argparse.Namespace) -> list[str]:
    """The histogram layers' share: the same step with the fast and the dense layers."""
    torch.set_num_threads(args.threads)
    config = TrainConfig(width=args.width, depth=args.depth, batch_size=args.batch, bins=args.bins)
    runs = {impl: TrainingRun(dataclasses.replace(config, histogram_impl=impl), torch.device("cpu"))
            for impl in ("fast", "dense")}
    pairs = hsv_pairs(args.batch, args.size)
    seconds = _median_step_seconds({impl: (run, *pairs) for impl, run in runs.items()}, args.repeats)
    ratio = seconds["dense"] / seconds["fast"]
    return [
        "## Fast vs dense histogram layers",
        "",
        f"One full step (D step + G step with L_adv + 100 L_EMD + 25 L_MI) at {args.size} x {args.size} px, "
        f"batch {args.batch}, K = {args.bins}, generator width {args.width} / depth {args.depth}, "
        f"{args.threads} threads; median of {args.repeats} interleaved steps after one warm-up step each.",
        "",
        "| histogram layers | s / step | images / s |",
        "| --- | ---: | ---: |",
        *(f"| {impl} | {seconds[impl]:.3f} | {args.batch / seconds[impl]:.1f} |" for impl in runs),
        "",
        f"**fast / dense throughput: {ratio:.1f}x** (goal >= 3x: {'met' if ratio >= 3 else 'missed'})",
        "",
    ]


def cpu_profile_step(args: argparse.Namespace) -> list[str]:
    """The pipeline's step (params.yaml's train group), and what was tried on top of it."""
    config, stage = stage_params(Path("params.yaml"), "train", TrainConfig, stage_keys=STAGE_KEYS, variant="full")
    torch.set_num_threads(stage["threads"])
    cpu = torch.device("cpu")
    pairs = hsv_pairs(config.batch_size, stage["crop_size"])
    cases = {
        "the step (now)": (TrainingRun(config, cpu), *pairs),
        "+ channels_last (tried)": (_channels_last(TrainingRun(config, cpu)),
                                    *hsv_pairs(config.batch_size, stage["crop_size"], channels_last=True)),
        "+ bf16 autocast (tried)": (TrainingRun(dataclasses.replace(config, amp=True), cpu), *pairs),
        "+ torch.compile (tried)": (_compiled(TrainingRun(config, cpu)), *pairs),
    }
    seconds = _median_step_seconds(cases, args.profile_repeats)
    return [
        "## The pipeline's step, and what was tried on top of it",
        "",
        f"The CPU profile of `params.yaml` (`train`: {stage['crop_size']} px, "
        f"batch {config.batch_size}, width {config.width} / depth {config.depth}, {config.emd_form} EMD, "
        f"MI on {config.mi_bins or config.bins} bins) with {stage['threads']} thread(s), as the train stage runs it; "
        f"median of {args.profile_repeats} interleaved steps.",
        "",
        "| step | s / step | 2000 steps (min) |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {s:.3f} | {2000 * s / 60:.1f} |" for name, s in seconds.items()),
        "",
        f"CPU: {cpu_name()}; {_bf16_flags()}. bf16 autocast (`train.config.amp: true`) runs the networks in bfloat16 "
        "(the histograms and losses stay float32); `torch.compile` (inductor, default mode) compiles the generator and "
        "the discriminator, the first step (compilation) left out of the median.",
        "",
        "What `torch.profiler` showed (10 steps, one thread): convolutions forward and backward take about 60% of the "
        "step, the largest single one the PatchGAN's stride-1 128 -> 256 layer; a for-loop Adam about "
        "10% (per-tensor `sqrt`, `div`, `lerp` kernels on the 1M-weight layers), which fused Adam, now used, removed; "
        "the banded "
        "histograms about 15%. Per-step `.item()` calls cost nothing on a CPU (no device to wait for), and the "
        "step inside the notebook run (`models/*/losses.csv`, column `seconds`) matches the standalone one "
        "when the machine is otherwise idle.",
        "",
    ]


def losses_share(args: argparse.Namespace) -> list[str]:
    """The histogram losses (forward + backward) as a share of the pipeline's whole training step, one thread."""
    config, stage = stage_params(Path("params.yaml"), "train", TrainConfig, stage_keys=STAGE_KEYS, variant="full")
    torch.set_num_threads(1)
    run = TrainingRun(config, torch.device("cpu"))
    source, target = hsv_pairs(config.batch_size, stage["crop_size"])
    hue = torch.rand(config.batch_size, 1, stage["crop_size"], stage["crop_size"], requires_grad=True)
    target_hist = run.histogram(target[:, :1])

    def losses() -> None:
        loss = emd_loss(run.histogram(hue), target_hist, form=config.emd_form, over_bins=config.emd_reduction)
        (config.lambda_emd * loss + config.lambda_mi * run.mi(source[:, :1], hue)).backward()
        hue.grad = None

    cases = {"step": (lambda: run.train_step(source, target)), "losses": losses}
    for case in cases.values():
        case()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.profile_repeats):
        for name, case in cases.items():
            started = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - started)
    step, loss = (statistics.median(times[name]) for name in ("step", "losses"))
    share = loss / step
    return [
        "## The histogram losses' share of a step",
        "",
        f"One thread; the step of `params.yaml` ({stage['crop_size']} px, batch {config.batch_size}, EMD on "
        f"{config.bins} bins, MI on {config.mi_bins or config.bins} x {config.mi_bins or config.bins}, "
        f"`histogram_impl: {config.histogram_impl}`) and its two histogram losses alone (forward and backward with "
        f"respect to the output hue), interleaved, median of {args.profile_repeats}.",
        "",
        "| | ms |",
        "| --- | ---: |",
        f"| whole step (D step + G step) | {step * 1e3:.1f} |",
        f"| histogram losses, forward + backward | {loss * 1e3:.1f} |",
        "",
        f"**The losses are {100 * share:.0f}% of the step** (goal <= 10%: {'met' if share <= 0.10 else 'missed'}).",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--width", type=int, default=32, help="generator/discriminator width (CPU profile)")
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant, fast vs dense")
    parser.add_argument("--profile-repeats", type=int, default=30, help="timed steps per variant, CPU profile")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/train_step.md"))
    args = parser.parse_args()

    lines = [
        "# Training-step throughput",
        "",
        *fast_vs_dense(args),
        *cpu_profile_step(args),
        *losses_share(args),
        f"Machine: {cpu_name()}, torch {torch.__version__}, {datetime.date.today().isoformat()}. "
        "Command: `python benchmarks/bench_train_step.py`.",
        "",
    ]
    text = "\n".join(lines)
    write_report(args.out, text)


if __name__ == "__main__":
    main()
