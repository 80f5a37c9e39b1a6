"""Soiffer & Zhang (2018), section 3.2: a colour-conditioned Wasserstein GAN (WGAN-GP).

The generator ``G(I, z, C_T)`` recolours an image ``I`` towards the target
colour ``C_T`` (a mean RGB colour) with noise ``z``; a critic ``D`` scores
realism. Losses, per batch::

    L_D = mean D(G(I, z, C_T), C_T) - mean D(R, C_T) + 10 mean (|grad_x D(x_hat, C_T)|_2 - 1)^2
    L_G = -mean D(G(I, z, C_T), C_T) + w_c mean |C(G(I, z, C_T)) - C_T|
          [+ w_r mean |G(G(I, z, C_T), z, C(I)) - I|]           reconstruction (optional, same z)

What the paper fixes and is followed here: WGAN-GP (their base code is
wiseodd's ``wgan_gp_tensorflow.py``), gradient penalty weight 10 on random
interpolates of real and fake, 5 critic steps per generator step, Adam at
learning rate ``1e-5``, batch 32, 64 x 64 crops, a generator of four 5 x 5
convolutions with 64 filters taking the image, a noise vector and the target
colour, a critic of three 5 x 5 convolutions (64 or 128 filters), each
followed by 2 x 2 max-pooling, then fully connected layers of 256 and 128
units, the colour loss ``|C - C_T|`` and the reconstruction loss
``mean|G(G(I, C_1), C_0) - I|`` (which they finally left out: weight 0 here
by default).

What the paper leaves open, chosen here:

* **Data.** Oxford-102 crops from ``huenet.data.pairs.PairDataset`` (train mode):
  each item is a source crop ``I`` and a crop ``R`` of a random *other*
  image. ``C_T = C(R)``, the mean colour of ``R``: the target colour of a
  training image is the colour of a real photograph, and ``R`` is the real
  sample the critic sees with that same colour, so real and fake pairs share
  their conditions.
* **Generator.** The noise (``noise_dim = 10`` values, uniform in [-1, 1], as
  the base code) and the colour are broadcast as constant input channels next
  to the image (inputs scaled to [-1, 1]). Four 5 x 5 convolutions of 64
  filters with LeakyReLU(0.2) and reflected borders (no dark frame), then a
  1 x 1 convolution to RGB. The output is ``sigmoid(logit(I) + r)`` with the
  1 x 1 layer's output ``r`` (``residual=True``): the network predicts a change
  of the source, starting at the identity (the 1 x 1 layer starts at zero).
  The paper does not say how the image leaves the network; at their learning
  rate of ``1e-5`` a network that must first learn to copy its input would
  show nothing but noise in the CPU budget. ``residual=False`` gives the plain
  ``sigmoid(r)``. Fully convolutional, so it runs at any size.
* **Critic.** Conditioned by the target colour as three constant input
  channels (the first convolution can compare each pixel with the colour).
  Widths 64, 64, 128 (the paper: "64 or 128 filters"; 64, 128, 128 has
  about 1.7x the multiply-adds, and the critic dominates the CPU time); LeakyReLU(0.2);
  no batch norm (WGAN-GP's gradient penalty is per sample). It is built for
  the training crop size.
* **Colour loss.** ``|C - C_T|`` is the Euclidean norm of the RGB difference
  (not squared), with weight ``w_c = 100``: a uniform shift ``d`` of every pixel
  moves a 1-Lipschitz critic by at most ``d * sqrt(3 * 64 * 64) ~ 111 d``,
  so 100 puts the colour term on the scale of the adversarial one.
* **Adam betas** ``(0.5, 0.999)``: the base code's ``beta1=0.5`` with
  TensorFlow's default ``beta2``. The gradient penalty is the mean of squares
  ``mean((|g| - 1)^2)`` of Gulrajani et al. (the base code squares the mean).
* **Budget.** ``steps`` generator steps (each with 5 critic steps) are a config
  value; the default (30) fits about 7 minutes on 2 CPU cores and is far too
  short to learn anything at the paper's sizes (see ``ColorGANConfig``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from huenet.core.checks import check_int, check_number, check_rgb, target_colors
from huenet.core.color import hsv_to_rgb
from huenet.nets.hue_net import load_network, save_network
from huenet.training.loop import defining, not_defining, run_identity, train_resumably
from huenet.training.params import config_from_dict

if TYPE_CHECKING:  # huenet.data.pairs pulls in torchvision's datasets (through the cache); only training needs it
    from huenet.data.pairs import PairDataset

__all__ = [
    "STAGE_KEYS",
    "ColorGANConfig",
    "ColorGenerator",
    "ColorCritic",
    "GANDiverged",
    "gradient_penalty",
    "color_distance",
    "reconstruction_loss",
    "train_color_gan",
    "save_color_gan",
    "load_color_gan",
    "color_gan",
]

_FORMAT = "huenet-color-gan-1"
# The keys of params.yaml's color_gan group beside config (notebook 03b reads them).
STAGE_KEYS = ("eval_pairs", "threads")
LOSS_COLUMNS = ("step", "loss_d", "wasserstein", "gradient_penalty", "loss_g", "loss_adv", "loss_color",
                "loss_recon", "seconds")
_LOGIT_EPS = 1.0 / 512  # half an 8-bit level: keeps logit(0) and logit(1) finite


@dataclass(frozen=True)
class ColorGANConfig:
    """Everything that defines a training run (defaults: the paper's numbers; see the module docstring).

    ``steps`` counts generator steps, each preceded by ``n_critic`` critic
    steps on fresh batches. At the paper's sizes (batch 32, 64 px, widths as
    below) on 2 idle CPU cores of the development machine a critic step takes
    2.0-2.5 s and a generator step 2.6 s, about 14 s per ``step``, so the
    default of 30 steps fits about 7 minutes (with the cores shared with other
    jobs the same step took 36-46 s). That is far too little for the paper's
    learning rate: Adam moves each weight by about ``lr`` per step, and the
    generator starts as the identity, so after 30 steps it still returns
    (almost) the source. A CPU run that learns needs a smaller problem, e.g.
    ``crop_size=32, gen_width=32, critic_widths=(32, 32, 64),
    critic_fc=(128, 64), lr=1e-4``: about 3 s a step on 1 shared core, and
    60 steps cut the colour distance of 64 test pairs from 0.29 to 0.21.
    """

    noise_dim: int = defining(10)
    gen_width: int = defining(64)
    gen_layers: int = defining(4)
    residual: bool = defining(True)
    critic_widths: tuple[int, ...] = defining((64, 64, 128))
    critic_fc: tuple[int, ...] = defining((256, 128))
    crop_size: int = defining(64)
    batch_size: int = defining(32)
    steps: int = not_defining(30)  # more steps continue the same run
    n_critic: int = defining(5)
    lr: float = defining(1e-5)
    beta1: float = defining(0.5)
    beta2: float = defining(0.999)
    gp_weight: float = defining(10.0)
    color_weight: float = defining(100.0)
    recon_weight: float = defining(0.0)
    seed: int = defining(0)
    checkpoint_every: int = not_defining(25)
    device: str = not_defining("auto")  # "auto": CUDA when available

    def __post_init__(self) -> None:
        for name in ("noise_dim", "gen_width", "gen_layers", "crop_size", "batch_size", "steps", "n_critic",
                     "checkpoint_every"):
            check_int(getattr(self, name), name, 0 if name == "steps" else 1)
        for name in ("critic_widths", "critic_fc"):
            value = getattr(self, name)
            if not value or any(not isinstance(v, int) or v < 1 for v in value):
                raise ValueError(f"{name} must be a non-empty tuple of positive integers, got {value!r}")
            object.__setattr__(self, name, tuple(value))  # lists from YAML/JSON become tuples
        if self.crop_size < 2 ** len(self.critic_widths):
            raise ValueError(f"crop_size must be >= {2 ** len(self.critic_widths)} (one pixel after the poolings)")
        for name in ("lr", "gp_weight", "color_weight", "recon_weight"):
            check_number(getattr(self, name), name)
        for name in ("beta1", "beta2"):  # Adam's
            check_number(getattr(self, name), name, below=1)

    @classmethod
    def from_dict(cls, values: dict) -> ColorGANConfig:
        return config_from_dict(cls, values, "colour-GAN")


class GANDiverged(RuntimeError):
    """A loss became NaN or inf (the paper reports such runs); the message names the step."""


# ------------------------------------------------------------------ networks


def _constant_channels(values: Tensor, like: Tensor) -> Tensor:
    """``(B, K)`` -> ``(B, K, H, W)`` constant planes at ``like``'s size."""
    return values[:, :, None, None].expand(-1, -1, *like.shape[-2:])


