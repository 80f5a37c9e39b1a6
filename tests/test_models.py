import math

import pytest
import torch

from huenet.core.color import rgb_to_hsv
from huenet.nets.hue_net import (
    GANLoss,
    PatchDiscriminator,
    UNetGenerator,
    generator_input,
    hue_features,
    hue_from_vector,
    inference_generator,
    paint,
    painted_rgb,
)


@pytest.mark.parametrize("depth, size", [(3, 8), (4, 32), (5, 64)])
def test_generator_shapes_and_range(depth, size):
    g = UNetGenerator(width=4, depth=depth).eval()
    hue = g(torch.rand(2, 4, size, size))
    assert hue.shape == (2, 1, size, size)
    assert hue.min() >= 0 and hue.max() < 1


def test_generator_works_on_non_square_multiples():
    g = UNetGenerator(width=4, depth=3).eval()
    assert g(torch.rand(1, 4, 16, 40)).shape == (1, 1, 16, 40)


def test_generator_rejects_bad_sizes():
    g = UNetGenerator(width=4, depth=3)
    with pytest.raises(ValueError, match="multiples of 8"):
        g(torch.rand(1, 4, 12, 16))
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        g(torch.rand(1, 3, 16, 16))


def test_pix2pix_scale_has_pix2pix_parameter_count():
    """width 64, depth 8 at 256 px is pix2pix's unet_256 (54.4M parameters)."""
    g = UNetGenerator(width=64, depth=8)
    assert round(sum(p.numel() for p in g.parameters()) / 1e6, 1) == 54.4


def test_hue_input_wraps_around():
    """Hue 0 and hue 1 are the same red for both networks."""
    g = UNetGenerator(width=4, depth=3).eval()
    d = PatchDiscriminator(width=4).eval()
    x = torch.rand(1, 4, 32, 32)
    x0, x1 = x.clone(), x.clone()
    x0[:, [0, 3]] = 0.0
    x1[:, [0, 3]] = 1.0
    torch.testing.assert_close(g(x0), g(x1))
    torch.testing.assert_close(d(x0[:, 1:]), d(x1[:, 1:]))
    f = hue_features(torch.tensor([[[[0.0]], [[0.5]]]]), (0,))
    torch.testing.assert_close(f.flatten(), torch.tensor([1.0, 0.0, 0.5]), atol=1e-6, rtol=0)


def test_head_has_no_seam():
    """Rotating the head's vector once sweeps the hue once, with the same slope across h = 0."""
    angle = torch.linspace(-math.pi + 1e-3, math.pi - 1e-3, 101, dtype=torch.float64, requires_grad=True)
    vec = torch.stack((torch.cos(angle), torch.sin(angle))).view(1, 2, 1, 101)
    hue = hue_from_vector(vec).flatten()
    assert hue.min() >= 0 and hue.max() < 1
    (grad,) = torch.autograd.grad(hue.sum(), angle)
    torch.testing.assert_close(grad, torch.full_like(grad, 1 / (2 * math.pi)))
    # either side of red: the circular distance between neighbouring samples is small everywhere
    steps = torch.diff(hue.detach())
    assert torch.minimum(steps.abs(), 1 - steps.abs()).max() < 0.011


def test_generator_input_resizes_the_target_hue():
    src, tar = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 32, 24)
    x = generator_input(src, tar)
    assert x.shape == (2, 4, 16, 16)
    assert set(x[:, 3].unique().tolist()) <= set(tar[:, 0].unique().tolist())  # nearest: no invented hues


def test_patchgan_receptive_field_is_70():
    d = PatchDiscriminator(width=4, n_layers=3).eval()
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    out = d(x)
    (grad,) = torch.autograd.grad(out[0, 0, out.shape[2] // 2, out.shape[3] // 2], x)
    rows = grad.abs().sum((0, 1, 3)).nonzero()
    assert rows.max() - rows.min() + 1 == 70


def test_gan_loss_owns_its_targets():
    loss = GANLoss()
    logits = torch.tensor([[0.3, -1.2]])
    torch.testing.assert_close(loss(logits, True), -torch.log(torch.sigmoid(logits)).mean())
    torch.testing.assert_close(loss(logits, False), -torch.log(1 - torch.sigmoid(logits)).mean())


def test_paint_is_the_generator_on_the_source_and_target_hues():
    """At sides that are multiples of 2**depth nothing is padded: the generator's hue with the source's S and V,
    a batch at a time, each image as if alone."""
    g = inference_generator(UNetGenerator(width=4, depth=3))
    source, target = torch.rand(3, 3, 16, 24), torch.rand(3, 3, 20, 20)
    out = paint(g, source, target)
    source_hsv = rgb_to_hsv(source)
    with torch.no_grad():
        expected = painted_rgb(g(generator_input(source_hsv, rgb_to_hsv(target))), source_hsv)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(paint(g, source[1:2], target[1:2]), out[1:2])
    assert paint(g, source[..., :13, :21], target).shape == (3, 3, 13, 21)  # other sides: padded, cropped back
