"""CPU time and peak memory of the histogram losses: fast (banded) vs dense (paper) vs kornia.

Two training-time cases, each forward + backward with respect to the output hue:

* ``emd``: cyclic hue histogram of the output + cyclic ``emd_loss`` against a fixed target histogram;
* ``mi``: joint histogram of (source hue, output hue) + ``mi_loss``.

Each is run with ``impl="dense"``, ``impl="fast"`` and, as an outside reference, kornia's
``kornia.enhance.histogram`` / ``histogram2d`` feeding the same losses. kornia differs from the paper's
layer: a Gaussian kernel sampled at the bin centres (not integrated over the bin), no wrap-around at the
hue seam, and normalisation by the total instead of per pixel; it is dense, like ``impl="dense"``.

Every (case, implementation, size) runs in a fresh subprocess of this script, so that each measurement is
that case's alone. The worker runs a warm-up forward + backward (its loss and input gradient are kept for
the fast-vs-dense agreement), an RSS run, then ``--repeats`` timed runs whose median is reported. Peak
memory is taken two ways (tracemalloc would see neither: torch allocates outside Python's allocator):

* tensor peak, on the warm-up run: the largest total of live tensor bytes, from torch's CPU allocator
  events (``torch.profiler`` with ``profile_memory=True``, allocations and frees summed in time order).
  The implementation's own footprint, exact and repeatable; the dense/fast memory ratio uses it;
* RSS peak, on the unprofiled second run: the kernel's peak resident set (``VmHWM``, reset through
  ``/proc/self/clear_refs`` after a ``malloc_trim``) minus the resident set before the run. What the OS
  sees, including the C allocator's caching and fragmentation, hence noisier.

A last section, in this process on one thread, measures the **memory floor**, a read and a write of the input
forward and a read and a write backward (``(x * 1.0).backward(g)`` on the hue input, ``g`` allocated beforehand),
and each case against it, the cases interleaved over ``--rounds`` rounds (medians), at the library's shape (2
images of 256 x 256 px, 256 bins for both losses) and at the training step's (8 crops of 64 px, the EMD on 256 bins
and the MI on 32 x 32, as ``params.yaml``'s train group).

Usage::

    python benchmarks/bench_histograms.py --sizes 64 128 256 --bins 256 --batch 4 --repeats 3 \\
        --out reports/benchmarks/histograms.md
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reporting import write_report

CASES = {"emd": "1D cyclic hue histogram + cyclic EMD", "mi": "joint histogram + MI loss"}
IMPLS = ("dense", "fast", "kornia")
PHOTOS = ("astronaut", "coffee", "chelsea", "flower", "china")
# goals at the largest size (dense/fast): time ratio per case, memory ratio, agreement
TIME_GOAL = {"emd": 25.0, "mi": 10.0}
MEMORY_GOAL = 10.0
AGREEMENT_GOAL = 1e-6
# The floor section: shape -> (batch, px, EMD bins, MI bins); at the library shape, "fast" within these multiples
SHAPES = {"library": (2, 256, 256, 256), "training step": (8, 64, 256, 32)}
FLOOR_GOAL = {"emd": 10.0, "mi": 40.0}


# --------------------------------------------------------------------------- worker (subprocess)


def _proc_status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{field} not in /proc/self/status")
    return int(match.group(1))


def _reset_peak_rss() -> bool:
    """Return freed heap to the OS, then reset VmHWM to the current RSS (Linux >= 4.0).

    False where the kernel refuses: VmHWM is then the process's lifetime peak, an upper bound.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc: otherwise freed warm-up memory hides new peaks
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _tensor_peak_bytes(prof) -> int:
    """Largest running total of CPU allocator events (+ alloc, - free) in a profile."""
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for event in events:
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def _photo_hues(size: int):
    """Hue of the five wheel-shipped photos, centre-cropped and resized: (5, size*size) float32."""
    import torch

    from huenet.core.color import rgb_to_hsv
    from huenet.data.photos import sample_photo

    rgb = torch.cat([sample_photo(name, size) for name in PHOTOS]).float()
    return rgb_to_hsv(rgb)[:, 0].flatten(1).contiguous()


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(spec["threads"])
    import kornia.enhance

    from huenet.core.histograms import joint_histogram, soft_histogram
    from huenet.core.losses import emd_loss, mi_loss

    case, impl, bins, batch, r = spec["case"], spec["impl"], spec["bins"], spec["batch"], spec["kernel_width_ratio"]
    hues = _photo_hues(spec["size"])
    # output hue: the first photos, cycled up to the batch; target and source are other photos
    index = torch.arange(batch) % 4
    output = hues[index].clone()
    source = hues[(index + 1) % 4].clone()
    target = soft_histogram(hues[4:5], bins, cyclic=True, kernel_width_ratio=r).expand(batch, bins).contiguous()
    centres = (torch.arange(bins, dtype=torch.float32) + 0.5) / bins
    # kornia's Gaussian gets the standard deviation of Pi: a logistic of width W convolved with a bin-wide box
    width, binw = 1.0 / (bins * r), 1.0 / bins
    bandwidth = torch.tensor(math.sqrt(math.pi**2 / 3 * width**2 + binw**2 / 12))

    def loss_of(y: torch.Tensor) -> torch.Tensor:
        if case == "emd":
            if impl == "kornia":
                p = kornia.enhance.histogram(y, centres, bandwidth)
            else:
                p = soft_histogram(y, bins, cyclic=True, kernel_width_ratio=r, impl=impl)
            return emd_loss(p, target, cyclic=True, reduction="sum")
        if impl == "kornia":
            joint = kornia.enhance.histogram2d(source, y, centres, bandwidth)
        else:
            joint = joint_histogram(source, y, bins, cyclic=True, kernel_width_ratio=r, impl=impl)
        return mi_loss(joint, reduction="sum")

    from torch.profiler import ProfilerActivity, profile

    # Warm-up, profiled: tensor allocations are the same on every run (no caching allocator on CPU), so the
    # first run gives the tensor peak; its loss and gradient are kept for the agreement check.
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        y = output.clone().requires_grad_(True)
        loss = loss_of(y)
        (grad,) = torch.autograd.grad(loss, y)
    tensor_peak = _tensor_peak_bytes(prof)
    torch.save({"loss": loss.detach(), "grad": grad}, spec["result"])
    del loss, grad, y, prof

    # RSS run, unprofiled (the profiler's own buffers would count), over the state after the warm-up
    exact = _reset_peak_rss()
    base = _proc_status_kib("VmRSS")
    y = output.clone().requires_grad_(True)
    torch.autograd.grad(loss_of(y), y)
    del y
    rss_peak = _proc_status_kib("VmHWM")

    times = []
    for _ in range(spec["repeats"]):
        y = output.clone().requires_grad_(True)
        start = time.perf_counter()
        loss_of(y).backward()
        times.append(time.perf_counter() - start)
        del y
    return {
        "time_s": statistics.median(times),
        "times_s": times,
        "peak_mib": tensor_peak / 2**20,
        "rss_mib": (rss_peak - base) / 1024,
        "exact_rss": exact,
    }