class ColorGenerator(nn.Module):
    """``G(I, z, C_T)``: ``(B, 3, H, W)`` RGB, ``(B, noise_dim)``, ``(B, 3)`` -> ``(B, 3, H, W)`` RGB in (0, 1).

    Args:
        noise_dim: length of ``z``.
        width: filters of each 5 x 5 convolution.
        layers: number of 5 x 5 convolutions.
        residual: output ``sigmoid(logit(I) + r)`` (starts as the identity) instead of ``sigmoid(r)``.
    """

    def __init__(self, noise_dim: int = 10, width: int = 64, layers: int = 4, residual: bool = True) -> None:
        super().__init__()
        self.noise_dim, self.width, self.layers, self.residual = noise_dim, width, layers, residual
        convs: list[nn.Module] = []
        c_in = 3 + noise_dim + 3
        for _ in range(layers):
            convs += [nn.Conv2d(c_in, width, 5, padding=2, padding_mode="reflect"), nn.LeakyReLU(0.2)]
            c_in = width
        self.body = nn.Sequential(*convs)
        self.to_rgb = nn.Conv2d(width, 3, 1)
        if residual:  # start at G(I) = I: the network learns a change of colour, not how to copy
            nn.init.zeros_(self.to_rgb.weight)
            nn.init.zeros_(self.to_rgb.bias)

    def config(self) -> dict:
        return {"noise_dim": self.noise_dim, "width": self.width, "layers": self.layers, "residual": self.residual}

    def forward(self, image: Tensor, noise: Tensor, color: Tensor) -> Tensor:
        x = torch.cat((image * 2 - 1, _constant_channels(noise, image), _constant_channels(color * 2 - 1, image)), 1)
        r = self.to_rgb(self.body(x))
        if self.residual:
            r = r + torch.logit(image.clamp(_LOGIT_EPS, 1 - _LOGIT_EPS))
        return torch.sigmoid(r)


