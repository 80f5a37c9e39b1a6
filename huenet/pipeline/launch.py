"""``huenet launch``: train every Hue-Net run of ``params.yaml`` at once, as many at a time as fit.

A training step of the CPU profile is overhead-bound on one thread: a second thread
buys little, a second run on the idle core buys a second run. So the pipeline's
``train`` stage trains all of ``train.variants`` (the seeds are variants too) as
separate ``huenet train`` processes, ``jobs`` of them at a time, each
with ``train.threads`` threads; the notebooks of stage ``score`` then find the
finished runs and show and score them. A run whose checkpoint in its folder is
finished and of the same identity (:func:`huenet.training.loop.run_identity`) is not
started at all, so an edit retrains only the runs it changes and leaves the
files of the others as they are (byte for byte: DVC hashes them). With
``train.nproc_per_node > 1`` each run trains through ``torchrun`` on that many
processes, one run at a time.

The command prints one line per finished run and writes a JSON report: each
run's wall time and exit status, and the CPU time of all runs over the wall
time (2.0 when two runs keep two cores busy throughout).

>>> [cmd[-4:] for cmd in run_commands(["full", "no_mi"], Path("p.yaml"), Path("s.json"), Path("c.pt"),
...                                   Path("models/huenet"), nproc_per_node=1)]
[['--cache', 'c.pt', '--out-dir', 'models/huenet/full'], ['--cache', 'c.pt', '--out-dir', 'models/huenet/no_mi']]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from huenet.data import DataError
from huenet.data.artifacts import ensure_data
from huenet.data.pairs import PairDataset
from huenet.files import atomic_write
from huenet.pipeline.settings import require
from huenet.training.loop import CheckpointError, load_checkpoint, run_identity
from huenet.training.params import read_group, stage_params
from huenet.training.train import STAGE_KEYS, TrainConfig, training_pairs

__all__ = ["RunResult", "default_jobs", "is_finished", "run_commands", "launch", "main"]


@dataclass(frozen=True)
class RunResult:
    """One run's end: its variant, exit status, wall seconds and the last lines it wrote to stderr."""

    variant: str
    returncode: int
    seconds: float
    stderr_tail: str


def default_jobs(threads: int, nproc_per_node: int, cpus: int | None = None) -> int:
    """Runs at a time: as many as the CPUs hold at ``threads`` each; one when each run is a torchrun job."""
    if nproc_per_node > 1:
        return 1
    return max(1, (cpus or os.cpu_count() or 1) // max(1, threads))


def is_finished(config: TrainConfig, pairs: PairDataset, run_dir: Path) -> bool:
    """Whether ``run_dir`` holds this run finished: a checkpoint of the same identity at ``config.steps``.

    Call with torch's thread count set to the run's (``train.threads``): the identity includes it.
    """
    try:
        state = load_checkpoint(run_dir / "checkpoint.pt") if (run_dir / "checkpoint.pt").is_file() else None
    except CheckpointError:
        return False  # the run itself says what is wrong with it
    return (state is not None and state["step"] == config.steps and (run_dir / "generator.pt").is_file()
            and state.get("identity") == run_identity(config, pairs, code="huenet.training.train"))


def run_commands(variants: Sequence[str], params: Path, splits: Path, cache: Path, out_dir: Path, *,
                 nproc_per_node: int, variants_group: str = "train") -> list[list[str]]:
    """The command that trains each variant of ``variants_group`` into ``out_dir/<variant>`` (``torchrun`` when
    ``nproc_per_node > 1``)."""
    prefix = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc_per_node}"]
              if nproc_per_node > 1 else [sys.executable])
    return [[*prefix, "-m", "huenet", "train", "--params", str(params), "--variant", v, "--variants-group",
             variants_group, "--splits", str(splits), "--cache", str(cache), "--out-dir", str(out_dir / v)]
            for v in variants]


