"""Data-parallel training under ``torchrun``: the process group and each rank's share of a batch.

``torchrun`` starts one process per device and tells each its place through the
environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). Without it (``WORLD_SIZE`` unset or 1) nothing here runs and
training stays one plain process. See ``docs/scale_out.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["Ranks", "from_environment", "shard"]


@dataclass(frozen=True)
class Ranks:
    """This process's place among ``world_size`` data-parallel processes."""

    rank: int
    local_rank: int
    world_size: int

    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files (the log, checkpoints, the generator): rank 0 only."""
        return self.rank == 0


def from_environment(device: torch.device, batch_size: int) -> tuple[Ranks, torch.device] | None:
    """Join the process group ``torchrun`` set up, or ``None`` outside one (``WORLD_SIZE`` unset or 1).

    Args:
        device: the configured device; ``cuda`` becomes this process's ``cuda:LOCAL_RANK``.
        batch_size: the global batch, which the ranks split evenly.

    Returns:
        ``(ranks, device)``: this process's place and the device it trains on.

    Raises:
        ValueError: ``batch_size`` is not a multiple of the number of processes.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return None
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} cannot be split evenly over {world_size} processes; "
                         f"choose a multiple of {world_size}")
    ranks = Ranks(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world_size)
    if device.type == "cuda":
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ranks, device


def shard(batch: dict[str, Tensor], ranks: Ranks) -> dict[str, Tensor]:
    """This rank's contiguous share of a global batch: rows ``[rank * B / W, (rank + 1) * B / W)`` of each tensor.

    Every rank draws the same global batch (batches are a function of the seed and
    the step), so the shares are disjoint and together make the batch a
    one-process run would train on at that step.
    """
    per_rank = next(iter(batch.values())).shape[0] // ranks.world_size
    start = ranks.rank * per_rank
    return {key: value[start:start + per_rank] for key, value in batch.items()}
