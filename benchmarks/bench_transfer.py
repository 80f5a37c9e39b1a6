"""``huenet.transfer`` on large photos: agreement with the working size, hue noise, speed and memory.

A photo from scikit-image's data module (``rocket``, 640 x 427, with a flat sky) is upscaled to 1, 4 and 12
megapixels (bicubic; upscaling makes edges softer than a camera's, so it understates the lift's errors at edges)
and painted by Hue-Net with a flower's colours at the default working size, the change lifted to full size.

- **consistency**: the full-size output, downscaled to the working size, against the working-size output:
  mean circular hue difference on saturated pixels (S >= 0.2 in both; goal <= 2 degrees) and the hue EMD between the two
  (goal <= 0.01);
- **hue noise**: in flat saturated regions of the source (working-size pixels whose 3 x 3 windows of S and V
  vary by less than 0.02), the output hue's local circular spread (1 - the mean resultant length of its angle
  over 3 x 3 working-size pixels, the full-size output's hue vectors averaged over each pixel's footprint first)
  at full size against the working-size output's;
- **speed**: ``transfer`` from a JPEG file to a JPEG file, in-process with torch imported and the model loaded,
  against Pillow decoding and re-encoding the same file (the I/O floor), interleaved (goal <= 4x at 12 MP); the
  CLI's start-up (``import huenet.cli`` in a fresh interpreter) apart;
- **memory**: the growth of the process's peak resident set per megapixel during a transfer from the file to
  JPEG bytes, sizes in ascending order and before any metric is computed, after one transfer of a tiny photo has
  loaded the lift's compiled kernels (goal <= 0.1 GiB per megapixel).

The consistency goal measures how much of the working-size output's own pixel-to-pixel hue texture the lift
reproduces. For reference, the table has the same numbers for a block copy of the working-size output
(nearest-neighbour upsampling): it agrees with that output by construction, up to the downscale's filter.

    python benchmarks/bench_transfer.py                # models/huenet/full/generator.pt, else the shipped weights
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from reporting import write_report

from huenet.core.color import rgb_to_hsv
from huenet.data.photos import sample_photo
from huenet.eval.metrics import hue_emd
from huenet.paint.api import DEFAULT_WORK_SIZE, Painter, painter
from huenet.paint.images import read_pixels
from huenet.paint.methods import get_method, model_file
from huenet.paint.translations import TRANSLATION_STEPS
from huenet.paint.upsample import lift_hue, shrink, unit_float
from huenet.pipeline.machine import benchmark_footer

GOALS = {"degrees": 2.0, "emd": 0.01, "io_ratio": 4.0, "gib_per_mp": 0.1}


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def _photo(megapixels: float, folder: Path) -> Path:
    from skimage import data

    image = Image.fromarray(data.rocket())
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    path = folder / f"rocket_{megapixels:g}mp.jpg"
    image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC).save(path, quality=92)
    return path


def _flat_saturated(small_source: torch.Tensor) -> torch.Tensor:
    """``(h, w)`` bool: working-size pixels whose 3 x 3 windows vary by less than 0.02 in S and in V, S >= 0.1."""
    hsv = rgb_to_hsv(small_source)[0]
    flat = torch.ones_like(hsv[0], dtype=torch.bool)
    for channel in hsv[1:]:
        pooled = [F.max_pool2d(sign * channel[None, None], 3, 1, 1)[0, 0] for sign in (1, -1)]
        flat &= (pooled[0] + pooled[1]) < 0.02
    return flat & (hsv[1] >= 0.1)


def _spread_in_flat(output: torch.Tensor, flat: torch.Tensor) -> float:
    """Mean over ``flat`` of the output hue's circular spread, 1 - the mean resultant length of its angle, in
    windows of 3 x 3 working-size pixels: the hue vectors are averaged over each working-size pixel's footprint
    first, so a full-size output and the working-size one are measured over the same extent of the photo."""
    angle = rgb_to_hsv(unit_float(output))[:, :1] * 2 * np.pi
    vectors = torch.cat((torch.cos(angle), torch.sin(angle)), 1)
    if vectors.shape[-2:] != flat.shape:
        vectors = F.interpolate(vectors, size=flat.shape, mode="area")
    mean = F.avg_pool2d(vectors, 3, 1, 1, count_include_pad=False)[0]
    return float((1 - torch.hypot(mean[0], mean[1]))[flat].mean()) if flat.any() else float("nan")


def _consistency(full: torch.Tensor, small_output: torch.Tensor) -> tuple[float, float, float, float, float]:
    """Mean and median circular hue gap (degrees) over saturated pixels, the hue EMD, of ``full`` downscaled to the
    working size against the working-size output; and the mean gap over the pixels with S in [0.2, 0.4) and over
    those with S >= 0.4 (the working-size output's S)."""
    down = F.interpolate(unit_float(full), size=small_output.shape[-2:], mode="bilinear", antialias=True,
                         align_corners=False)
    a, b = rgb_to_hsv(down.clamp(0, 1))[0], rgb_to_hsv(small_output)[0]
    saturated = (a[1] >= 0.2) & (b[1] >= 0.2)
    gap = ((a[0] - b[0] + 0.5) % 1.0 - 0.5).abs() * 360
    low, high = gap[saturated & (b[1] < 0.4)], gap[saturated & (b[1] >= 0.4)]
    return (float(gap[saturated].mean()), float(gap[saturated].median()),
            float(hue_emd(down.clamp(0, 1), small_output)[0]), float(low.mean()), float(high.mean()))


def _translation_steps(paint: Painter, photo: Path) -> list[str]:
    """Table rows: the consistency and the flat regions' spread with the working-size output averaged over 1 x 1 to
    8 x 8 shifts, the rest of the transfer as ``paint`` does it."""
    source = read_pixels(photo, max_megapixels=None)
    small = shrink(source, paint.work_size)
    flat = _flat_saturated(small)
    rows = []
    for steps in (1, 2, 4, 8):
        with torch.inference_mode():
            output = paint.working_output(small, steps=steps)
            full = lift_hue(source, small, output)
        mean, median, emd, *_ = _consistency(full, output)
        rows.append(f"| {steps} x {steps} | {mean:.2f} / {median:.2f} | {emd:.4f} | "
                    f"{_spread_in_flat(full, flat):.4f} / {_spread_in_flat(output, flat):.4f} |")
    return rows


def _parts(paint: Painter, photo: Path, repeats: int) -> dict[str, float]:
    """Median seconds of the transfer's parts on ``photo``: reading it, the working-size output (the shrink and the
    network's runs), the lift."""
    seconds: dict[str, list[float]] = {"read": [], "network": [], "lift": []}
    for _ in range(repeats):
        started = time.perf_counter()
        source = read_pixels(photo, max_megapixels=None)
        read = time.perf_counter()
        with torch.inference_mode():
            small = shrink(source, paint.work_size)
            output = paint.working_output(small)
            network = time.perf_counter()
            lift_hue(source, small, output)
        done = time.perf_counter()
        for name, value in (("read", read - started), ("network", network - read), ("lift", done - network)):
            seconds[name].append(value)
    return {name: statistics.median(values) for name, values in seconds.items()}


def _pillow_roundtrip(path: Path) -> None:
    with Image.open(path) as image:
        image.convert("RGB").save(io.BytesIO(), "JPEG", quality=95)


def _huenet_roundtrip(paint, path: Path) -> None:
    paint(path).save(io.BytesIO(), "JPEG", quality=95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a generator.pt (default: what huenet transfer uses)")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 4.0, 12.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("build/bench_transfer"))
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/transfer.md"))
    parser.add_argument("--figure", type=Path, default=Path("reports/figures/paint_your_photos.png"),
                        help="the README's picture: the smallest photo painted at strength 1 and 0.5")
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.folder.mkdir(parents=True, exist_ok=True)
    model = model_file(get_method("huenet"), args.model)
    target = Image.fromarray((sample_photo("flower", 256)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    paint = painter(target, model=model)
    sizes = sorted(args.megapixels)
    photos = {mp: _photo(mp, args.folder) for mp in sizes}
    load_before = os.getloadavg()[0]

    peak = {}
    _huenet_roundtrip(paint, _photo(0.05, args.folder))  # loads the lift's compiled kernels: a fixed cost
    baseline = _peak_gib()
    for mp in sizes:  # ascending, so that each peak is this size's, and before any metric's full-size arrays
        _huenet_roundtrip(paint, photos[mp])
        peak[mp] = (_peak_gib() - baseline) / mp
    seconds: dict[tuple[str, float], list[float]] = {}
    for _ in range(args.repeats):
        for mp in sizes:
            for name, run in (("pillow", _pillow_roundtrip), ("huenet", lambda p: _huenet_roundtrip(paint, p))):
                started = time.perf_counter()
                run(photos[mp])
                seconds.setdefault((name, mp), []).append(time.perf_counter() - started)
    rows = {}
    for mp in sizes:
        source = read_pixels(photos[mp], max_megapixels=None)
        with torch.inference_mode():
            full, small, small_output = paint.paint(source, working=True)
            projected = lift_hue(source, small, small_output, back_projections=1)
        block = F.interpolate(small_output, size=source.shape[-2:], mode="nearest")
        flat = _flat_saturated(small)
        mean, median, emd, low, high = _consistency(full, small_output)
        block_mean, block_median, *_ = _consistency(block, small_output)
        projected_mean, projected_median, projected_emd, *_ = _consistency(projected, small_output)
        rows[mp] = {"pixels": source.shape[-1] * source.shape[-2], "degrees": mean, "median": median, "emd": emd,
                    "by_saturation": (low, high),
                    "projected": (projected_mean, projected_median, projected_emd, _spread_in_flat(projected, flat)),
                    "block": (block_mean, block_median), "spread_full": _spread_in_flat(full, flat),
                    "spread_small": _spread_in_flat(small_output, flat), "gib_per_mp": peak[mp]}
        del source, full, small, small_output, block, projected
    steps_rows = _translation_steps(paint, photos[sizes[0]])
    parts = _parts(paint, photos[sizes[-1]], args.repeats)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import huenet.cli"], check=True)
    start_up_seconds = time.perf_counter() - started
    load_after = os.getloadavg()[0]

    table = ["| photo | hue gap (deg), mean / median | mean gap at S 0.2-0.4 / S >= 0.4 | block copy's gap, mean / "
             "median | hue EMD | hue spread in flat regions, full / working size | transfer (s) | Pillow (s) | ratio | "
             "peak memory (GiB/MP) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    verdicts = []
    for mp in sizes:
        r = rows[mp]
        ours, floor = (statistics.median(seconds[name, mp]) for name in ("huenet", "pillow"))
        table.append(f"| {r['pixels'] / 1e6:.1f} MP | {r['degrees']:.2f} / {r['median']:.2f} | "
                     f"{r['by_saturation'][0]:.2f} / {r['by_saturation'][1]:.2f} | "
                     f"{r['block'][0]:.2f} / {r['block'][1]:.2f} | {r['emd']:.4f} | "
                     f"{r['spread_full']:.4f} / {r['spread_small']:.4f} | {ours:.2f} | {floor:.2f} | "
                     f"{ours / floor:.1f}x | {r['gib_per_mp']:.3f} |")
        r["ratio"] = ours / floor
    largest = rows[sizes[-1]]
    for goal, value, limit in (("hue gap", max(r["degrees"] for r in rows.values()), GOALS["degrees"]),
                               ("hue EMD", max(r["emd"] for r in rows.values()), GOALS["emd"]),
                               (f"time against Pillow at {sizes[-1]:g} MP", largest["ratio"], GOALS["io_ratio"]),
                               ("peak memory per megapixel", max(r["gib_per_mp"] for r in rows.values()),
                                GOALS["gib_per_mp"])):
        verdict = "met" if value <= limit else "not met"
        verdicts.append(f"- {goal}: {value:.3g} against at most {limit:g}: **{verdict}**")
    noisier = [f"{mp:g} MP" for mp, r in rows.items() if not r["spread_full"] <= r["spread_small"]]
    verdicts.append("- hue spread in flat regions no larger at full size than at the working size: "
                    + (f"**not met** at {', '.join(noisier)}" if noisier else "**met** at every size"))
    lines = [
        "# huenet transfer on large photos",
        "",
        f"scikit-image's `rocket` (640 x 427) upscaled (bicubic: edges softer than a camera's, so edge errors are "
        f"understated) and painted by Hue-Net with a flower's colours at the working size {DEFAULT_WORK_SIZE}, "
        f"lifted to full size. Median of {args.repeats} interleaved runs for the times; JPEG file to JPEG in memory "
        "(quality 95), in-process with the model loaded; the photo stays 8-bit through the lift. "
        "`python benchmarks/bench_transfer.py`.",
        "",
        *table,
        "",
        *verdicts,
        "",
        f"The command's start-up (`python -c 'import huenet.cli'`, a fresh interpreter): {start_up_seconds:.2f} s, "
        "apart from the times above.",
        "",
        "With one round of back-projection (`lift_hue(..., back_projections=1)`, not the default: the full-size "
        "result shrunk back, each working-size pixel's model turned by the hue it still misses, a second full-size "
        "pass):",
        "",
        "| photo | hue gap (deg), mean / median | hue EMD | hue spread in flat regions, full / working size |",
        "| ---: | ---: | ---: | ---: |",
        *[f"| {r['pixels'] / 1e6:.1f} MP | {r['projected'][0]:.2f} / {r['projected'][1]:.2f} | "
          f"{r['projected'][2]:.4f} | {r['projected'][3]:.4f} / {r['spread_small']:.4f} |" for r in rows.values()],
        "",
        f"Of the {sizes[-1]:g} MP transfer (median of {args.repeats}): reading the JPEG {parts['read']:.3f} s, the "
        f"working-size output (the shrink and the network's {TRANSLATION_STEPS ** 2} runs) {parts['network']:.3f} s, "
        f"the lift "
        f"(fit and full-size pass) {parts['lift']:.3f} s.",
        "",
        f"The network's output averaged over shifts of its input (`huenet.paint.translations`), on the "
        f"{rows[sizes[0]]['pixels'] / 1e6:.1f} MP photo: the hue gap and EMD as above for each number of shifts "
        f"(the default is {TRANSLATION_STEPS} x {TRANSLATION_STEPS}; 1 x 1 is the raw network).",
        "",
        "| shifts | hue gap (deg), mean / median | hue EMD | hue spread in flat regions, full / working size |",
        "| ---: | ---: | ---: | ---: |",
        *steps_rows,
        "",
        f"- model: `{model}`",
        *benchmark_footer(load_before, load_after),
    ]
    write_report(args.out, "\n".join(lines))
    _figure(photos[sizes[0]], target, model, args.figure)


def _figure(photo: Path, target: Image.Image, model: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from huenet.pipeline.figures import save_figure

    with Image.open(photo) as opened:
        source = opened.convert("RGB")
    painted = {strength: painter(target, model=model, strength=strength)(photo) for strength in (1.0, 0.5)}
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.6), gridspec_kw={"width_ratios": [1.5, 1, 1.5, 1.5]})
    shown = [(source, f"source, {source.width} x {source.height}"), (target, "target"),
             (painted[1.0], "huenet transfer"), (painted[0.5], "--strength 0.5")]
    for ax, (image, title) in zip(axes, shown):
        ax.imshow(image), ax.set_title(title, fontsize=9), ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path.parent, path.name, dpi=100)


if __name__ == "__main__":
    main()
