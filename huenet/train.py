"""Hue-Net training (paper section 2.6), resumable and seeded.

One step draws a batch of (source, target) pairs, takes one discriminator step
and one generator step with

    L_G = L_adv + lambda_EMD * L_EMD(hue_out, hue_target) + lambda_MI * L_MI(hue_source, hue_out)

with L_EMD the cyclic L2 EMD in its squared or root form (``emd_form``, see
:func:`huenet.losses.emd_loss`).

A run lives in one folder (see :mod:`huenet.loop` for the checkpoint and the resume)::

    checkpoint.pt   everything needed to continue (networks, optimisers, RNG, step)
    losses.csv      one row per step
    generator.pt    the final generator: weights + the config that rebuilds it
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor

from huenet.data import PairDataset
from huenet.files import atomic_write
from huenet.histograms import joint_histogram, soft_histogram
from huenet.loop import config_from_dict, train_resumably
from huenet.losses import EMD_FORMS, emd_loss, mi_loss
from huenet.models import GANLoss, PatchDiscriminator, UNetGenerator, generator_input

__all__ = ["TrainConfig", "TrainingDiverged", "train", "load_generator", "save_generator", "translate_hue"]

LOSS_COLUMNS = ("step", "loss_d", "loss_g", "loss_adv", "loss_emd", "loss_mi", "seconds")
# Changing these between a checkpoint and a rerun would mix two different experiments.
_RUN_DEFINING = ("width", "depth", "dropout", "disc_width", "disc_layers", "batch_size", "lr", "beta1", "beta2",
                 "emd_form", "lambda_emd", "lambda_mi", "bins", "mi_bins", "kernel_width_ratio", "histogram_impl",
                 "seed")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (defaults: the paper's settings at pix2pix scale)."""

    width: int = 64
    depth: int = 8
    dropout: float = 0.5
    disc_width: int | None = None  # None: the generator's width
    disc_layers: int = 3
    batch_size: int = 4
    steps: int = 1000
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    emd_form: str = "squared"
    lambda_emd: float = 100.0
    lambda_mi: float = 25.0
    bins: int = 256
    mi_bins: int | None = None  # bins per axis of the MI loss's joint histogram; None: ``bins``
    kernel_width_ratio: float = 2.5
    histogram_impl: str = "fast"
    seed: int = 0
    checkpoint_every: int = 100
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("width", "depth", "batch_size", "steps", "bins", "mi_bins", "checkpoint_every", "disc_width",
                     "disc_layers"):
            value = getattr(self, name)
            if name in ("disc_width", "mi_bins") and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("lr", "lambda_emd", "lambda_mi", "kernel_width_ratio"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.emd_form not in EMD_FORMS:
            raise ValueError(f"emd_form must be one of {', '.join(EMD_FORMS)}, got {self.emd_form!r}")
        if self.histogram_impl not in ("fast", "dense"):
            raise ValueError(f"histogram_impl must be 'fast' or 'dense', got {self.histogram_impl!r}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        return config_from_dict(cls, values, "training")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or inf; the last good checkpoint is kept."""


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def save_generator(generator: UNetGenerator, path: str | os.PathLike, **extra: object) -> None:
    """Write ``generator.pt``: weights, the config that rebuilds the network, and ``extra`` metadata."""
    state = {k: v.detach().cpu() for k, v in generator.state_dict().items()}
    blob = {"format": "huenet-generator-1", "config": generator.config(), "state_dict": state, **extra}
    atomic_write(path, lambda tmp: torch.save(blob, tmp))


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> UNetGenerator:
    """Rebuild a generator written by :func:`save_generator`, in eval mode.

    Raises:
        ValueError: the file is missing, unreadable or not a huenet generator.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise ValueError(f"cannot read model file {path}: {type(err).__name__}") from None
    if not isinstance(blob, dict) or blob.get("format") != "huenet-generator-1":
        raise ValueError(f"{path} is not a huenet generator file")
    try:
        generator = UNetGenerator.from_config(blob["config"])
        generator.load_state_dict(blob["state_dict"])
    except (TypeError, KeyError, RuntimeError) as err:
        raise ValueError(f"{path} does not match this version of huenet's generator: {str(err).splitlines()[0]}") from None
    return generator.to(device).eval()


@torch.no_grad()
def translate_hue(generator: UNetGenerator, source_hsv: Tensor, target_hsv: Tensor) -> Tensor:
    """The generator's hue for ``source_hsv`` painted with ``target_hsv``'s colours: ``(B, 1, H, W)``."""
    return generator(generator_input(source_hsv, target_hsv))


class _Run:
    """Networks, optimisers and loss terms of one training run."""

    def __init__(self, config: TrainConfig, device: torch.device, *, fused_adam: bool = True) -> None:
        self.config = config
        torch.manual_seed(config.seed)
        self.generator = UNetGenerator(config.width, config.depth, config.dropout).to(device)
        self.discriminator = PatchDiscriminator(config.disc_width or config.width, config.disc_layers).to(device)
        # Fused Adam updates all tensors in one kernel; the for-loop Adam (fused_adam=False, kept for
        # benchmarks/bench_train_step.py) spends about a tenth of a CPU-profile step on per-tensor kernels.
        adam = functools.partial(torch.optim.Adam, lr=config.lr, betas=(config.beta1, config.beta2),
                                 fused=fused_adam or None)
        self.opt_g = adam(self.generator.parameters())
        self.opt_d = adam(self.discriminator.parameters())
        self.gan = GANLoss().to(device)
        self.step = 0

    def histogram(self, hue: Tensor) -> Tensor:
        c = self.config
        return soft_histogram(hue, c.bins, cyclic=True, kernel_width_ratio=c.kernel_width_ratio, impl=c.histogram_impl)

    def mi(self, source_hue: Tensor, hue: Tensor) -> Tensor:
        c = self.config
        joint = joint_histogram(source_hue, hue, c.mi_bins or c.bins, cyclic=True,
                                kernel_width_ratio=c.kernel_width_ratio, impl=c.histogram_impl)
        return mi_loss(joint).mean()

    def train_step(self, source: Tensor, target: Tensor) -> dict[str, float]:
        """One D step then one G step on HSV batches ``(B, 3, H, W)``."""
        c = self.config
        hue = self.generator(generator_input(source, target))
        # The discriminator sees (S_src, V_src, hue): the source's own hue is real.
        real = torch.cat((source[:, 1:], source[:, :1]), 1)
        fake = torch.cat((source[:, 1:], hue), 1)

        self.opt_d.zero_grad(set_to_none=True)
        loss_d = 0.5 * (self.gan(self.discriminator(real), True) + self.gan(self.discriminator(fake.detach()), False))
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        loss_adv = self.gan(self.discriminator(fake), True)
        with torch.no_grad():
            target_hist = self.histogram(target[:, :1])
        loss_emd = emd_loss(self.histogram(hue), target_hist, form=c.emd_form).mean()
        if c.lambda_mi > 0:
            loss_mi = self.mi(source[:, :1], hue)
        else:
            with torch.no_grad():  # logged, not trained: the no-MI ablation
                loss_mi = self.mi(source[:, :1], hue.detach())
        loss_g = loss_adv + c.lambda_emd * loss_emd + c.lambda_mi * loss_mi
        # terms before their sum, so a divergence is reported where it starts
        losses = {"loss_d": loss_d.item(), "loss_adv": loss_adv.item(), "loss_emd": loss_emd.item(),
                  "loss_mi": loss_mi.item(), "loss_g": loss_g.item()}
        bad = [name for name, value in losses.items() if not math.isfinite(value)]
        if bad:
            raise TrainingDiverged(f"{bad[0]} became {losses[bad[0]]} at step {self.step + 1}")
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        return losses

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


def train(config: TrainConfig, dataset: PairDataset, out_dir: str | os.PathLike, *, progress: bool = True) -> Path:
    """Train (or continue training) Hue-Net in ``out_dir``.

    Args:
        config: the run's settings.
        dataset: training pairs (mode ``"train"``), already holding HSV crops.
        out_dir: the run's folder; a checkpoint there from the same run is resumed,
            one from a different run is replaced.
        progress: show a tqdm bar with running losses.

    Returns:
        The path of the final ``generator.pt``.

    Raises:
        TrainingDiverged: a loss became NaN or inf (the message names the step).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = _device(config.device)
    run = _Run(config, device)
    run.generator.train()
    run.discriminator.train()

    def step(batches: Iterator[dict[str, Tensor]]) -> dict[str, float]:
        batch = next(batches)
        return run.train_step(batch["source"].to(device), batch["target"].to(device))

    train_resumably(run, step, lambda start: dataset.batches(config.batch_size, start), out, steps=config.steps,
                    checkpoint_every=config.checkpoint_every, config=dataclasses.asdict(config),
                    run_defining=_RUN_DEFINING, columns=LOSS_COLUMNS, desc="train", progress=progress)
    final = out / "generator.pt"
    save_generator(run.generator, final, step=run.step, train_config=dataclasses.asdict(config))
    return final
