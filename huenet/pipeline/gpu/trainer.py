"""The pass's runs trained side by side on the one GPU, stopped together at the step the deadline allows.

Each run is its own process (spawned: CUDA does not survive a fork) calling :func:`huenet.training.train.train`
twice on the same folder: first for ``probe_steps``, all runs starting together so that their steps are timed
while they share the GPU as they will, then, once the parent has heard from every run, up to the step the parent
planned from the slowest run's median step and the time left (:func:`planned_steps`). The second call resumes
the first's checkpoint, so the probe's steps are the run's first steps, not a run of their own (``steps`` does not
define a run). Then the run paints the test pairs on the GPU with the
``generator.pt`` it wrote and saves them for the scoring.

Why side by side: a step reads its five losses back to the host and every histogram checks its input's range
there, so one process leaves the GPU idle between kernels; three processes fill each other's gaps. Why the batches
are made on the GPU (:class:`DevicePairs`): converting a batch of 32 pairs of 256 px to HSV takes about 0.4 s on one
CPU core (measured), ten times a step's estimated GPU time.

A run whose loss becomes NaN or inf (:class:`~huenet.training.train.TrainingDiverged`) is reported and left out;
any other failure stops the pass, naming the run and its traceback.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import multiprocessing as mp
import queue
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from huenet.data.cache import ImageCache, load_cache
from huenet.data.pairs import PairDataset
from huenet.data.split import Split
from huenet.eval.evaluate import apply_method
from huenet.nets.hue_net import inference_generator, load_generator, paint, weights_digest
from huenet.pipeline.gpu.profile import PassSettings, Run
from huenet.training.train import TrainingDiverged, train, training_pairs

__all__ = ["PLAN_SHARE", "DevicePairs", "PassFiles", "unit_rgb", "planned_steps", "step_seconds", "train_runs"]

# Seconds to wait for a run's last message once its process is seen to have ended.
_LAST_WORDS_S = 5.0
# The share of the time left that the plan fills: the probe's steps are timed before the run's checkpoint is
# reloaded, and a run's pace may drift.
PLAN_SHARE = 0.9


@dataclass(frozen=True)
class PassFiles:
    """The files a pass shares between its processes, in its work folder."""

    work_dir: Path

    @property
    def cache(self) -> Path:
        """The training images (:func:`huenet.data.cache.save_cache`)."""
        return self.work_dir / "train_cache.pt"

    @property
    def pairs(self) -> Path:
        """The test pairs: ``{"source", "target"}``, ``(N, 3, S, S)`` uint8 RGB."""
        return self.work_dir / "pairs.pt"

    def run_dir(self, name: str) -> Path:
        return self.work_dir / "runs" / name

    def outputs(self, name: str) -> Path:
        """A run's outputs on the test pairs: ``(N, 3, S, S)`` float32 RGB in [0, 1]."""
        return self.run_dir(name) / "outputs.pt"


