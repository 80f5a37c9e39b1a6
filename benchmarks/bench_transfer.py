"""``huenet transfer`` on large photos: agreement with the working size in CIEDE2000, hue noise, speed and memory.

Eight photo and target pairs from the sample photos (:func:`huenet.data.photos.photo_pixels`): skies (``rocket``
twice, ``china``), faces (``astronaut``, ``chelsea``'s cat) and objects (``coffee``, ``stereo_motorcycle``,
``flower``). Each photo is upscaled to 1, 4 and 12 megapixels (bicubic, saved as JPEG at quality 92; upscaling
makes edges softer than a camera's, so it understates the lift's errors at edges) and painted by Hue-Net with its
target's colours at the default working size, the change lifted to full size. Per pair and size:

- **agreement**: the full-size output area-shrunk to the working-size grid, against the working-size output:
  CIEDE2000 (CIE 142-2001, scikit-image's ``deltaE_ciede2000`` on ``rgb2lab``, D65) on every pixel of that grid,
  its mean (goal <= 1.0, about the smallest difference an observer notices) and 95th percentile (goal <= 3.0).
  Reference columns: a block copy of the working-size output (nearest-neighbour upsampling), which agrees with it
  by construction up to the shrink's footprints; the unchanged photo, area-shrunk, against the working-size source
  (made by ``huenet.paint.upsample.shrink``, antialiased bilinear): what a lift that keeps the photo's own pixels
  scores if it changes nothing, the two shrinks' own difference; and the full-size output shrunk by ``shrink``
  itself, as the working-size source was;
- **hue noise**: :func:`huenet.eval.hue_noise.hue_noise` on the working-size grid, the flat pixels those of the
  working-size source: the area-shrunk full-size output's against the working-size output's (goal: no larger;
  "n/a" where the photo has no flat region). It sees the wobble from one working-size pixel to the next, which the
  lift's per-pixel corrections could add, not the photo's own texture inside a pixel's footprint, which the lift
  keeps by design;
- **speed**: ``transfer`` from a JPEG file to JPEG bytes (quality 95), in-process with torch imported and the
  model loaded, against Pillow decoding and re-encoding the same file (the I/O floor), interleaved, median of
  ``--repeats`` (goal <= 4x at the largest size, 12 MP); the CLI's start-up (``import huenet.cli`` in a fresh
  interpreter) and the parts of the transfer apart;
- **memory**: in a fresh process per pair and size (the peak only rises), the growth of the peak resident
  set during one transfer of the file to JPEG bytes, after a transfer of a tiny photo has loaded the lift's
  compiled kernels and run the network, per megapixel (goal <= 0.1 GiB). 0.000: the photo's transfer stayed
  under that peak.

Where a pair misses an agreement goal at the largest size, its worst 8 x 8 working-size pixels are drawn at both
sizes (``--worst``), and the report says where the working-size pixels over 3 lie.

One command rewrites the report, the README's figure, the worst regions' figure and the numbers block of
``docs/full_resolution.md``. On 2 cores it took 9 minutes with other jobs holding the load at 4.5 to 6 (the report's
first paragraph gives each run's minutes).

    python benchmarks/bench_transfer.py                # models/huenet/full/generator.pt, else the shipped weights
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from reporting import write_block, write_report
from skimage.color import deltaE_ciede2000, rgb2lab

from huenet.core.color import rgb_to_hsv
from huenet.data.photos import photo_pixels
from huenet.eval.hue_noise import hue_noise
from huenet.paint.api import DEFAULT_WORK_SIZE, Painter, painter
from huenet.paint.images import read_pixels
from huenet.paint.methods import get_method, model_file
from huenet.paint.translations import TRANSLATION_STEPS
from huenet.paint.upsample import lift_hue, shrink, unit_float
from huenet.pipeline.machine import benchmark_footer

PAIRS = (("rocket", "flower"), ("rocket", "coffee"), ("china", "flower"), ("astronaut", "flower"),
         ("chelsea", "flower"), ("coffee", "china"), ("stereo_motorcycle", "astronaut"), ("flower", "rocket"))
"""Photo and target; the first is the README's figure."""
KINDS = {"rocket": "sky", "china": "sky", "astronaut": "face", "chelsea": "a cat's face", "coffee": "object",
         "stereo_motorcycle": "objects", "flower": "petals"}
