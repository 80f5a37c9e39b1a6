"""The Hue-Net generator (U-Net) and discriminator (PatchGAN), paper section 2.3.

Builders follow pix2pix (Isola et al.; junyanz/pytorch-CycleGAN-and-pix2pix):
4x4 stride-2 convolutions with BatchNorm and LeakyReLU(0.2) down, transposed
convolutions with BatchNorm and ReLU up, dropout on the inner decoder blocks,
and a 70x70 PatchGAN.

Hue is an angle, so wherever a hue channel enters a network it is fed as
``(cos 2 pi h, sin 2 pi h)``: red at h = 0.01 and red at h = 0.99 are then
neighbours, as they are on the colour wheel. The generator's head predicts a
2D vector and returns its angle, ``atan2(y, x) / 2 pi mod 1``: every hue is
reachable without a seam that a sigmoid head would put at red, and the
gradient is the same on both sides of h = 0.

Inference is :func:`paint`, the one function that the transfer API, Table 1's evaluation and the
training notebook's held-out scoring run: RGB in, RGB out, any size, a batch at a time.

A trained generator is kept as one file (:func:`save_network`,
:func:`load_network`): its weights on the CPU, what rebuilds the network and
a record of the run, tagged with a format name, and the SHA-256 of all of it,
which loading checks (torch's reader does not check its archive's CRCs, so a
flipped byte in the weights would load). The same weights and record always
give the same bytes. Hue-Net's generator, the colour GAN's
(``huenet.baselines.color_gan``) and the weights the package ships use it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor, nn

from huenet.core.color import hsv_to_rgb, rgb_to_hsv
from huenet.files import atomic_write_binary

__all__ = ["UNetGenerator", "PatchDiscriminator", "GANLoss", "hue_features", "hue_from_vector", "generator_input",
           "painted_rgb", "reflect_pad", "inference_generator", "paint", "weights_digest", "save_network",
           "load_network", "save_generator", "load_generator"]

GENERATOR_FORMAT = "huenet-generator-1"
Net = TypeVar("Net", bound=nn.Module)


def hue_features(hsv_like: Tensor, hue_channels: tuple[int, ...]) -> Tensor:
    """Replace each hue channel ``h`` by ``(cos 2 pi h, sin 2 pi h)``.

    ``(B, C, H, W)`` -> ``(B, C + len(hue_channels), H, W)``.
    """
    parts = []
    for c, channel in enumerate(hsv_like.unbind(1)):
        if c in hue_channels:
            angle = 2 * math.pi * channel
            parts += [torch.cos(angle), torch.sin(angle)]
        else:
            parts.append(channel)
    return torch.stack(parts, 1)


def hue_from_vector(vec: Tensor) -> Tensor:
    """The angle of a 2D vector as a hue: ``(B, 2, H, W)`` -> ``(B, 1, H, W)`` in [0, 1)."""
    return torch.remainder(torch.atan2(vec[:, 1:], vec[:, :1]) / (2 * math.pi), 1.0)


def generator_input(source_hsv: Tensor, target_hsv: Tensor) -> Tensor:
    """The generator's 4 channels: source H, S, V and the target's hue at the source's size.

    Args:
        source_hsv: ``(B, 3, H, W)``.
        target_hsv: ``(B, 3, H', W')``; resized with nearest neighbours, which
            (unlike bilinear) never invents hues between two far-apart ones.

    Returns:
        ``(B, 4, H, W)``.
    """
    target_hue = target_hsv[:, :1]
    if target_hue.shape[-2:] != source_hsv.shape[-2:]:
        target_hue = nn.functional.interpolate(target_hue, size=source_hsv.shape[-2:], mode="nearest")
    return torch.cat((source_hsv, target_hue), 1)


def painted_rgb(hue: Tensor, source_hsv: Tensor) -> Tensor:
    """The output image: the new hue with the source's saturation and value, ``(B, 3, H, W)`` RGB."""
    return hsv_to_rgb(torch.cat((hue, source_hsv[:, 1:]), 1))


class _UNetBlock(nn.Module):
    """One level of the U-Net: down, the inner levels, up, and the skip connection."""

    def __init__(self, outer: int, inner: int, *, sub: nn.Module | None, in_channels: int | None = None,
                 out_channels: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        outermost = in_channels is not None
        innermost = sub is None
        in_channels = in_channels or outer
        down = [nn.Conv2d(in_channels, inner, 4, 2, 1, bias=False)]
        if not outermost:
            down.insert(0, nn.LeakyReLU(0.2, True))
            if not innermost:
                down.append(nn.BatchNorm2d(inner))
        up_in = inner if innermost else 2 * inner
        if outermost:
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, out_channels, 4, 2, 1)]
        else:
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
            if dropout:
                up.append(nn.Dropout(dropout))
        self.outermost = outermost
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x: Tensor) -> Tensor:
        y = self.model(x)
        return y if self.outermost else torch.cat((x, y), 1)