def launch(commands: dict[str, list[str]], jobs: int, *, log=None) -> list[RunResult]:
    """Run ``commands`` (variant -> argv), at most ``jobs`` at a time, in the given order; wait for all.

    Every run goes to its end even when another fails, so one bad setting loses no other run's work.
    ``log``: where each run's end is reported (default: standard output).
    """
    log = log or sys.stdout
    pending, running, results = list(commands.items()), {}, []
    while pending or running:
        while pending and len(running) < jobs:
            variant, argv = pending.pop(0)
            # stderr to a file, not a pipe: a run that writes more than a pipe holds would wait for a reader
            errors = tempfile.TemporaryFile("w+")
            running[variant] = (subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors, text=True),
                                errors, time.perf_counter())
        time.sleep(0.2)
        for variant, (proc, errors, started) in list(running.items()):
            if proc.poll() is None:
                continue
            errors.seek(0)
            stderr = errors.read()
            errors.close()
            result = RunResult(variant, proc.returncode, time.perf_counter() - started,
                               "\n".join(stderr.strip().splitlines()[-3:]))
            results.append(result)
            del running[variant]
            state = "done" if result.returncode == 0 else f"failed (exit {result.returncode})"
            print(f"{variant}: {state} in {result.seconds / 60:.1f} min", file=log, flush=True)
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huenet launch",
        description="Train every variant of params.yaml's train group, several at a time (stage train).",
        epilog="Exit status: 0 all trained, 1 a run failed (the others still ran), 2 bad arguments.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    parser.add_argument("--splits", type=Path, default=Path("artifacts/splits.json"), help="the data stage's split")
    parser.add_argument("--cache", type=Path, required=True, help="the data stage's image cache")
    parser.add_argument("--out-dir", type=Path, default=Path("models/huenet"), help="one folder per variant in here")
    parser.add_argument("--report", type=Path, help="write the runs' times and CPU use as JSON here")
    parser.add_argument("--jobs", type=int, help="runs at a time (default: CPUs / train.threads)")
    parser.add_argument("--variants-group", default="train", metavar="GROUP",
                        help="train GROUP.variants with train.config (default: train; stage train_cars: cars)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        owner = args.variants_group
        require(args.params, *dict.fromkeys(("train", owner)))  # every setting checked before any run starts
        variants = list(read_group(args.params, owner).get("variants") or {})
        if not variants:
            raise ValueError(f"{args.params}: {owner}.variants names no run")
        configs = {v: stage_params(args.params, "train", TrainConfig, stage_keys=STAGE_KEYS, variant=v,
                                   variants_group=owner) for v in variants}
        stage = configs[variants[0]][1]
        threads, nproc = int(stage["threads"]), int(stage["nproc_per_node"])
        missing = [str(p) for p in (args.splits, args.cache) if not p.is_file()]
        if missing:
            raise ValueError(f"not found: {', '.join(missing)} (the data stage writes them: dvc repro data)")
        split, cache = ensure_data(args.splits, args.cache)
    except (OSError, ValueError, DataError) as err:
        for line in str(err).splitlines():  # a ParamsError's problems, one a line
            print(f"huenet launch: error: {line}", file=sys.stderr)
        return 2
    torch.set_num_threads(threads)
    finished = [v for v, (config, _) in configs.items()
                if is_finished(config, training_pairs(cache, split, config, stage["crop_size"]), args.out_dir / v)]
    todo = [v for v in variants if v not in finished]
    jobs = args.jobs or default_jobs(threads, nproc)
    commands = dict(zip(todo, run_commands(todo, args.params, args.splits, args.cache, args.out_dir,
                                           nproc_per_node=nproc, variants_group=args.variants_group)))
    print(f"{len(finished)} runs already finished ({', '.join(finished) or 'none'}); training {len(todo)} "
          f"({', '.join(todo) or 'none'}), {jobs} at a time, {threads} thread(s) each", flush=True)
    started, cpu_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    results = launch(commands, jobs)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    report = {"jobs": jobs, "threads": threads, "cpus": os.cpu_count(), "wall_minutes": round(wall / 60, 2),
              "cpu_over_wall": round(cpu / wall, 2) if wall > 0 else None,
              "finished_before": finished,
              "runs": {r.variant: {"minutes": round(r.seconds / 60, 2), "returncode": r.returncode} for r in results}}
    print(f"all runs: {wall / 60:.1f} min wall, CPU time / wall time {report['cpu_over_wall']}", flush=True)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.report, lambda p: p.write_text(json.dumps(report, indent=1) + "\n"))
    failed = [r for r in results if r.returncode != 0]
    for r in failed:
        reason = r.stderr_tail.splitlines()[-1] if r.stderr_tail else "no message"
        print(f"huenet launch: {r.variant} failed: {reason}", file=sys.stderr)
    return 1 if failed else 0
