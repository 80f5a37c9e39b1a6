"""The GPU job in one command: a toy pass of the same code, then the real pass, and what comes back under ``$OUT``.

``python -m huenet.pipeline.gpu.job --out "$OUT"`` (``tools/gpu_job.sh`` on the lent machine) reads the GPU
profile (:mod:`huenet.pipeline.gpu.profile`) and the pack (:mod:`huenet.pipeline.gpu.pack`), then runs two passes of
:func:`run_pass`, each of which

1. writes the pass's training images and test pairs where its processes read them,
2. trains every run side by side and paints the test pairs with each (:mod:`huenet.pipeline.gpu.trainer`),
3. scores the runs, Reinhard and hue histogram matching on the same pairs, Table 1's columns and intervals
   (:mod:`huenet.pipeline.gpu.scoring`, :func:`huenet.eval.evaluate.summarise`),
4. draws Figure 6 at the pairs' size (:func:`huenet.pipeline.figures.figure6`) and writes its files.

The toy pass (``params_gpu.yaml``'s ``toy``: tiny networks, a few steps and pairs) runs first and any error there
ends the job within seconds, before the GPU minutes are spent. The real pass plans its steps so that training ends
``budget.after_training_s`` before ``budget.wall_s`` from the job's start, and writes into the out folder what may
come back from the lent machine (:data:`RETURNED`, checked by :func:`check_returned`): at most 8 files of 16 MiB.
The generators (109 MB in float16 each) cannot: their digests come back instead.

Exit status: 0 done, 1 a pass failed (the run and its traceback are printed), 2 bad settings or pack.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from huenet.data.cache import save_cache
from huenet.eval.evaluate import Row, summarise
from huenet.pipeline.figures import figure6, save_figure
from huenet.pipeline.gpu.pack import Pack, load_pack, subset
from huenet.pipeline.gpu.profile import PassSettings, read_profile
from huenet.pipeline.gpu.scoring import BASELINES, baseline_outputs, score_pairs
from huenet.pipeline.gpu.trainer import PassFiles, train_runs, unit_rgb
from huenet.pipeline.report import COLUMNS, source_vs_target, summary_table
from huenet.training.train import LOSS_COLUMNS

__all__ = ["RETURNED", "LIMITS", "check_returned", "run_pass", "main"]

RETURNED = ("results.json", "table.md", "figure6.png", "losses.csv", "scores.json")
"""What a pass writes into its out folder; ``tools/gpu_job.sh`` adds ``job.log``."""
LIMITS = {"files": 8, "file_mib": 16, "total_mib": 64, "depth": 3}
"""What comes back from the lent machine's ``$OUT``: files, MiB each and in all, path parts (``a/b/file``)."""
_NAME = re.compile(r"[A-Za-z0-9._-]+")
# Figure 6's cells are 1.6 inches wide (huenet.pipeline.figures): this many dots an inch show 256 px pairs whole.
_FIGURE_DPI = 160
# Table 1's columns but the realism distances, which need the EfficientNet-Lite0 weights (not carried).
_TABLE_COLUMNS = tuple(key for key in COLUMNS if not key.startswith("realism_"))


def check_returned(folder: str | os.PathLike) -> None:
    """Raise ``ValueError`` naming every way ``folder`` breaks :data:`LIMITS` or the allowed names."""
    folder = Path(folder)
    files = [p for p in folder.rglob("*") if p.is_file()]
    problems = [f"{len(files)} files, at most {LIMITS['files']}"] if len(files) > LIMITS["files"] else []
    for path in files:
        parts = path.relative_to(folder).parts
        if path.stat().st_size > LIMITS["file_mib"] * 2**20:
            problems.append(f"{path.name} is over {LIMITS['file_mib']} MiB")
        if len(parts) > LIMITS["depth"]:
            problems.append(f"{'/'.join(parts)} is more than {LIMITS['depth'] - 1} folders down")
        problems += [f"{part!r} has characters other than letters, digits, '.', '_', '-'" for part in parts
                     if not _NAME.fullmatch(part)]
    if sum(p.stat().st_size for p in files) > LIMITS["total_mib"] * 2**20:
        problems.append(f"over {LIMITS['total_mib']} MiB in all")
    if problems:
        raise ValueError(f"{folder} cannot come back whole: {'; '.join(problems)}")