# --------------------------------------------------------------------------- driver


def _run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in a fresh interpreter and return its measurements."""
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": str(spec["threads"])},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec['case']}/{spec['impl']}/{spec['size']} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _machine(threads: int, load_start: tuple[float, ...]) -> list[str]:
    import kornia
    import torch

    from huenet.pipeline.machine import cpu_name

    cpu = cpu_name()

    def load(values: tuple[float, ...]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    return [
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; torch threads: {threads}",
        f"- torch {torch.__version__}, kornia {kornia.__version__}, Python {platform.python_version()}",
        f"- load average (1, 5, 15 min) at start {load(load_start)}, at end {load(os.getloadavg())}: other jobs "
        "may share these cores, and with 2 threads on 2 busy cores every parallel op can wait a scheduler "
        "slice, so treat times (not memory) as noisy",
    ]


def _fmt_ms(s: float) -> str:
    return f"{s * 1e3:,.1f}"


def _ratio(a: float, b: float) -> float:
    return a / max(b, 1e-9)


def _medians(cases: dict[str, Any], rounds: int) -> dict[str, float]:
    """Median seconds of each zero-argument case, interleaved round by round, after a warm-up call each."""
    for run in cases.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _floor_section(rounds: int, r: float) -> list[str]:
    """Each loss, forward + backward on one thread, as a multiple of the memory floor measured beside it."""
    import torch

    from huenet.core.histograms import joint_histogram, soft_histogram
    from huenet.core.losses import emd_loss, mi_loss

    torch.set_num_threads(1)
    lines = [
        "## Against the memory floor (one thread)",
        "",
        f"In this process, cases interleaved, median of {rounds} rounds. The floor: `(x * 1.0).backward(g)` on the "
        "hue input (a read and a write forward, a read and a write backward). *fast*: the CPU kernels (numba); "
        "*torch*: the banded tensor path (what other devices run); *dense*: the paper's construction.",
        "",
        "| shape | case | impl | ms | x floor | goal |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    verdicts = []
    for shape, (batch, size, bins, mi_bins) in SHAPES.items():
        hues = _photo_hues(size)
        index = torch.arange(batch) % 4
        output, source = hues[index].clone(), hues[(index + 1) % 4].clone()
        target = soft_histogram(hues[4:5], bins, kernel_width_ratio=r).expand(batch, bins).contiguous()
        leaf = output.clone().requires_grad_(True)
        upstream = torch.rand_like(leaf)

        def floor() -> None:
            (leaf * 1.0).backward(upstream)
            leaf.grad = None

        def case(what: str, impl: str):
            def run() -> None:
                if what == "emd":
                    loss = emd_loss(soft_histogram(leaf, bins, kernel_width_ratio=r, impl=impl), target, form="root")
                else:
                    loss = mi_loss(joint_histogram(source, leaf, mi_bins, kernel_width_ratio=r, impl=impl))
                loss.backward()
                leaf.grad = None
            return run

        impls = ("fast", "torch", "dense") if shape == "training step" else ("fast", "torch")
        cases = {"floor": floor} | {f"{what} {impl}": case(what, impl) for what in ("emd", "mi") for impl in impls}
        seconds = _medians(cases, rounds)
        lines.append(f"| {shape}: {batch} x {size} px | memory floor | | {seconds['floor'] * 1e3:.3f} | 1 | |")
        for what in ("emd", "mi"):
            title = f"{CASES[what]} ({bins if what == 'emd' else mi_bins} bins)"
            for impl in impls:
                multiple = seconds[f"{what} {impl}"] / seconds["floor"]
                goal = FLOOR_GOAL[what] if shape == "library" and impl == "fast" else None
                lines.append(f"| | {title} | {impl} | {seconds[f'{what} {impl}'] * 1e3:.2f} | {multiple:.0f}x | "
                             f"{f'<= {goal:g}x' if goal else ''} |")
                if goal:
                    verdicts.append(f"- library shape, {title}: {multiple:.0f}x the floor (goal <= {goal:g}x): "
                                    f"{'goal met' if multiple <= goal else 'missed'}")
    return lines + [""] + verdicts + [""]


def _report(args: argparse.Namespace, results: dict, agreement: dict, exact_rss: bool, load_start) -> str:
    lines = ["# Histogram layers: CPU time and peak memory, fast vs dense", ""]
    lines += _machine(args.threads, load_start)
    lines += [
        f"- K = {args.bins} bins, kernel_width_ratio r = {args.kernel_width_ratio}, batch {args.batch}, float32, "
        f"square photos (scikit-image / scikit-learn samples) at {', '.join(str(s) for s in args.sizes)} px; "
        "the gradient is taken w.r.t. the output hue",
        f"- time: forward + backward, median of {args.repeats} runs after a warm-up and an RSS run",
        "- memory (each case in a fresh subprocess): *tensor peak* (MiB columns) = the largest total of live tensor "
        "bytes during one forward + backward, from torch's CPU allocator events (torch.profiler, "
        "profile_memory=True); *RSS peak* = VmHWM minus VmRSS before a second, unprofiled run"
        + (" (VmHWM reset through /proc/self/clear_refs after malloc_trim)" if exact_rss
           else " (VmHWM could not be reset: lifetime peak, an upper bound)")
        + ". The dense/fast memory ratio and the goal use the tensor peak",
        "- agreement: fast vs dense, |loss difference| (loss summed over the batch) and max |input-gradient "
        "difference|; *relative* divides the latter by max |gradient|",
        "- kornia (outside reference, not the paper's layer): `kornia.enhance.histogram` / `histogram2d`, a "
        "Gaussian kernel sampled at the bin centres (not integrated over the bin) with the standard deviation "
        "of Pi, not cyclic, normalised by the total; dense O(N K) like impl=\"dense\"; same losses on top",
        "",
    ]
    for case, title in CASES.items():
        lines += [
            f"## {title}",
            "",
            "| px | dense ms | fast ms | kornia ms | **dense/fast time** | dense MiB | fast MiB | kornia MiB "
            "| **dense/fast memory** | RSS dense / fast / kornia MiB "
            "| abs. loss diff | max abs. grad diff | relative |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for size in args.sizes:
            d, f, k = (results[case][size][impl] for impl in IMPLS)
            a = agreement[case][size]
            lines.append(
                f"| {size} | {_fmt_ms(d['time_s'])} | {_fmt_ms(f['time_s'])} | {_fmt_ms(k['time_s'])} "
                f"| **{_ratio(d['time_s'], f['time_s']):.1f}x** "
                f"| {d['peak_mib']:,.1f} | {f['peak_mib']:,.1f} | {k['peak_mib']:,.1f} "
                f"| **{_ratio(d['peak_mib'], f['peak_mib']):.1f}x** "
                f"| {d['rss_mib']:,.0f} / {f['rss_mib']:,.0f} / {k['rss_mib']:,.0f} "
                f"| {a['loss']:.1e} | {a['grad']:.1e} | {a['grad_rel']:.1e} |"
            )
        lines.append("")
    size = max(args.sizes)
    lines += [f"## Goals at {size} px, K = {args.bins}, batch {args.batch}", ""]
    if size != 256:
        lines += ["(the goals are set for 256 px; this run's largest size is shown instead)", ""]
    for case, title in CASES.items():
        d, f = results[case][size]["dense"], results[case][size]["fast"]
        t_ratio = _ratio(d["time_s"], f["time_s"])
        m_ratio = _ratio(d["peak_mib"], f["peak_mib"])
        a = agreement[case][size]
        worst = max(a["loss"], a["grad"])
        lines += [
            f"- {title}: fast is {t_ratio:.1f}x faster (goal >= {TIME_GOAL[case]:g}x): "
            f"{'goal met' if t_ratio >= TIME_GOAL[case] else 'missed'}",
            f"- {title}: {m_ratio:.1f}x less peak tensor memory (goal >= {MEMORY_GOAL:g}x): "
            f"{'goal met' if m_ratio >= MEMORY_GOAL else 'missed'} "
            f"(RSS peaks: {_ratio(d['rss_mib'], f['rss_mib']):.1f}x)",
            f"- {title}: agreement {worst:.1e} (goal <= {AGREEMENT_GOAL:g}): "
            f"{'goal met' if worst <= AGREEMENT_GOAL else 'missed'}",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256], help="square image sizes (px)")
    parser.add_argument("--bins", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up")
    parser.add_argument("--kernel-width-ratio", type=float, default=2.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=25, help="interleaved rounds of the floor section")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/histograms.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return

    import torch

    load_start = os.getloadavg()
    results: dict[str, dict[int, dict[str, dict]]] = {case: {} for case in CASES}
    agreement: dict[str, dict[int, dict[str, float]]] = {case: {} for case in CASES}
    exact_rss = True
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for case in CASES:
                results[case][size] = {}
                for impl in IMPLS:
                    spec = {
                        "case": case, "impl": impl, "size": size, "bins": args.bins, "batch": args.batch,
                        "repeats": args.repeats, "threads": args.threads,
                        "kernel_width_ratio": args.kernel_width_ratio, "result": f"{tmp}/{case}-{impl}-{size}.pt",
                    }
                    res = _run_case(spec)
                    exact_rss &= res["exact_rss"]
                    results[case][size][impl] = res
                    print(f"{size:>4} px  {case:<4} {impl:<7} {_fmt_ms(res['time_s']):>10} ms  "
                          f"tensors {res['peak_mib']:>9,.1f} MiB  RSS {res['rss_mib']:>9,.1f} MiB",
                          file=sys.stderr, flush=True)
                dense = torch.load(f"{tmp}/{case}-dense-{size}.pt")
                fast = torch.load(f"{tmp}/{case}-fast-{size}.pt")
                grad_diff = (dense["grad"] - fast["grad"]).abs().max().item()
                agreement[case][size] = {
                    "loss": (dense["loss"] - fast["loss"]).abs().item(),
                    "grad": grad_diff,
                    "grad_rel": grad_diff / dense["grad"].abs().max().item(),
                }

    report = _report(args, results, agreement, exact_rss, load_start)
    write_report(args.out, report + "\n" + "\n".join(_floor_section(args.rounds, args.kernel_width_ratio)))


if __name__ == "__main__":
    main()