class UNetGenerator(nn.Module):
    """U-Net that paints a hue channel.

    Input ``(B, 4, H, W)`` in [0, 1]: source H, S, V and the target's hue (see
    :func:`generator_input`); H and W multiples of ``2 ** depth``. Output
    ``(B, 1, H, W)`` hue in [0, 1).

    Args:
        width: channels of the first level (pix2pix: 64); levels double it up
            to ``8 * width``.
        depth: number of stride-2 levels (pix2pix at 256 px: 8, down to 1x1).
        dropout: on the decoder blocks of the 3 levels just above the innermost,
            as in pix2pix.
    """

    def __init__(self, width: int = 64, depth: int = 8, dropout: float = 0.5) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        self.width, self.depth, self.dropout = width, depth, dropout
        channels = [min(width * 2**i, width * 8) for i in range(depth)]
        block = None
        for level in reversed(range(1, depth)):
            drop = dropout if block is not None and level >= depth - 4 else 0.0
            block = _UNetBlock(channels[level - 1], channels[level], sub=block, dropout=drop)
        self.model = _UNetBlock(channels[0], channels[0], sub=block, in_channels=6, out_channels=2)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.depth

    def config(self) -> dict:
        """What :meth:`from_config` needs to rebuild this network."""
        return {"width": self.width, "depth": self.depth, "dropout": self.dropout}

    @classmethod
    def from_config(cls, config: dict) -> UNetGenerator:
        return cls(**config)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 4:
            raise ValueError(f"generator input must be (B, 4, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise ValueError(f"generator input sides must be multiples of {self.multiple}, got {tuple(x.shape[-2:])}")
        return hue_from_vector(self.model(hue_features(x, (0, 3))))


class PatchDiscriminator(nn.Module):
    """PatchGAN on ``(S_src, V_src, hue)``: ``(B, 3, H, W)`` -> ``(B, 1, H', W')`` logits.

    With ``n_layers=3`` each logit sees a 70x70 patch (pix2pix's default).
    """

    def __init__(self, width: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(4, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(width * prev, width * mult, 4, stride, 1, bias=False),
                       nn.BatchNorm2d(width * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(width * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, svh: Tensor) -> Tensor:
        if svh.ndim != 4 or svh.shape[1] != 3:
            raise ValueError(f"discriminator input must be (B, 3, H, W) = (S, V, hue), got {tuple(svh.shape)}")
        return self.model(hue_features(svh, (2,)))


class GANLoss(nn.Module):
    """Non-saturating GAN loss on logits; owns its real/fake targets."""

    def __init__(self, real_label: float = 1.0, fake_label: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("real_label", torch.tensor(real_label))
        self.register_buffer("fake_label", torch.tensor(fake_label))
        self.loss = nn.BCEWithLogitsLoss()

    def forward(self, logits: Tensor, target_is_real: bool) -> Tensor:
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(logits, target.expand_as(logits))


# ------------------------------------------------------------------ inference


def reflect_pad(x: Tensor, multiple: int) -> tuple[Tensor, tuple[slice, slice]]:
    """Pad ``x`` (reflect, split evenly between the sides) to sides that are multiples of ``multiple``;
    also return the slices that crop the padding off again. Sides that are multiples already: ``x`` itself."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    pads = [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]  # F.pad order: left, right, top, bottom
    crop = (slice(pads[2], pads[2] + height), slice(pads[0], pads[0] + width))
    while any(pads):
        # reflect mirrors at most side - 1 pixels, so a small image grows in rounds
        limits = [x.shape[-1] - 1] * 2 + [x.shape[-2] - 1] * 2
        step = [min(p, limit) for p, limit in zip(pads, limits)]
        x = nn.functional.pad(x, step, mode="reflect")
        pads = [p - s for p, s in zip(pads, step)]
    return x, crop


def inference_generator(generator: UNetGenerator) -> UNetGenerator:
    """``generator`` in eval mode with channels-last weights: about 1.5x faster on CPU (oneDNN's
    transposed convolutions take the channels-last path), same output to float rounding."""
    return generator.eval().to(memory_format=torch.channels_last)


@torch.no_grad()
def paint(generator: UNetGenerator, source: Tensor, target: Tensor) -> Tensor:
    """Hue-Net's output: the generator's hue for ``source`` with ``target``'s colours, the source's S and V.

    The photo is processed at its own size: the generator's input is reflect-padded to a multiple of
    ``generator.multiple`` and its hue cropped back (nothing is padded when the sides are multiples
    already), in channels-last memory (:func:`inference_generator`'s layout).

    Args:
        generator: a generator in eval mode, e.g. ``inference_generator(load_generator(path))``.
        source: ``(B, 3, H, W)`` RGB in [0, 1].
        target: ``(B, 3, H', W')`` RGB in [0, 1], any size (its hue is resized to the source's).

    Returns:
        ``(B, 3, H, W)`` RGB.
    """
    source_hsv = rgb_to_hsv(source)
    padded, (rows, cols) = reflect_pad(generator_input(source_hsv, rgb_to_hsv(target)), generator.multiple)
    hue = generator(padded.contiguous(memory_format=torch.channels_last))
    return painted_rgb(hue[..., rows, cols], source_hsv)


# ------------------------------------------------------------------ files


def _tensors_sha256(tensors: Mapping[str, Tensor]) -> str:
    """SHA-256 of named tensors: each one's name, dtype, shape and bytes, in the order of the names."""
    digest = hashlib.sha256()
    for name, tensor in sorted(tensors.items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode() + tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


def weights_digest(network: nn.Module, dtype: torch.dtype = torch.float16) -> str:
    """SHA-256 (16 hex digits) of a network's weights with its floating tensors cast to ``dtype``.

    The training stage records the float16 digest of the model it trained, so a float16 copy shipped with
    the package can be checked to be that model.

    >>> net = nn.Linear(2, 1)
    >>> weights_digest(net) == weights_digest(net.half())
    True
    """
    tensors = {name: value.detach().cpu() for name, value in network.state_dict().items()}
    return _tensors_sha256({name: t.to(dtype) if t.is_floating_point() else t for name, t in tensors.items()})[:16]


def _file_sha256(blob: Mapping[str, object]) -> str:
    """The digest a network file carries: of its weights and of its other entries (plain types, as JSON)."""
    entries = {key: value for key, value in blob.items() if key not in ("state_dict", "sha256")}
    text = json.dumps(entries, sort_keys=True)
    return hashlib.sha256(f"{text}\n{_tensors_sha256(blob['state_dict'])}".encode()).hexdigest()


def save_network(network: nn.Module, path: str | os.PathLike, file_format: str, **entries: object) -> None:
    """Write ``{"format": file_format, **entries, "state_dict": weights on the CPU, "sha256": their digest}``
    atomically; the same weights and entries give the same bytes.

    ``entries`` hold what rebuilds the network (its config) and any record of
    the run (step, training config); all must be what ``torch.load(...,
    weights_only=True)`` reads back and JSON can write (plain types).

    Raises:
        OSError: the file could not be written (a full disk...), naming ``path``; nothing is left at ``path``
            but the file that was there before.
    """
    state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
    blob = {"format": file_format, **entries, "state_dict": state}
    blob["sha256"] = _file_sha256(blob)
    atomic_write_binary(path, lambda f: torch.save(blob, f))


def load_network(path: str | os.PathLike, file_format: str, build: Callable[[dict], Net], what: str,
                 device: str | torch.device = "cpu") -> Net:
    """Rebuild a network written by :func:`save_network`, in eval mode, after checking its digest.

    A file written before files carried a digest loads unchecked.

    Args:
        path: the file.
        file_format: the format name it must carry.
        build: the file's entries -> the network to load the weights into.
        what: the kind of file, for the error messages (e.g. ``"generator"``).
        device: where to put the network.

    Raises:
        ValueError: the file is missing, unreadable, damaged (its digest differs), of another format or does
            not fit ``build``'s network.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise ValueError(f"cannot read {what} file {path}: {type(err).__name__}") from None
    if not isinstance(blob, dict) or blob.get("format") != file_format:
        raise ValueError(f"{path} is not a huenet {what} file")
    try:
        intact = "sha256" not in blob or blob["sha256"] == _file_sha256(blob)
    except (TypeError, KeyError, AttributeError):  # a damaged entry that JSON or the tensors' digest cannot take
        intact = False
    if not intact:
        raise ValueError(f"{what} file {path} is damaged: its contents do not match the digest saved with them "
                         "(restore the file or retrain it)")
    try:
        network = build(blob)
        network.load_state_dict(blob["state_dict"])
    except (TypeError, KeyError, RuntimeError) as err:
        reason = str(err).splitlines()[0]
        raise ValueError(f"{path} does not match this version of huenet's {what}: {reason}") from None
    return network.to(device).eval()


def save_generator(generator: UNetGenerator, path: str | os.PathLike, **record: object) -> None:
    """Write Hue-Net's ``generator.pt``: weights, the config that rebuilds the network, and ``record``."""
    save_network(generator, path, GENERATOR_FORMAT, config=generator.config(), **record)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> UNetGenerator:
    """Rebuild a generator written by :func:`save_generator`, in eval mode.

    Raises:
        ValueError: the file is missing, unreadable or not a huenet generator.
    """
    return load_network(path, GENERATOR_FORMAT, lambda blob: UNetGenerator.from_config(blob["config"]), "generator",
                        device)