def _jsonable(value: Any) -> Any:
    """Per-pair arrays as lists, NaN (an undefined pair) as null."""
    if isinstance(value, Mapping):
        return {key: _jsonable(v) for key, v in value.items()}
    return [None if math.isnan(x) else x for x in np.asarray(value, dtype=np.float64).tolist()]


def _write_losses(files: PassFiles, runs: Sequence[str], path: Path) -> None:
    """Every run's ``losses.csv`` in one file, a ``run`` column first."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["run", *LOSS_COLUMNS])
        for name in runs:
            with (files.run_dir(name) / "losses.csv").open(newline="") as f:
                writer.writerows([name, *row] for row in list(csv.reader(f))[1:])


def _table(settings: PassSettings, results: Mapping) -> str:
    """``table.md``: what ran, Table 1's columns with their intervals."""
    runs = results["runs"]
    trained = {name: run for name, run in runs.items() if "steps" in run}
    config = settings.runs[0].config
    steps = sorted({run["steps"] for run in trained.values()})
    pack = results["pack"]
    error = pack["test_colour_error"]
    named = ", ".join(f"`{name}` ({run['label']})" for name, run in runs.items())
    lines = [
        "# Table 1 at 256 px, from one GPU job",
        f"Written by `python -m huenet.pipeline.gpu.job` ({results['machine']['device']}, torch "
        f"{results['machine']['torch']}). Runs: {named}, "
        f"width {config.width}, depth {config.depth}, batch {config.batch_size}, lr {config.lr:g}, amp {config.amp}, "
        f"{' / '.join(map(str, steps)) or 'no'} steps on {pack['train_images']} training images at "
        f"{settings.crop_size} px, side by side on one device. "
        + "".join(f"`{n}` diverged: {r['diverged']}. " for n, r in runs.items() if "diverged" in r)
        + f"Scored on the first {results['summary']['pairs']} of Table 1's test pairs at {pack['load_size']} px "
        f"(WebP quality {pack['test_quality']}: hue EMD {error['hue_emd']['mean']:.4f} and CIEDE2000 "
        f"{error['ciede2000']['mean']:.2f} from the JPEGs' pixels, on average); mean [bootstrap "
        "95% CI]. No KID or FD: their EfficientNet-Lite0 weights did not travel.",
        source_vs_target(results["summary"]),
        summary_table(results["summary"], _TABLE_COLUMNS),
    ]
    return "\n\n".join(lines) + "\n"