GOALS = {"mean": 1.0, "p95": 3.0, "io_ratio": 4.0, "gib_per_mp": 0.1}
VISIBLE = 3.0
"""The 95th percentile's goal: the report says where the pixels above it lie."""
DETAIL = 1.0
"""A working-size pixel holds detail finer than the working size where the unchanged photo's two shrinks differ by
at least this (CIEDE2000): about the smallest difference an observer notices."""
LOW_SATURATION = 0.2
WINDOW = 8
"""Working-size pixels on a side of the worst region drawn."""


@dataclass
class Cell:
    """One pair and size. CIEDE2000 as (mean, 95th percentile)."""

    pixels: int
    delta: tuple[float, float]
    block: tuple[float, float]
    unchanged: tuple[float, float]
    through_shrink: tuple[float, float]
    noise: tuple[float, float]  # hue noise, full / working size; NaN: no flat region
    seconds: float
    pillow: float
    gib_per_mp: float
    where: tuple[float, float, float, float]  # share over VISIBLE; of them on detail, low saturation, the rest
    missed: list[str] = field(default_factory=list)


def _photo(name: str, megapixels: float, folder: Path) -> Path:
    path = folder / f"{name}_{megapixels:g}mp.jpg"
    if not path.exists():
        image = Image.fromarray(photo_pixels(name))
        scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
        size = (round(image.width * scale), round(image.height * scale))
        image.resize(size, Image.BICUBIC).save(path, quality=92)
    return path


def _target(name: str) -> Image.Image:
    return Image.fromarray(photo_pixels(name))