class ColorCritic(nn.Module):
    """``D(x, C)``: ``(B, 3, S, S)`` RGB in [0, 1] and ``(B, 3)`` colour -> ``(B,)`` scores (high = real).

    Args:
        crop_size: ``S``, the training crop size the fully connected layers are built for.
        widths: filters of the 5 x 5 convolutions, each followed by 2 x 2 max-pooling.
        fc: units of the hidden fully connected layers.
    """

    def __init__(self, crop_size: int = 64, widths: tuple[int, ...] = (64, 64, 128),
                 fc: tuple[int, ...] = (256, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = 3 + 3, crop_size
        for w in widths:
            layers += [nn.Conv2d(c_in, w, 5, padding=2), nn.LeakyReLU(0.2), nn.MaxPool2d(2)]
            c_in, size = w, size // 2
        layers.append(nn.Flatten())
        n_in = c_in * size * size
        for units in fc:
            layers += [nn.Linear(n_in, units), nn.LeakyReLU(0.2)]
            n_in = units
        layers.append(nn.Linear(n_in, 1))
        self.net = nn.Sequential(*layers)
        self.crop_size = crop_size

    def forward(self, image: Tensor, color: Tensor) -> Tensor:
        if image.shape[-2:] != (self.crop_size, self.crop_size):
            raise ValueError(f"the critic takes {self.crop_size} px crops, got {tuple(image.shape[-2:])}")
        x = torch.cat((image * 2 - 1, _constant_channels(color * 2 - 1, image)), 1)
        return self.net(x).squeeze(1)


# ------------------------------------------------------------------ losses


def gradient_penalty(critic: Callable[[Tensor, Tensor], Tensor], real: Tensor, fake: Tensor, color: Tensor, *,
                     alpha: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP's ``mean_b (|grad_x D(x_hat_b, C_b)|_2 - 1)^2`` at ``x_hat = alpha real + (1 - alpha) fake``.

    Args:
        critic: ``D(x, color) -> (B,)``.
        real, fake: ``(B, 3, H, W)``.
        color: ``(B, 3)`` condition, the same for both.
        alpha: ``(B,)`` interpolation weights; default uniform in [0, 1) per sample.
        generator: RNG for ``alpha``.

    Returns:
        A scalar, differentiable w.r.t. the critic's parameters (double backpropagation).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    b = real.shape[0]
    if alpha is None:
        alpha = torch.rand(b, generator=generator, device=real.device if generator is None else "cpu")
    alpha = alpha.to(real.device, real.dtype).view(b, 1, 1, 1)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, color).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def color_distance(image: Tensor, target_color: Tensor) -> Tensor:
    """``|C - C_T|``: Euclidean RGB distance of each image's mean colour to its target, ``(B,)``."""
    return torch.linalg.vector_norm(image.mean((2, 3)) - target_color, dim=1)


def reconstruction_loss(generator: ColorGenerator, image: Tensor, output: Tensor, noise: Tensor) -> Tensor:
    """``mean|G(G(I, C_1), C_0) - I|`` with ``C_0`` the source's mean colour; ``output = G(I, C_1)``. Scalar."""
    back = generator(output, noise, image.mean((2, 3)))
    return (back - image).abs().mean()


# ------------------------------------------------------------------ training


class ColorGANRun:
    """Networks, optimisers and the two update steps of one colour-GAN training run."""

    def __init__(self, config: ColorGANConfig) -> None:
        c = self.config = config
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if c.device == "auto" \
            else torch.device(c.device)
        torch.manual_seed(c.seed)
        self.rng = torch.Generator().manual_seed(c.seed + 1)  # noise and interpolation weights
        self.generator = ColorGenerator(c.noise_dim, c.gen_width, c.gen_layers, c.residual).to(self.device)
        self.critic = ColorCritic(c.crop_size, c.critic_widths, c.critic_fc).to(self.device)
        betas = (c.beta1, c.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=c.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=c.lr, betas=betas)
        self.step = 0

    def state(self) -> dict:
        return {"step": self.step, "generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}

    def load(self, state: dict) -> None:
        self.step = state["step"]
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        # The noise and the penalty's weights come from self.rng on the CPU, so no step draws from the CUDA
        # generators today; restored anyway, as Hue-Net's run does, so that a resumed run on a GPU continues every
        # stream an uninterrupted one would. A checkpoint written before they were saved has no entry.
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])

    def train_step(self, batches: Iterator[tuple[Tensor, Tensor]]) -> dict[str, float]:
        """``n_critic`` critic steps, then one generator step, each on a fresh (source, real) batch."""
        for _ in range(self.config.n_critic):
            row = self.critic_step(*next(batches))  # the log keeps the last critic step's values
        row |= self.generator_step(*next(batches))
        bad = [k for k, v in row.items() if not math.isfinite(v)]
        if bad:
            raise GANDiverged(f"{bad[0]} became {row[bad[0]]} at generator step {self.step + 1}")
        self.step += 1
        return row

    def noise(self, b: int) -> Tensor:
        return (torch.rand(b, self.config.noise_dim, generator=self.rng) * 2 - 1).to(self.device)

    def critic_step(self, source: Tensor, real: Tensor) -> dict[str, float]:
        color = real.mean((2, 3))  # real crops come with their own colour: the condition of both
        with torch.no_grad():
            fake = self.generator(source, self.noise(source.shape[0]), color)
        alpha = torch.rand(source.shape[0], generator=self.rng)
        gp = gradient_penalty(self.critic, real, fake, color, alpha=alpha)
        wasserstein = self.critic(real, color).mean() - self.critic(fake, color).mean()
        loss = -wasserstein + self.config.gp_weight * gp
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {"loss_d": loss.item(), "wasserstein": wasserstein.item(), "gradient_penalty": gp.item()}

    def generator_step(self, source: Tensor, real: Tensor) -> dict[str, float]:
        c = self.config
        color = real.mean((2, 3))
        noise = self.noise(source.shape[0])
        fake = self.generator(source, noise, color)
        self.critic.requires_grad_(False)  # only the generator is updated: skip the critic's weight gradients
        loss_adv = -self.critic(fake, color).mean()
        self.critic.requires_grad_(True)
        loss_color = color_distance(fake, color).mean()
        loss_recon = fake.new_zeros(())
        if c.recon_weight > 0:
            loss_recon = reconstruction_loss(self.generator, source, fake, noise)
        loss = loss_adv + c.color_weight * loss_color + c.recon_weight * loss_recon
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"loss_g": loss.item(), "loss_adv": loss_adv.item(), "loss_color": loss_color.item(),
                "loss_recon": loss_recon.item()}


