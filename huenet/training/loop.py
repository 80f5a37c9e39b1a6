"""The resumable training loop shared by Hue-Net (:mod:`huenet.training.train`) and the colour GAN.

A run lives in one folder::

    checkpoint.pt   everything needed to continue (the run's state, its config and its identity)
    losses.csv      one row per step

Every ``checkpoint_every`` steps the log is flushed and the checkpoint is
written atomically, so a crash loses at most the steps since the last one.
Calling the loop again on the same folder continues from that checkpoint when
it belongs to the same run and starts afresh otherwise. A run's identity
(:func:`run_identity`) is everything that changes what it trains: the config's
fields marked :func:`defining` (every field is marked one way or the other), the
data (:meth:`huenet.data.pairs.PairDataset.fingerprint`), the thread count, and
the training's own code (:func:`huenet.training.code.code_fingerprint`). Batches are a
function of ``(seed, step)`` and the run restores its RNG state, so a resumed
run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from huenet.files import atomic_write, atomic_write_binary
from huenet.training.code import code_fingerprint

__all__ = ["CheckpointError", "Resumable", "defining", "load_checkpoint", "not_defining",
           "run_defining", "run_identity", "train_resumably"]



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


def defining(default: Any) -> Any:
    """A config field that defines the run: a checkpoint written with another value is not resumed."""
    return dataclasses.field(default=default, metadata={"defines_run": True})


def not_defining(default: Any) -> Any:
    """A config field that does not change what is trained (where it runs, how often it saves, how far it goes)."""
    return dataclasses.field(default=default, metadata={"defines_run": False})


def run_defining(cls: type) -> tuple[str, ...]:
    """The names of ``cls``'s fields marked :func:`defining`.

    Raises:
        TypeError: a field is marked neither :func:`defining` nor :func:`not_defining`.
    """
    fields = dataclasses.fields(cls)
    unmarked = [f.name for f in fields if "defines_run" not in f.metadata]
    if unmarked:
        raise TypeError(f"{cls.__name__} fields not marked defining or not_defining: {', '.join(unmarked)}")
    return tuple(f.name for f in fields if f.metadata["defines_run"])


def run_identity(config: Any, dataset: Any, *, code: str) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: the config's defining fields, the data, threads and code.

    Args:
        config: a config dataclass whose fields are all marked (:func:`run_defining`).
        dataset: the training pairs (a :class:`~huenet.data.pairs.PairDataset`): its fingerprint covers the
            split, the cached pixels and the crop size.
        code: the training module whose import closure is hashed (:func:`huenet.training.code.code_fingerprint`).
    """
    values = dataclasses.asdict(config)
    identity = {name: values[name] for name in run_defining(type(config))}
    # Threads change the float sums of a step in their last bits, and so the trained weights.
    identity.update(data=dataset.fingerprint(), crop_size=dataset.crop_size, threads=torch.get_num_threads(),
                    code=code_fingerprint(code))
    return identity


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
    identity: Mapping[str, Any],
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
        identity: what must agree for a checkpoint to be resumed (:func:`run_identity`).
        columns: the log's header: ``step``, the loss names, ``seconds``.
        desc: the progress bar's label.
        progress: show a tqdm bar with running losses.
        writes: whether this process writes the log and the checkpoints; under torchrun
            only rank 0 does, the others read the checkpoint and train.
    """
    checkpoint, log_path = out_dir / "checkpoint.pt", out_dir / "losses.csv"
    identity = dict(identity)
    if checkpoint.exists():
        state = load_checkpoint(checkpoint)
        recorded = state.get("identity", {})
        differs = sorted(k for k in identity.keys() | recorded.keys() if recorded.get(k) != identity.get(k))
        if not differs:
            run.load(state)
        else:
            print(f"{checkpoint} belongs to another run (its {', '.join(differs)} differ); starting afresh")
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
                state = {"config": dict(config), "identity": identity, **run.state()}
                atomic_write_binary(checkpoint, lambda f: torch.save(state, f))
    bar.close()
