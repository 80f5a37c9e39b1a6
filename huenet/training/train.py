"""Hue-Net training (paper section 2.6), resumable and seeded.

One step draws a batch of (source, target) pairs, takes one discriminator step
and one generator step with

    L_G = L_adv + lambda_EMD * L_EMD(hue_out, hue_target) + lambda_MI * L_MI(hue_source, hue_out)

with L_EMD the cyclic L2 EMD in its squared or root form (``emd_form``, see
:func:`huenet.core.losses.emd_loss`).

A run lives in one folder (see :mod:`huenet.training.loop` for the checkpoint and the resume)::

    checkpoint.pt   everything needed to continue (networks, optimisers, RNG, step)
    losses.csv      one row per step
    generator.pt    the final generator: weights + the config that rebuilds it

``huenet train --variant full --out-dir models/full ...`` trains from
``params.yaml`` as notebook 03 does, and under ``torchrun`` on several processes
with ``DistributedDataParallel`` (:mod:`huenet.training.distributed`, ``docs/scale_out.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from huenet.core.checks import check_int, check_number
from huenet.core.histograms import IMPLS, joint_histogram, soft_histogram
from huenet.core.losses import EMD_FORMS, EMD_REDUCTIONS, emd_loss, mi_loss
from huenet.data import DataError
from huenet.data.artifacts import ensure_data
from huenet.data.cache import ImageCache
from huenet.data.pairs import FLIPS, PairDataset
from huenet.data.split import Split
from huenet.nets.hue_net import GANLoss, PatchDiscriminator, UNetGenerator, generator_input, save_generator
from huenet.training.distributed import Ranks, from_environment, shard
from huenet.training.loop import defining, not_defining, run_identity, train_resumably
from huenet.training.params import config_from_dict, read_group, stage_params

__all__ = ["STAGE_KEYS", "TrainConfig", "TrainingDiverged", "TrainingRun", "train", "training_pairs", "main"]

LOSS_COLUMNS = ("step", "loss_d", "loss_g", "loss_adv", "loss_emd", "loss_mi", "seconds")
# The keys of params.yaml's train group beside config and variants (notebooks 03 and 06 read the same).
STAGE_KEYS = ("crop_size", "eval_pairs", "threads", "nproc_per_node")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (defaults: the paper's settings at pix2pix scale).

    Every field is marked :func:`~huenet.training.loop.defining` or :func:`~huenet.training.loop.not_defining`: a
    checkpoint is resumed only when the defining fields agree (:func:`huenet.training.loop.run_identity`).
    """

    width: int = defining(64)
    depth: int = defining(8)
    dropout: float = defining(0.5)
    disc_width: int | None = defining(None)  # None: the generator's width
    disc_layers: int = defining(3)
    batch_size: int = defining(4)
    steps: int = not_defining(1000)  # more steps continue the same run
    lr: float = defining(2e-4)
    beta1: float = defining(0.5)
    beta2: float = defining(0.999)
    emd_form: str = defining("squared")
    emd_reduction: str = defining("mean")  # "sum": over the K bins, as the paper's Eq. 13 without 1/K
    lambda_emd: float = defining(100.0)
    lambda_mi: float = defining(25.0)
    bins: int = defining(256)
    mi_bins: int | None = defining(None)  # bins per axis of the MI loss's joint histogram; None: ``bins``
    kernel_width_ratio: float = defining(2.5)
    histogram_impl: str = defining("fast")
    flips: str = defining("vertical")  # the training crops' random flips, one of huenet.data.pairs.FLIPS
    seed: int = defining(0)
    checkpoint_every: int = not_defining(100)
    device: str = not_defining("auto")
    amp: bool = defining(False)  # bf16 autocast for the networks; histograms and losses stay float32

    def __post_init__(self) -> None:
        for name in ("width", "depth", "batch_size", "steps", "bins", "mi_bins", "checkpoint_every", "disc_width",
                     "disc_layers"):
            value = getattr(self, name)
            if name in ("disc_width", "mi_bins") and value is None:
                continue
            check_int(value, name)
        for name in ("lr", "lambda_emd", "lambda_mi", "kernel_width_ratio"):
            check_number(getattr(self, name), name)
        if self.emd_form not in EMD_FORMS:
            raise ValueError(f"emd_form must be one of {', '.join(EMD_FORMS)}, got {self.emd_form!r}")
        if self.emd_reduction not in EMD_REDUCTIONS:
            raise ValueError(f"emd_reduction must be one of {', '.join(EMD_REDUCTIONS)}, got {self.emd_reduction!r}")
        if not isinstance(self.amp, bool):
            raise ValueError(f"amp must be true or false, got {self.amp!r}")
        if self.flips not in FLIPS:
            raise ValueError(f"flips must be one of {', '.join(FLIPS)}, got {self.flips!r}")
        if self.histogram_impl not in IMPLS:
            raise ValueError(f"histogram_impl must be one of {', '.join(IMPLS)}, got {self.histogram_impl!r}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        return config_from_dict(cls, values, "training")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or inf; the last good checkpoint is kept."""


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class _DiscriminatorLoss(nn.Module):
    """The discriminator's loss on a real and a fake batch, as one module.

    Under DDP a wrapped module must be called once per backward: the reducer
    arms its gradient hooks in each wrapped forward, and two forwards before one
    backward would arm them twice. Inside this one forward the discriminator runs
    twice; autograd sums each parameter's two gradients before the hook fires,
    so every gradient is averaged across ranks exactly once.
    """

    def __init__(self, discriminator: PatchDiscriminator, gan: GANLoss) -> None:
        super().__init__()
        self.discriminator, self.gan = discriminator, gan

    def forward(self, real: Tensor, fake: Tensor) -> Tensor:
        """``0.5 * (BCE(D(real), 1) + BCE(D(fake), 0))`` on ``(B, 3, H, W)`` inputs: a scalar."""
        return 0.5 * (self.gan(self.discriminator(real), True) + self.gan(self.discriminator(fake), False))


def _dropout_seed(seed: int, rank: int, step: int) -> int:
    """The RNG seed of ``rank`` at ``step`` of a data-parallel run: distinct per rank, the same after a resume."""
    return int(np.random.SeedSequence((seed, rank, step)).generate_state(1)[0])


class TrainingRun:
    """Networks, optimisers and loss terms of one Hue-Net training run (one rank's, under torchrun).

    :func:`train` drives one through :func:`huenet.training.loop.train_resumably`; the benchmarks time its
    :meth:`train_step` alone.
    """

    def __init__(self, config: TrainConfig, device: torch.device, *, ranks: Ranks | None = None) -> None:
        self.config = config
        self.ranks = ranks
        torch.manual_seed(config.seed)  # every rank starts from the same weights
        self.generator = UNetGenerator(config.width, config.depth, config.dropout).to(device)
        self.discriminator = PatchDiscriminator(config.disc_width or config.width, config.disc_layers).to(device)
        if ranks is not None and device.type == "cuda":
            # Batch statistics over the global batch, as one process would have them (NCCL only;
            # with gloo on CPU each rank normalises its own share). The state dict's keys are unchanged.
            self.generator = nn.SyncBatchNorm.convert_sync_batchnorm(self.generator)
            self.discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(self.discriminator)
        # Fused Adam updates all tensors in one kernel; the for-loop Adam spent about a tenth of a CPU-profile
        # step on per-tensor kernels (reports/benchmarks/train_step.md).
        adam = functools.partial(torch.optim.Adam, lr=config.lr, betas=(config.beta1, config.beta2), fused=True)
        self.opt_g = adam(self.generator.parameters())
        self.opt_d = adam(self.discriminator.parameters())
        self.gan = GANLoss().to(device)
        # What a step calls: the networks themselves in one process; under torchrun the generator and
        # the discriminator's loss wrapped in DDP, which averages their gradients across ranks. The
        # generator step's D(fake) calls the bare discriminator: the D gradients it leaves are zeroed
        # before the next D step, so synchronising them would only cost time. Buffers (BatchNorm's
        # running statistics) are not synchronised at each forward: each rank keeps its own (they
        # differ with per-rank batch statistics), and rank 0's are saved.
        self.generate: Callable[[Tensor], Tensor] = self.generator
        self.discriminator_loss: Callable[[Tensor, Tensor], Tensor] = _DiscriminatorLoss(self.discriminator, self.gan)
        if ranks is not None:
            ddp = functools.partial(DistributedDataParallel, device_ids=[device] if device.type == "cuda" else None,
                                    forward_sync_buffers=False)
            self.generate = ddp(self.generator)
            self.discriminator_loss = ddp(self.discriminator_loss)
        self.autocast: Callable[[], contextlib.AbstractContextManager] = (
            functools.partial(torch.autocast, device.type, dtype=torch.bfloat16) if config.amp
            else contextlib.nullcontext)
        self.step = 0

    def histogram(self, hue: Tensor) -> Tensor:
        c = self.config
        return soft_histogram(hue, c.bins, cyclic=True, kernel_width_ratio=c.kernel_width_ratio, impl=c.histogram_impl)

    def mi(self, source_hue: Tensor, hue: Tensor) -> Tensor:
        c = self.config
        joint = joint_histogram(source_hue, hue, c.mi_bins or c.bins, cyclic=True,
                                kernel_width_ratio=c.kernel_width_ratio, impl=c.histogram_impl)
        return mi_loss(joint)

    def train_step(self, source: Tensor, target: Tensor) -> dict[str, float]:
        """One D step then one G step on HSV batches ``(B, 3, H, W)`` (this rank's share under torchrun)."""
        c = self.config
        if self.ranks is not None:
            # Dropout masks: an independent stream per rank, a function of the step so that a resumed
            # run draws what an uninterrupted one would (the checkpoint holds rank 0's RNG state only).
            torch.manual_seed(_dropout_seed(c.seed, self.ranks.rank, self.step))
        with self.autocast():
            hue = self.generate(generator_input(source, target))
        # The discriminator sees (S_src, V_src, hue): the source's own hue is real.
        real = torch.cat((source[:, 1:], source[:, :1]), 1)
        fake = torch.cat((source[:, 1:], hue), 1)

        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            loss_d = self.discriminator_loss(real, fake.detach())
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            loss_adv = self.gan(self.discriminator(fake), True)
        with torch.no_grad():
            target_hist = self.histogram(target[:, :1])
        loss_emd = emd_loss(self.histogram(hue), target_hist, form=c.emd_form, over_bins=c.emd_reduction)
        if c.lambda_mi > 0:
            loss_mi = self.mi(source[:, :1], hue)
        else:
            with torch.no_grad():  # logged, not trained: the no-MI ablation
                loss_mi = self.mi(source[:, :1], hue.detach())
        loss_g = loss_adv + c.lambda_emd * loss_emd + c.lambda_mi * loss_mi
        # terms before their sum, so a divergence is reported where it starts
        terms = {"loss_d": loss_d, "loss_adv": loss_adv, "loss_emd": loss_emd, "loss_mi": loss_mi, "loss_g": loss_g}
        if self.ranks is None:
            losses = {name: term.item() for name, term in terms.items()}
        else:
            losses = self._global_losses(terms)
        bad = [name for name, value in losses.items() if not math.isfinite(value)]
        if bad:
            raise TrainingDiverged(f"{bad[0]} became {losses[bad[0]]} at step {self.step + 1}")
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        return losses

    def _global_losses(self, terms: dict[str, Tensor]) -> dict[str, float]:
        """The mean of each scalar loss over the ranks: the global batch's loss, as one process logs it.

        One all-reduce before the generator's backward, so a NaN or inf on any rank reaches every
        rank, and all of them stop at the same step instead of waiting in the next collective.
        """
        stacked = torch.stack([term.detach().float() for term in terms.values()])
        dist.all_reduce(stacked)
        return dict(zip(terms, (stacked / self.ranks.world_size).tolist()))

    def state(self) -> dict:
        return {
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load(self, state: dict) -> None:
        self.step = state["step"]
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


def training_pairs(cache: ImageCache, split: Split, config: TrainConfig, crop_size: int) -> PairDataset:
    """The pairs a run of ``config`` trains on: the training images' random crops, flipped as ``config.flips`` says."""
    return PairDataset(cache, split.train, crop_size=crop_size, mode="train", seed=config.seed, flips=config.flips)


def train(config: TrainConfig, dataset: PairDataset, out_dir: str | os.PathLike, *, progress: bool = True) -> Path:
    """Train (or continue training) Hue-Net in ``out_dir``, on one process or, under torchrun, on all of them.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every process calls this with the same
    arguments: each trains on its share of the global batch with DDP, only rank 0
    writes the run's files, and the process group is ended on return.

    Args:
        config: the run's settings.
        dataset: training pairs (mode ``"train"``), already holding HSV crops.
        out_dir: the run's folder (shared by all ranks); a checkpoint there from the
            same run is resumed, one from a different run is replaced.
        progress: show a tqdm bar with running losses (rank 0 only).

    Returns:
        The path of the final ``generator.pt``.

    Raises:
        TrainingDiverged: a loss became NaN or inf (the message names the step), on every rank.
        ValueError: ``batch_size`` is not a multiple of the number of processes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = _device(config.device)
    joined = from_environment(device, config.batch_size)
    ranks, device = joined if joined is not None else (None, device)
    writes = ranks is None or ranks.writes
    try:
        run = TrainingRun(config, device, ranks=ranks)
        run.generator.train()
        run.discriminator.train()

        def step(batches: Iterator[dict[str, Tensor]]) -> dict[str, float]:
            batch = next(batches)
            if ranks is not None:
                batch = shard(batch, ranks)
            return run.train_step(batch["source"].to(device), batch["target"].to(device))

        if ranks is not None:
            # Every rank reads the checkpoint before rank 0 may write the next one. (Rank 0 cannot
            # finish a step without the others anyway; the barrier makes the order explicit.)
            dist.barrier()
        train_resumably(run, step, lambda start: dataset.batches(config.batch_size, start), out,
                        steps=config.steps, checkpoint_every=config.checkpoint_every,
                        config=dataclasses.asdict(config),
                        identity=run_identity(config, dataset, code="huenet.training.train"), columns=LOSS_COLUMNS,
                        desc="train", progress=progress, writes=writes)
        final = out / "generator.pt"
        if writes:
            save_generator(run.generator, final, step=run.step, train_config=dataclasses.asdict(config))
        if ranks is not None:
            dist.barrier()  # no rank returns the path before rank 0 has written it
    finally:
        if ranks is not None:
            dist.destroy_process_group()
    return final


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="huenet train",
        description="Train Hue-Net from a params file's train group, as notebook 03 does. Under torchrun "
                    "(torchrun --nproc_per_node=N -m huenet train ...) each process trains on its share of "
                    "the global batch with DistributedDataParallel; see docs/scale_out.md.",
        epilog="Exit status: 0 trained, 1 training diverged, 2 bad arguments or settings.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    parser.add_argument("--variant", required=True, help="a key of train.variants, e.g. full")
    parser.add_argument("--variants-group", default="train", metavar="GROUP",
                        help="the params group whose variants hold --variant (default: train; the cars': cars)")
    parser.add_argument("--out-dir", type=Path, help="the run's folder (default: models/VARIANT, as the stage)")
    parser.add_argument("--splits", type=Path, default=Path("artifacts/splits.json"),
                        help="splits written by the data stage (default: artifacts/splits.json)")
    parser.add_argument("--cache", type=Path, help="image cache written by the data stage "
                                                   "(default: artifacts/cache_<data.load_size>.pt)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``huenet train``: train one variant of ``params.yaml``'s train group into ``--out-dir``."""
    args = _parser().parse_args(argv)
    try:
        config, stage = stage_params(args.params, "train", TrainConfig, stage_keys=STAGE_KEYS, variant=args.variant,
                                     variants_group=args.variants_group)
        cache_path = args.cache or Path(f"artifacts/cache_{read_group(args.params, 'data').get('load_size')}.pt")
        missing = [str(p) for p in (args.splits, cache_path) if not p.is_file()]
        if missing:
            raise ValueError(f"not found: {', '.join(missing)} (the data stage writes them: dvc repro data)")
        split, cache = ensure_data(args.splits, cache_path)
        torch.set_num_threads(stage["threads"])
        pairs = training_pairs(cache, split, config, stage["crop_size"])
        train(config, pairs, args.out_dir or Path("models", args.variant), progress=sys.stderr.isatty())
    except TrainingDiverged as err:
        print(f"huenet train: {err}", file=sys.stderr)
        return 1
    except (ValueError, OSError, DataError) as err:
        print(f"huenet train: error: {err}", file=sys.stderr)
        return 2
    return 0