def _delta_e(image: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
    """CIEDE2000 of each pixel, ``(h, w)``, of two ``(1, 3, h, w)`` RGB images in [0, 1]."""
    lab = [rgb2lab(x[0].permute(1, 2, 0).double().clamp(0, 1).numpy()) for x in (image, reference)]
    return deltaE_ciede2000(*lab)


def _summary(delta: np.ndarray) -> tuple[float, float]:
    return float(delta.mean()), float(np.percentile(delta, 95))


def _area(image: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``image`` area-shrunk to ``like``'s grid: each pixel the mean of its footprint."""
    return F.interpolate(unit_float(image), size=like.shape[-2:], mode="area")


def _noise(small: torch.Tensor, image: torch.Tensor) -> float:
    return float(hue_noise(small.double(), image.double().clamp(0, 1))[0])


def _peak_gib() -> float:
    """This process's peak resident set (Linux's VmHWM). Not ``ru_maxrss``: across the ``exec`` of a subprocess it
    keeps the parent's peak, which after a 12 MP photo hides the child's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20  # KiB
    raise RuntimeError("no VmHWM in /proc/self/status: the memory measure needs Linux")


def _jpeg_roundtrip(paint: Painter, path: Path) -> None:
    paint(path).save(io.BytesIO(), "JPEG", quality=95)


def _pillow_roundtrip(path: Path) -> None:
    with Image.open(path) as image:
        image.convert("RGB").save(io.BytesIO(), "JPEG", quality=95)


def _memory_of(photo: Path, target: str, model: Path, folder: Path) -> float:
    """In this process (fresh): the peak resident set's growth per megapixel during one transfer of ``photo``."""
    torch.set_num_threads(2)
    paint = painter(_target(target), model=model)
    _jpeg_roundtrip(paint, _photo("rocket", 0.05, folder))  # loads the lift's compiled kernels: a fixed cost
    baseline = _peak_gib()
    _jpeg_roundtrip(paint, photo)
    with Image.open(photo) as image:
        return (_peak_gib() - baseline) / (image.width * image.height / 1e6)


def _memory(photo: Path, target: str, model: Path, folder: Path) -> float:
    command = [sys.executable, __file__, "--memory-of", str(photo), target, "--model", str(model),
               "--folder", str(folder)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def _times(paint: Painter, photo: Path, repeats: int) -> tuple[float, float]:
    """Median seconds of the transfer of ``photo`` and of Pillow's round trip, interleaved."""
    seconds: dict[str, list[float]] = {"huenet": [], "pillow": []}
    for _ in range(repeats):
        for name, run in (("pillow", _pillow_roundtrip), ("huenet", lambda path: _jpeg_roundtrip(paint, path))):
            started = time.perf_counter()
            run(photo)
            seconds[name].append(time.perf_counter() - started)
    return statistics.median(seconds["huenet"]), statistics.median(seconds["pillow"])


def _where(delta: np.ndarray, unchanged: np.ndarray, small: torch.Tensor) -> tuple[float, float, float, float]:
    """The share of pixels over :data:`VISIBLE`, and of them the shares on detail finer than the working size, on
    low saturation elsewhere, and the rest."""
    over = delta > VISIBLE
    detail = unchanged >= DETAIL
    low = rgb_to_hsv(small)[0, 1].numpy() < LOW_SATURATION
    count = max(int(over.sum()), 1)
    return (float(over.mean()), float((over & detail).sum() / count), float((over & ~detail & low).sum() / count),
            float((over & ~detail & ~low).sum() / count))


def _worst(source: torch.Tensor, output: torch.Tensor, full: torch.Tensor, shrunk: torch.Tensor,
           delta: np.ndarray, unchanged: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`WINDOW`-pixel square of the working-size grid with the highest mean CIEDE2000, at both sizes."""
    pooled = F.avg_pool2d(torch.from_numpy(delta)[None, None], WINDOW, stride=1)[0, 0]
    top, left = divmod(int(pooled.argmax()), pooled.shape[1])
    (h, w), (big_h, big_w) = output.shape[-2:], source.shape[-2:]
    rows = slice(top * big_h // h, (top + WINDOW) * big_h // h)
    cols = slice(left * big_w // w, (left + WINDOW) * big_w // w)
    crop = (slice(top, top + WINDOW), slice(left, left + WINDOW))

    def pixels(image: torch.Tensor) -> np.ndarray:
        return unit_float(image)[0].permute(1, 2, 0).clamp(0, 1).numpy()

    return {"source": pixels(source[..., rows, cols]), "working": pixels(output)[crop],
            "full": pixels(full[..., rows, cols]), "shrunk": pixels(shrunk)[crop],
            "delta": delta[crop], "unchanged": unchanged[crop], "at": np.array([left * big_w // w, top * big_h // h])}


def _measure(paint: Painter, photo: Path, repeats: int, memory: float,
             crop: bool) -> tuple[Cell, dict[str, np.ndarray] | None]:
    """The cell of ``photo``; with ``crop``, its worst region."""
    seconds, pillow = _times(paint, photo, repeats)
    source = read_pixels(photo, max_megapixels=None)
    with torch.inference_mode():
        full, small, output = paint.paint(source, working=True)
    shrunk = _area(full, small)
    delta = _delta_e(shrunk, output)
    unchanged = _delta_e(_area(source, small), small)
    block = F.interpolate(output, size=source.shape[-2:], mode="nearest")
    cell = Cell(pixels=source.shape[-1] * source.shape[-2], delta=_summary(delta),
                block=_summary(_delta_e(_area(block, small), output)), unchanged=_summary(unchanged),
                through_shrink=_summary(_delta_e(shrink(full, max(small.shape[-2:])), output)),
                noise=(_noise(small, shrunk), _noise(small, output)), seconds=seconds, pillow=pillow,
                gib_per_mp=memory, where=_where(delta, unchanged, small))
    return cell, _worst(source, output, full, shrunk, delta, unchanged) if crop else None


def _missed(cell: Cell, largest: bool) -> list[str]:
    """The goals ``cell`` misses; the speed goal is the largest size's."""
    checks = {"mean": cell.delta[0] <= GOALS["mean"], "p95": cell.delta[1] <= GOALS["p95"],
              "noise": math.isnan(cell.noise[0]) or cell.noise[0] <= cell.noise[1],
              "speed": not largest or cell.seconds / cell.pillow <= GOALS["io_ratio"],
              "memory": cell.gib_per_mp <= GOALS["gib_per_mp"]}
    return [goal for goal, met in checks.items() if not met]


def _translation_steps(paint: Painter, photo: Path) -> list[str]:
    """Table rows: agreement and hue noise with the working-size output averaged over 1 x 1 to 8 x 8 shifts, the
    rest of the transfer as ``paint`` does it."""
    source = read_pixels(photo, max_megapixels=None)
    small = shrink(source, paint.work_size)
    rows = []
    for steps in (1, 2, 4, 8):
        with torch.inference_mode():
            output = paint.working_output(small, steps=steps)
            shrunk = _area(lift_hue(source, small, output), small)
        mean, p95 = _summary(_delta_e(shrunk, output))
        rows.append(f"| {steps} x {steps} | {mean:.2f} / {p95:.2f} | "
                    f"{_noise_cell((_noise(small, shrunk), _noise(small, output)))} |")
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


def _pair_name(pair: tuple[str, str]) -> str:
    return f"{pair[0]} <- {pair[1]}"


def _pair_cell(pair: tuple[str, str]) -> str:
    return f"{pair[0]} ({KINDS[pair[0]]}) <- {pair[1]}"


def _noise_cell(noise: tuple[float, float]) -> str:
    return "n/a" if math.isnan(noise[0]) else f"{noise[0]:.4f} / {noise[1]:.4f}"


def _two(values: tuple[float, float]) -> str:
    return f"{values[0]:.2f} / {values[1]:.2f}"


def _table(results: dict[tuple[tuple[str, str], float], Cell], sizes: list[float]) -> list[str]:
    table = ["| pair | MP | CIEDE2000, mean / 95th pct | block copy | unchanged photo | through `shrink` | "
             "hue noise, full / working size | transfer (s) | Pillow (s) | ratio | GiB/MP | goals missed |",
             "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |"]
    for (pair, mp), c in results.items():
        table.append(f"| {_pair_cell(pair) if mp == sizes[0] else ''} | {c.pixels / 1e6:.1f} | {_two(c.delta)} | "
                     f"{_two(c.block)} | {_two(c.unchanged)} | {_two(c.through_shrink)} | {_noise_cell(c.noise)} | "
                     f"{c.seconds:.2f} | {c.pillow:.2f} | {c.seconds / c.pillow:.1f}x | {c.gib_per_mp:.3f} | "
                     f"{', '.join(c.missed) or 'none'} |")
    return table


def _why(results: dict[tuple[tuple[str, str], float], Cell]) -> list[str]:
    """Where an agreement goal is missed: which pairs and sizes, and where the pixels over :data:`VISIBLE` lie."""
    lines = []
    for (pair, mp), cell in results.items():
        if {"mean", "p95"} & set(cell.missed):
            over, detail, low, rest = cell.where
            lines.append(f"- {_pair_name(pair)} at {mp:g} MP ({', '.join(cell.missed)}): {over:.0%} of the "
                         f"working-size pixels are over {VISIBLE:g}; of them {detail:.0%} hold detail finer than the "
                         f"working size, {low:.0%} are of low saturation elsewhere, {rest:.0%} neither. The unchanged "
                         f"photo scores {_two(cell.unchanged)}.")
    return lines


def _outcome(results: dict[tuple[tuple[str, str], float], Cell], sizes: list[float]) -> list[str]:
    """A compact grid of the missed goals, pairs by sizes: the docs' block."""
    grid = [f"| pair | {' | '.join(f'{mp:g} MP' for mp in sizes)} |", "| :--- |" + " :--- |" * len(sizes)]
    for pair in dict.fromkeys(pair for pair, _ in results):
        grid.append(f"| {_pair_cell(pair)} | " + " | ".join(
            ", ".join(results[pair, mp].missed) or "met" for mp in sizes) + " |")
    return grid


def _overloaded(load: tuple[float, float]) -> bool:
    """Whether the machine's load, before or after the run, was above its CPU count."""
    return max(load) > (os.cpu_count() or 1)


def _block(results: dict[tuple[tuple[str, str], float], Cell], sizes: list[float], model: str, figure: Path | None,
           network: float, load: tuple[float, float]) -> list[str]:
    """The doc's block: the outcome grid, then the memory, hue noise and speed in a sentence each."""
    largest = [cell for (_, mp), cell in results.items() if mp == sizes[-1]]
    heaviest = max(results, key=lambda key: results[key].gib_per_mp)
    noisier = [f"{_pair_name(pair)} at {mp:g} MP ({_noise_cell(cell.noise)})"
               for (pair, mp), cell in results.items() if "noise" in cell.missed]
    ratios = [cell.seconds / cell.pillow for cell in largest]
    return [
        f"From [reports/benchmarks/transfer.md](../reports/benchmarks/transfer.md) (model `{model}`): the goals "
        "missed, by pair and size (mean, p95: CIEDE2000; noise: hue noise in flat regions; speed, at "
        f"{sizes[-1]:g} MP; memory)" + (f"; the worst regions: [{figure.name}](../reports/figures/{figure.name})"
                                       if figure else "") + ".",
        "",
        *_outcome(results, sizes),
        "",
        f"Peak memory: at most {results[heaviest].gib_per_mp:.3f} GiB per megapixel ({_pair_name(heaviest[0])} at "
        f"{heaviest[1]:g} MP), {min(c.gib_per_mp for c in largest):.3f} to {max(c.gib_per_mp for c in largest):.3f} "
        f"at {sizes[-1]:g} MP. Hue noise in flat regions above the working size's: "
        + (", ".join(noisier) if noisier else "nowhere") + f". JPEG to JPEG at {sizes[-1]:g} MP: {min(ratios):.1f} to "
        f"{max(ratios):.1f} times Pillow's round trip, the network's {TRANSLATION_STEPS ** 2} runs taking "
        f"{network:.3f} s of the first pair's transfer"
        + (f", under a load of {min(load):.1f} to {max(load):.1f} on {os.cpu_count()} CPUs: the speed verdicts need "
           "a rerun on an idle machine." if _overloaded(load) else "."),
    ]


def _worst_figure(worst: dict[tuple[str, str], dict[str, np.ndarray]], mp: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from huenet.pipeline.figures import save_figure

    titles = ("photo", "working-size output", "full-size output", "full-size output, area-shrunk",
              "CIEDE2000", "CIEDE2000, unchanged photo")
    fig, axes = plt.subplots(len(worst), len(titles), figsize=(2.3 * len(titles), 2.5 * len(worst)), squeeze=False)
    for row, (pair, crop) in zip(axes, worst.items()):
        shown = [crop["source"], crop["working"], crop["full"], crop["shrunk"], crop["delta"], crop["unchanged"]]
        for ax, image, title in zip(row, shown, titles):
            heat = {"cmap": "magma", "vmin": 0, "vmax": 2 * VISIBLE} if image.ndim == 2 else {}
            ax.imshow(image, interpolation="nearest", **heat)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(f"{_pair_name(pair)}\nat x, y = {crop['at'][0]}, {crop['at'][1]}", fontsize=8)
    fig.suptitle(f"The worst {WINDOW} x {WINDOW} working-size pixels at {mp:g} MP (CIEDE2000 0 to "
                 f"{2 * VISIBLE:g}, black to white)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path.parent, path.name, dpi=100)


def _figure(photo: Path, target: Image.Image, model: Path, path: Path) -> None:
    """The README's picture: ``photo`` painted at strength 1 and 0.5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from huenet.pipeline.figures import save_figure

    with Image.open(photo) as opened:
        source = opened.convert("RGB")
    painted = {strength: painter(target, model=model, strength=strength)(photo) for strength in (1.0, 0.5)}
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.6))
    shown = [(source, f"source, {source.width} x {source.height}"), (target, "target"),
             (painted[1.0], "huenet transfer"), (painted[0.5], "--strength 0.5")]
    for ax, (image, title) in zip(axes, shown):
        ax.imshow(image), ax.set_title(title, fontsize=9), ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path.parent, path.name, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a generator.pt (default: what huenet transfer uses)")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0, 4.0, 12.0])
    parser.add_argument("--pairs", type=int, default=len(PAIRS), help="the first N pairs (a quick check)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path("build/bench_transfer"))
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/transfer.md"))
    parser.add_argument("--figure", type=Path, default=Path("reports/figures/paint_your_photos.png"),
                        help="the README's picture: the first pair's smallest photo painted at strength 1 and 0.5")
    parser.add_argument("--worst", type=Path, default=Path("reports/figures/transfer_worst_regions.png"))
    parser.add_argument("--docs", type=Path, default=Path("docs/full_resolution.md"),
                        help="the doc whose block '<!-- transfer: ... -->' quotes the outcome")
    parser.add_argument("--memory-of", nargs=2, metavar=("PHOTO", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.folder.mkdir(parents=True, exist_ok=True)
    model = model_file(get_method("huenet"), args.model)
    model_name = os.path.relpath(model) if model.resolve().is_relative_to(Path.cwd()) else str(model)
    if args.memory_of:
        photo, target = args.memory_of
        print(json.dumps(_memory_of(Path(photo), target, model, args.folder)))
        return
    started = time.perf_counter()
    pairs, sizes = PAIRS[: args.pairs], sorted(args.megapixels)
    load_before = os.getloadavg()[0]
    results: dict[tuple[tuple[str, str], float], Cell] = {}
    worst = {}
    for pair in pairs:
        paint = painter(_target(pair[1]), model=model)
        _jpeg_roundtrip(paint, _photo("rocket", 0.05, args.folder))  # the lift's compiled kernels, outside the times
        for mp in sizes:
            photo = _photo(pair[0], mp, args.folder)
            memory = _memory(photo, pair[1], model, args.folder)
            cell, crop = _measure(paint, photo, args.repeats, memory, crop=mp == sizes[-1])
            cell.missed = _missed(cell, largest=mp == sizes[-1])
            results[pair, mp] = cell
            if crop is not None and {"mean", "p95"} & set(cell.missed):
                worst[pair] = crop
            print(f"{_pair_name(pair)} {mp:g} MP: {_two(cell.delta)}, missed {cell.missed}", flush=True)
    first = painter(_target(pairs[0][1]), model=model)
    steps_rows = _translation_steps(first, _photo(pairs[0][0], sizes[0], args.folder))
    parts = _parts(first, _photo(pairs[0][0], sizes[-1], args.folder), args.repeats)
    start_up = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import huenet.cli"], check=True)
    start_up = time.perf_counter() - start_up
    load_after = os.getloadavg()[0]
    minutes = (time.perf_counter() - started) / 60

    outcome = _outcome(results, sizes)
    why = _why(results)
    lines = [
        "# huenet transfer on large photos",
        "",
        f"{len(pairs)} sample photos upscaled (bicubic: edges softer than a camera's, so edge errors are understated) "
        f"to {', '.join(f'{mp:g}' for mp in sizes)} MP and painted by Hue-Net with a target's colours at the working "
        f"size {DEFAULT_WORK_SIZE}, lifted to full size. Agreement: CIEDE2000 between the full-size output "
        "area-shrunk to the working-size grid and the working-size output, on every pixel (goals: mean <= "
        f"{GOALS['mean']:g}, 95th percentile <= {GOALS['p95']:g}); hue noise on the working-size source's flat "
        f"pixels (goal: no larger than the working size's); JPEG file to JPEG in memory (quality 95), in-process "
        f"with the model loaded, median of {args.repeats} interleaved runs (goal <= {GOALS['io_ratio']:g}x Pillow "
        f"at {sizes[-1]:g} MP); peak memory in a fresh process per cell (goal <= {GOALS['gib_per_mp']:g} GiB/MP). "
        "Block copy: the working-size output upsampled nearest-neighbour; unchanged photo: the photo area-shrunk "
        "against the working-size source; through `shrink`: the full-size output shrunk as the working-size source "
        f"was (antialiased bilinear). `python benchmarks/bench_transfer.py` ({minutes:.0f} min)."
        + (" The machine's load was above its CPU count during the run (last lines): the times (the network's two "
           "threads' most of all), and so the speed goal's verdicts, are inflated; rerun on an idle machine for them."
           if _overloaded((load_before, load_after)) else ""),
        "",
        *_table(results, sizes),
        "",
        "Goals missed, by pair and size:",
        "",
        *outcome,
        "",
        *(["Where an agreement goal is missed, the working-size pixels over "
           f"{VISIBLE:g} (detail finer than the working size: the unchanged photo's two shrinks differ there by at "
           f"least {DETAIL:g}; low saturation: S < {LOW_SATURATION:g} at the working size); the worst "
           f"{WINDOW} x {WINDOW} working-size pixels of each pair at {sizes[-1]:g} MP are drawn in "
           f"[{args.worst.name}](../figures/{args.worst.name}):", "", *why, ""] if why else []),
        f"Of the {_pair_name(pairs[0])} transfer at {sizes[-1]:g} MP (median of {args.repeats}): reading the JPEG "
        f"{parts['read']:.3f} s, the working-size output (the shrink and the network's {TRANSLATION_STEPS ** 2} "
        f"runs) {parts['network']:.3f} s, the lift (fit and full-size pass) {parts['lift']:.3f} s. The command's "
        f"start-up (`python -c 'import huenet.cli'`, a fresh interpreter): {start_up:.2f} s.",
        "",
        f"The network's output averaged over shifts of its input (`huenet.paint.translations`), "
        f"{_pair_name(pairs[0])} at {sizes[0]:g} MP (the default is {TRANSLATION_STEPS} x {TRANSLATION_STEPS}; "
        "1 x 1 is the raw network):",
        "",
        "| shifts | CIEDE2000, mean / 95th pct | hue noise, full / working size |",
        "| ---: | ---: | ---: |",
        *steps_rows,
        "",
        f"- model: `{model_name}`",
        *benchmark_footer(load_before, load_after),
    ]
    write_report(args.out, "\n".join(lines))
    write_block(args.docs, "transfer", "\n".join(_block(results, sizes, model_name, args.worst if worst else None,
                                                        parts["network"], (load_before, load_after))))
    if worst:
        _worst_figure(worst, sizes[-1], args.worst)
    else:
        args.worst.unlink(missing_ok=True)  # a figure of a miss that is no longer there
    _figure(_photo(pairs[0][0], sizes[0], args.folder), _target(pairs[0][1]), model, args.figure)


if __name__ == "__main__":
    main()