def unit_rgb(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB -> float32 in [0, 1]: the one conversion of the test pairs, wherever they are painted or scored."""
    return images.float() / 255


class DevicePairs(PairDataset):
    """``pairs``'s draws from a copy of its images on ``device``: each batch is cropped, flipped and made HSV there.

    Same seed, images, crop size and flips, so the same batches as ``pairs`` up to the float rounding of the HSV
    conversion on ``device``, and the same :meth:`fingerprint` (computed from the host's pixels), so a checkpoint
    knows the run for what it is.
    """

    def __init__(self, pairs: PairDataset, device: torch.device | str) -> None:
        cache = pairs.cache
        super().__init__(ImageCache(cache.images.to(device), cache.names, cache.labels),
                         [cache.names[i] for i in pairs.pool.tolist()], crop_size=pairs.crop_size, mode=pairs.mode,
                         seed=pairs.seed, n_pairs=len(pairs) if pairs.mode == "eval" else None, flips=pairs.flips)
        self._host = pairs

    def fingerprint(self) -> str:
        return self._host.fingerprint()


def planned_steps(probe_steps: int, most: int, seconds_per_step: float, seconds_left: float) -> int:
    """The step every run stops at: as many as 90% of ``seconds_left`` holds after the probe, at most ``most``.

    >>> planned_steps(20, 8000, 0.05, 100.0)   # 1800 more steps fill 90 s
    1820
    >>> planned_steps(20, 8000, 0.05, 1000.0), planned_steps(20, 8000, 0.05, -5.0)
    (8000, 20)
    """
    fit = int(PLAN_SHARE * max(seconds_left, 0.0) / seconds_per_step) if seconds_per_step > 0 else most
    return max(probe_steps, min(most, probe_steps + fit))


def step_seconds(losses_csv: Path) -> list[float]:
    """The ``seconds`` column of a run's ``losses.csv``: each step's wall time, the batch's making included."""
    with losses_csv.open(newline="") as f:
        return [float(row["seconds"]) for row in csv.DictReader(f)]


def _warm_median(seconds: list[float]) -> float:
    """The median of the later half of the steps: the first ones choose kernels and allocate."""
    return statistics.median(seconds[len(seconds) // 2:])


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _paint_pairs(generator_path: Path, pairs_path: Path, device: torch.device) -> torch.Tensor:
    """The generator's outputs on the test pairs, painted on ``device``: ``(N, 3, S, S)`` float32 on the CPU."""
    generator = inference_generator(load_generator(generator_path, device))
    pairs = torch.load(pairs_path, weights_only=True)

    def on_device(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return paint(generator, source.to(device), target.to(device)).cpu()

    return apply_method(on_device, unit_rgb(pairs["source"]), unit_rgb(pairs["target"]), batch_size=16)


def _weights(generator_path: Path) -> dict[str, Any]:
    """What identifies the trained generator, which is too large to come back: its digests and size."""
    generator = load_generator(generator_path)
    return {"parameters": sum(p.numel() for p in generator.parameters()),
            "file_sha256": _file_sha256(generator_path), "file_bytes": generator_path.stat().st_size,
            "weights_digest_fp32": weights_digest(generator, torch.float32),
            "weights_digest_fp16": weights_digest(generator)}


def _trainer(run: Run, settings: PassSettings, files: PassFiles, split: Split, messages: Any, start: Any,
             planned: Any, steps: Any) -> None:
    """One run's process: probe with the others, wait for the plan, train on, paint the test pairs; every outcome
    as a message."""
    try:
        started = time.perf_counter()
        torch.set_num_threads(settings.threads)
        torch.backends.cudnn.benchmark = True  # fixed shapes: the fastest kernels, chosen in the probe's first steps
        device = torch.device(run.config.device)
        pairs = DevicePairs(training_pairs(load_cache(files.cache), split, run.config, settings.crop_size), device)
        run_dir = files.run_dir(run.name)
        start.wait()
        train(dataclasses.replace(run.config, steps=settings.probe_steps), pairs, run_dir, progress=False)
        messages.put(("probe", run.name, _warm_median(step_seconds(run_dir / "losses.csv"))))
        planned.wait()
        generator_path = train(dataclasses.replace(run.config, steps=steps.value), pairs, run_dir, progress=False)
        trained = time.perf_counter()
        torch.save(_paint_pairs(generator_path, files.pairs, device), files.outputs(run.name))
        messages.put(("done", run.name, {
            "steps": steps.value, "train_seconds": round(trained - started, 1),
            "paint_seconds": round(time.perf_counter() - trained, 1), "device": _device_name(device),
            "peak_memory_gib": (round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
                                if device.type == "cuda" else None),
            "weights": _weights(generator_path)}))
    except TrainingDiverged as err:
        messages.put(("diverged", run.name, str(err)))
    except BaseException:
        messages.put(("error", run.name, traceback.format_exc()))
        raise SystemExit(1) from None


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def _next_message(messages: Any, processes: dict[str, Any], settled: set[str], give_up_at: float) -> tuple:
    """The next message of a run; an error if a run's process ended without one or time ran out."""
    while True:
        try:
            return messages.get(timeout=1.0)
        except queue.Empty:
            if time.time() > give_up_at:
                raise RuntimeError("runs still training at the job's hard limit") from None
            dead = {name: p.exitcode for name, p in processes.items() if p.exitcode not in (None, 0)
                    and name not in settled}
            if dead:
                try:  # its last words may still be on their way
                    return messages.get(timeout=_LAST_WORDS_S)
                except queue.Empty:
                    raise RuntimeError(f"runs ended without a word (exit codes {dead}; out of memory?)") from None


def train_runs(settings: PassSettings, files: PassFiles, split: Split, *, deadline: float, give_up_at: float,
               log: Callable[[str], None] = print) -> dict[str, dict]:
    """Train every run of ``settings`` side by side until the step that ends them by ``deadline`` (``time.time()``).

    ``files.cache`` and ``files.pairs`` must be written. ``split``: the training images' split (its ``train``).

    Returns:
        Run name -> ``{"steps", "train_seconds", "paint_seconds", "device", "peak_memory_gib", "weights",
        "probe_seconds_per_step"}`` for a trained run, ``{"diverged": message}`` for one whose loss diverged.

    Raises:
        RuntimeError: a run failed (its traceback in the message), died, or ran past ``give_up_at``.
    """
    context = mp.get_context("spawn")
    messages, planned, steps = context.Queue(), context.Event(), context.Value("i", 0)
    start = context.Barrier(len(settings.runs))
    processes = {run.name: context.Process(target=_trainer, name=f"train-{run.name}",
                                           args=(run, settings, files, split, messages, start, planned, steps))
                 for run in settings.runs}
    for process in processes.values():
        process.start()
    probes: dict[str, float] = {}
    results: dict[str, dict] = {}
    try:
        while len(results) < len(processes):
            kind, name, payload = _next_message(messages, processes, set(results), give_up_at)
            if kind == "error":
                raise RuntimeError(f"run {name} failed:\n{payload}")
            if kind == "probe":
                probes[name] = payload
            elif kind == "diverged":
                results[name] = {"diverged": payload}
                log(f"{name}: diverged ({payload}); left out")
            else:
                results[name] = payload | {"probe_seconds_per_step": round(probes[name], 4)}
                log(f"{name}: {payload['steps']} steps in {payload['train_seconds']} s on {payload['device']}")
            if not planned.is_set() and set(probes) | set(results) == set(processes):
                slowest = max(probes.values(), default=0.0)
                most = min(run.config.steps for run in settings.runs)
                steps.value = planned_steps(settings.probe_steps, most, slowest, deadline - time.time())
                planned.set()
                log(f"probe: {', '.join(f'{n} {s:.3f} s/step' for n, s in probes.items())}; every run stops at "
                    f"step {steps.value} (at most {most})")
    finally:
        # after a failure the others are stopped, not awaited: some wait for a plan that will not come
        for process in processes.values():
            process.join(timeout=30 if len(results) == len(processes) else 0)
            if process.is_alive():
                process.terminate()
                process.join()
    return results