def run_pass(settings: PassSettings, pack: Pack, work_dir: Path, out_dir: Path, *, deadline: float,
             give_up_at: float, log: Callable[[str], None] = print) -> dict:
    """One pass: train, paint, score, draw, write :data:`RETURNED` into ``out_dir``; the results.

    ``deadline`` and ``give_up_at`` (``time.time()``): when training should end, and when the pass fails if it
    has not (:func:`huenet.pipeline.gpu.trainer.train_runs`).

    Raises:
        RuntimeError: a run failed. ValueError: the out folder could not come back whole.
    """
    started = time.time()
    files = PassFiles(work_dir)
    work_dir.mkdir(parents=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = pack.split.train[: settings.train_images]
    save_cache(subset(pack.train, names), files.cache)
    pairs = pack.pairs[: settings.test_pairs]
    source, target = (subset(pack.test, [pair[i] for pair in pairs]).images for i in (0, 1))
    torch.save({"source": source, "target": target}, files.pairs)
    set_up_at = time.time()

    runs = train_runs(settings, files, dataclasses.replace(pack.split, train=names), deadline=deadline,
                      give_up_at=give_up_at, log=log)
    trained_at = time.time()
    trained = [run.name for run in settings.runs if "diverged" not in runs[run.name]]
    scores = score_pairs(files, trained, len(pairs))
    summary = summarise(scores, n_boot=settings.n_boot, seed=settings.seed)
    scored_at = time.time()
    log(f"scored {len(pairs)} pairs in {scored_at - trained_at:.0f} s")

    shown = min(settings.figure_rows, len(pairs))
    source_rgb, target_rgb = unit_rgb(source[:shown]), unit_rgb(target[:shown])
    outputs = {name: torch.load(files.outputs(name), mmap=True, weights_only=True)[:shown] for name in trained}
    outputs |= baseline_outputs(source_rgb, target_rgb)
    labels = {run.name: run.label for run in settings.runs} | {name: Row(name).label for name in BASELINES}
    figure = figure6(source_rgb, target_rgb, outputs, labels, rows=range(shown))
    save_figure(figure, out_dir, "figure6.png", dpi=_FIGURE_DPI)

    manifest = pack.manifest
    results = {
        "machine": {"device": next((r["device"] for r in runs.values() if "device" in r), "none"),
                    "torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count()},
        "pack": {"digest": manifest["digest"], "load_size": manifest["load_size"], "train_images": len(names),
                 "train_quality": manifest["train"]["quality"], "test_quality": manifest["test"]["quality"],
                 "train_colour_error": manifest["train"]["colour_error"],
                 "test_colour_error": manifest["test"]["colour_error"], "split": manifest["split"],
                 "table1_pairs": manifest["table1_pairs"]},
        "crop_size": settings.crop_size, "probe_steps": settings.probe_steps,
        "runs": {run.name: {"label": run.label, "config": dataclasses.asdict(run.config)} | runs[run.name]
                 for run in settings.runs},
        "seconds": {"setup": round(set_up_at - started, 1), "training": round(trained_at - set_up_at, 1),
                    "scoring": round(scored_at - trained_at, 1), "figure_and_files": round(time.time() - scored_at, 1)},
        "summary": summary,
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / "scores.json").write_text(json.dumps(_jsonable(scores)) + "\n")
    (out_dir / "table.md").write_text(_table(settings, results))
    # a diverged run's log too: it shows where the loss left
    _write_losses(files, [run.name for run in settings.runs], out_dir / "losses.csv")
    check_returned(out_dir)
    return results


def _logger(started: float) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{time.time() - started:6.1f} s] {message}", flush=True)

    return log


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m huenet.pipeline.gpu.job``: the toy pass, then the real one into ``--out``."""
    started = time.time()
    parser = argparse.ArgumentParser(prog="python -m huenet.pipeline.gpu.job", description=main.__doc__,
                                     epilog="Exit status: 0 done, 1 a pass failed, 2 bad settings or pack.")
    parser.add_argument("--params-gpu", type=Path, default=Path("params_gpu.yaml"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--pack", type=Path, help="the pack's folder (default: params_gpu.yaml's pack.dir)")
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"),
                        help="where the real pass's files go (default: $OUT)")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir(), "huenet-gpu"),
                        help="checkpoints, generators and outputs, replaced (default: %(default)s)")
    args = parser.parse_args(argv)
    log = _logger(started)
    try:
        if args.out is None:
            raise ValueError("give --out or set $OUT")
        profile = read_profile(args.params_gpu, args.params)
        pack = load_pack(args.pack or profile.pack.dir)
    except (ValueError, OSError) as err:
        print(f"gpu job: error: {err}", file=sys.stderr)
        return 2
    log(f"pack {pack.manifest['digest']}: {len(pack.train)} training images, {len(pack.pairs)} test pairs")
    shutil.rmtree(args.work_dir, ignore_errors=True)
    deadline, give_up_at = started + profile.wall_s - profile.after_training_s, started + profile.wall_s
    for name, settings, out_dir in (("toy", profile.toy, args.work_dir / "toy" / "out"),
                                    ("real", profile.full, args.out)):
        log(f"{name} pass: {len(settings.runs)} runs, {settings.train_images} training images, "
            f"{settings.test_pairs} test pairs")
        try:
            run_pass(settings, pack, args.work_dir / name, out_dir, deadline=deadline, give_up_at=give_up_at, log=log)
        except (RuntimeError, ValueError) as err:
            print(f"gpu job: the {name} pass failed: {err}", file=sys.stderr)
            return 1
        log(f"{name} pass done")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")  # no display on the lent machine
    sys.exit(main())
