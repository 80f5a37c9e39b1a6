"""The resumable training loop shared by Hue-Net (:mod:`huenet.train`) and the colour GAN.

A run lives in one folder::

    checkpoint.pt   everything needed to continue (the run's state and its config)
    losses.csv      one row per step

Every ``checkpoint_every`` steps the log is flushed and the checkpoint is
written atomically, so a crash loses at most the steps since the last one.
Calling the loop again on the same folder continues from that checkpoint when
it belongs to the same run (the ``run_defining`` fields of the config agree
and the checkpoint was written by the same huenet source code, see
:func:`code_fingerprint`) and starts afresh otherwise. Batches are a function of ``(seed, step)`` and the
run restores its RNG state, so a resumed run ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from tqdm import tqdm

from huenet.files import atomic_write

__all__ = ["CheckpointError", "Resumable", "code_fingerprint", "config_from_dict", "load_checkpoint",
           "train_resumably"]

Config = TypeVar("Config")


class Resumable(Protocol):
    """A training run the loop can drive, save and restore."""

    step: int

    def state(self) -> dict: ...

    def load(self, state: dict) -> None: ...


class CheckpointError(ValueError):
    """A checkpoint that cannot be read (truncated, corrupted, not a checkpoint); the message says what to do."""


def load_checkpoint(path: Path) -> dict:
    """The state written by :func:`train_resumably`, read without pickle (tensors, numbers and strings only).

    Raises:
        CheckpointError: one line naming the file and what to do.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"cannot read checkpoint {path} ({reason}); delete it to train from the start") from None
    if not isinstance(state, dict) or not {"config", "step"} <= state.keys():
        raise CheckpointError(f"{path} is not a huenet checkpoint; delete it to train from the start")
    return state


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of huenet's own source files (``huenet/**/*.py``), as 16 hex digits.

    The code defines a run as much as its config does: a finished checkpoint of the same config,
    written before a code change, must be trained again (a DVC stage reruns because its code
    changed, and its ``persist: true`` models folder still holds the old checkpoint).
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def config_from_dict(cls: type[Config], values: Mapping[str, Any], what: str) -> Config:
    """``cls(**values)`` for a dataclass, refusing unknown keys with a message that names them."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what} parameters: {', '.join(unknown)}")
    return cls(**values)


def _kept_rows(path: Path, step: int, columns: Sequence[str]) -> list[list[str]]:
    """The logged rows up to ``step`` (rows after the last checkpoint are redone)."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        if next(reader, None) != list(columns):
            return []
        return [r for r in reader if len(r) == len(columns) and r[0].isdigit() and int(r[0]) <= step]


def train_resumably(
    run: Resumable,
    step_fn: Callable[[Iterator[Any]], dict[str, float]],
    batches: Callable[[int], Iterator[Any]],
    out_dir: Path,
    *,
    steps: int,
    checkpoint_every: int,
    config: Mapping[str, Any],
    run_defining: Sequence[str],
    columns: Sequence[str],
    desc: str,
    progress: bool = True,
    writes: bool = True,
) -> None:
    """Advance ``run`` to ``steps`` steps in ``out_dir``, resuming from its checkpoint there.

    Args:
        run: the networks, optimisers and RNG state; ``step_fn`` increments ``run.step``.
        step_fn: takes the batch iterator, consumes what one step needs, returns the
            step's losses (the keys of ``columns[1:-1]``).
        batches: ``batches(step)`` iterates over the batches from step ``step`` on.
        out_dir: the run's folder.
        steps: the step to reach.
        checkpoint_every: steps between checkpoints (and after the last step).
        config: the run's settings, stored in the checkpoint.
        run_defining: the ``config`` keys that must agree for a checkpoint to be resumed.
        columns: the log's header: ``step``, the loss names, ``seconds``.
        desc: the progress bar's label.
        progress: show a tqdm bar with running losses.
        writes: whether this process writes the log and the checkpoints; under torchrun
            only rank 0 does, the others read the checkpoint and train.
    """
    checkpoint, log_path = out_dir / "checkpoint.pt", out_dir / "losses.csv"
    code = code_fingerprint()
    if checkpoint.exists():
        state = load_checkpoint(checkpoint)
        if state.get("code") != code:
            print(f"{checkpoint} was written by other huenet code; starting afresh")
        elif all(state["config"].get(k) == config[k] for k in run_defining):
            run.load(state)
        else:
            print(f"{checkpoint} belongs to a run with other settings; starting afresh")
    rows = _kept_rows(log_path, run.step, columns)

    def rewrite(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            csv.writer(f).writerows([list(columns), *rows])

    if writes:
        atomic_write(log_path, rewrite)

    bar = tqdm(total=steps, initial=min(run.step, steps), disable=not (progress and writes), desc=desc,
               dynamic_ncols=True)
    running: dict[str, float] = {}
    with open(log_path if writes else os.devnull, "a", newline="") as log:
        writer = csv.writer(log)
        stream = batches(run.step)
        while run.step < steps:
            started = time.perf_counter()
            losses = step_fn(stream)
            writer.writerow([run.step, *(f"{losses[k]:.6g}" for k in columns[1:-1]),
                             f"{time.perf_counter() - started:.4f}"])
            running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in losses.items()}
            bar.set_postfix({k.removeprefix("loss_"): f"{v:.3g}" for k, v in running.items()}, refresh=False)
            bar.update(1)
            if writes and (run.step % checkpoint_every == 0 or run.step == steps):
                log.flush()
                state = {"config": dict(config), "code": code, **run.state()}
                atomic_write(checkpoint, lambda tmp: torch.save(state, tmp))
    bar.close()