def save_color_gan(generator: ColorGenerator, config: ColorGANConfig, path: str | os.PathLike, step: int) -> None:
    """Write ``generator.pt``: the generator's weights and config, the run's ``config`` and its ``step``."""
    save_network(generator, path, _FORMAT, model=generator.config(), config=dataclasses.asdict(config), step=step)


def train_color_gan(config: ColorGANConfig, dataset: PairDataset, out_dir: str | os.PathLike, *,
                    progress: bool = True) -> Path:
    """Train (or continue training) the colour GAN on ``dataset``'s crops in ``out_dir``.

    The folder holds ``checkpoint.pt``, ``losses.csv`` (one row per generator step)
    and, at the end, ``generator.pt`` (weights + config); a checkpoint there from
    the same run is resumed (:mod:`huenet.training.loop`).

    Args:
        config: the run's settings; ``config.crop_size`` must equal ``dataset.crop_size``.
        dataset: training pairs (``PairDataset`` in mode ``"train"``); sources are
            recoloured towards the mean colour of their targets, targets are the real samples.
        out_dir: the run's folder.
        progress: show a tqdm bar with running losses.

    Returns:
        The path of ``generator.pt``.

    Raises:
        GANDiverged: a loss became NaN or inf (the last good checkpoint is kept).
    """
    if dataset.mode != "train":
        raise ValueError(f"train_color_gan needs a PairDataset in mode 'train', got {dataset.mode!r}")
    if dataset.crop_size != config.crop_size:
        raise ValueError(f"dataset crops are {dataset.crop_size} px but config.crop_size is {config.crop_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = ColorGANRun(config)
    per_step = config.n_critic + 1  # batches a generator step consumes

    def rgb_batches(step: int) -> Iterator[tuple[Tensor, Tensor]]:
        for batch in dataset.batches(config.batch_size, step * per_step):
            yield (hsv_to_rgb(batch["source"]).clamp(0, 1).to(run.device),
                   hsv_to_rgb(batch["target"]).clamp(0, 1).to(run.device))

    train_resumably(run, run.train_step, rgb_batches, out, steps=config.steps,
                    checkpoint_every=config.checkpoint_every, config=dataclasses.asdict(config),
                    identity=run_identity(config, dataset, code="huenet.baselines.color_gan"),
                    columns=LOSS_COLUMNS, desc="colour GAN", progress=progress)
    path = out / "generator.pt"
    save_color_gan(run.generator, config, path, run.step)
    return path


# ------------------------------------------------------------------ inference


def load_color_gan(path: str | os.PathLike, device: str | torch.device = "cpu") -> ColorGenerator:
    """Rebuild a generator written by :func:`train_color_gan`, in eval mode.

    Raises:
        ValueError: the file is missing, unreadable or not a colour-GAN generator.
    """
    return load_network(path, _FORMAT, lambda blob: ColorGenerator(**blob["model"]), "colour-GAN generator", device)


@torch.no_grad()
def color_gan(source: Tensor, target_color: Tensor, *, model: ColorGenerator | str | os.PathLike,
              seed: int = 0) -> Tensor:
    """Recolour ``source`` towards ``target_color`` with a trained generator (any image size).

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1], ``H, W >= 3``.
        target_color: ``(B, 3)``, ``(1, 3)`` or ``(3,)`` RGB in [0, 1].
        model: a generator from :func:`load_color_gan`, or the path of its file.
        seed: seeds the noise vectors (one per image, uniform in [-1, 1]).

    Returns:
        ``(B, 3, H, W)`` RGB in [0, 1] with the source's dtype.
    """
    check_rgb(source, "source")
    if min(source.shape[-2:]) < 3:
        raise ValueError(f"source must be at least 3 x 3 (reflected 5 x 5 convolutions), got {tuple(source.shape[2:])}")
    generator = load_color_gan(model) if isinstance(model, (str, os.PathLike)) else model
    if not isinstance(generator, ColorGenerator):
        raise ValueError(f"model must be a ColorGenerator or a path, got {type(generator).__name__}")
    device = next(generator.parameters()).device
    b = source.shape[0]
    color = target_colors(target_color, b).to(device, torch.float32)
    noise = torch.rand(b, generator.noise_dim, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    was_training = generator.training
    generator.eval()
    try:
        out = generator(source.to(device, torch.float32).clamp(0, 1), noise.to(device), color)
    finally:
        generator.train(was_training)
    return out.clamp(0, 1).to(source.device, source.dtype)
