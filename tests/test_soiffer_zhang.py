"""Soiffer & Zhang (2018) baselines: feature matching (3.1) and the colour-conditioned WGAN-GP (3.2)."""

import math
import socket

import pytest
import torch
from torch import nn

from huenet.baselines.color_gan import (
    ColorCritic,
    ColorGANConfig,
    ColorGenerator,
    color_distance,
    color_gan,
    gradient_penalty,
    load_color_gan,
    train_color_gan,
)
from huenet.baselines.feature_matching import (
    GoogLeNetFeatures,
    _load_cached,
    blur_loss,
    color_loss,
    color_variance,
    color_variance_loss,
    feature_loss,
    feature_matching,
    gaussian_downsample,
    load_feature_network,
    octave_features,
    octave_weights,
)
from huenet.core.color import mean_color, parse_color
from huenet.data.photos import sample_photo
from tests.helpers import synthetic_pairs

# ImageNet class names as torchvision lists them (tests/test_metrics.py checks the same classes by index).
_CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
_COFFEE = {"coffee mug", "espresso", "cup"}


def _block_network(mp: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError("network access is blocked in this test")

    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def one_thread():
    """Tiny images gain nothing from 2 threads, and on busy cores OpenMP's threads wait on each other (10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def net():
    """The default feature network, loaded with the network unreachable: the weights come from the package."""
    _load_cached.cache_clear()
    with pytest.MonkeyPatch.context() as mp:
        _block_network(mp)
        return load_feature_network()


# ------------------------------------------------------------------ colours


def test_parse_color():
    torch.testing.assert_close(parse_color("#ff8000"), torch.tensor([1.0, 128 / 255, 0.0]))
    torch.testing.assert_close(parse_color("AaBbCc"), torch.tensor([0xAA, 0xBB, 0xCC]) / 255.0)
    for bad in ("#fff", "#gg0000", "ff00001", ""):
        with pytest.raises(ValueError, match="6 hex digits"):
            parse_color(bad)


def test_mean_color_and_color_loss_by_hand():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # R mean 0.5
    x[0, 1] = 0.25
    x[0, 2, 0, 0] = 0.8  # B mean 0.2
    torch.testing.assert_close(mean_color(x), torch.tensor([[0.5, 0.25, 0.2]]))
    target = torch.tensor([0.1, 0.25, 0.5])
    # |C - C_T|^2 = 0.4^2 + 0 + 0.3^2
    torch.testing.assert_close(color_loss(x, target), torch.tensor([0.25]))
    torch.testing.assert_close(color_distance(x, target[None]), torch.tensor([0.5]))


def test_blur_loss_of_a_spike_by_hand():
    x = torch.zeros(1, 3, 3, 3)
    x[:, :, 1, 1] = 1.0
    # Replicated borders: every 3 x 3 window holds the spike once, so B(I) = 1/9 everywhere;
    # differences 1/9 at 8 pixels and 8/9 at the centre: mean square (8 + 64) / 81 / 9.
    torch.testing.assert_close(blur_loss(x), torch.tensor([math.sqrt(8) / 9]))
    assert blur_loss(torch.full((2, 3, 5, 4), 0.3)).abs().max() < 1e-7


def test_color_variance_by_hand():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0] = torch.tensor([[0.0, 0.0], [1.0, 1.0]])  # |I - C| = 0.5 everywhere: V = sqrt(0.5)^2
    x[0, 1] = 0.7  # constant: V = 0
    x[0, 2, 1, 1] = 0.4  # mean 0.1: deviations 0.1, 0.1, 0.1, 0.3
    v_blue = ((3 * math.sqrt(0.1) + math.sqrt(0.3)) / 4) ** 2
    torch.testing.assert_close(color_variance(x), torch.tensor([[0.5, 0.0, v_blue]]))
    target = torch.tensor([[0.4, 0.1, v_blue]])
    torch.testing.assert_close(color_variance_loss(x, target), torch.tensor([0.01 + 0.01]))
    # sqrt|x| at 0 (the constant channel) must not give an infinite gradient.
    y = x.clone().requires_grad_(True)
    color_variance_loss(y, target).sum().backward()
    assert torch.isfinite(y.grad).all()


# ------------------------------------------------------------------ octaves


def test_octave_weights_are_powers_of_0_9():
    assert octave_weights(4) == pytest.approx([1.0, 0.9, 0.81, 0.729], abs=1e-15)
    with pytest.raises(ValueError):
        octave_weights(0)


def test_gaussian_downsample_shapes_and_constants():
    x = torch.rand(2, 3, 256, 256)
    assert gaussian_downsample(x, 0) is x
    assert [gaussian_downsample(x, i).shape[-1] for i in (1, 2, 3)] == [128, 64, 32]
    odd = torch.rand(1, 3, 37, 50)
    assert [tuple(gaussian_downsample(odd, i).shape[-2:]) for i in (1, 2, 3)] == [(19, 25), (10, 13), (5, 7)]
    flat = torch.full((1, 3, 20, 20), 0.37)
    torch.testing.assert_close(gaussian_downsample(flat, 2), torch.full((1, 3, 5, 5), 0.37))
    # A blur: a checkerboard (the highest frequency) is removed far more than by plain decimation.
    checker = (torch.arange(16)[:, None] + torch.arange(16)).remainder(2).float().expand(1, 3, 16, 16)
    assert gaussian_downsample(checker, 1)[..., 2:-2, 2:-2].std() < 1e-6


def test_feature_loss_by_hand_with_an_identity_network():
    identity = lambda x: [x, 2 * x]  # noqa: E731  two "layers"
    i0 = torch.rand(2, 3, 40, 40) * 0.8
    delta = 0.1
    feats = octave_features(i0 + delta, identity, 4)
    ref = octave_features(i0, identity, 4)
    # D_i keeps a constant offset, so every layer of every octave differs by delta (2 delta).
    expected = delta**2 * (1 + 4) * (1 + 0.9 + 0.81 + 0.729)
    torch.testing.assert_close(feature_loss(feats, ref), torch.full((2,), expected))
    # The octaves are D_i of the image, computed independently here.
    x = torch.rand(1, 3, 40, 40)
    direct = sum(0.9**i * (gaussian_downsample(x, i) - gaussian_downsample(i0[:1], i)).square().mean()
                 for i in range(3))
    got = feature_loss(octave_features(x, lambda t: [t], 3), octave_features(i0[:1], lambda t: [t], 3))
    torch.testing.assert_close(got, direct.view(1))


# ------------------------------------------------------------------ networks


def test_feature_network_loads_offline_and_classifies(net):
    from torchvision.models import ResNet18_Weights

    names = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]  # ships inside torchvision
    x = torch.cat((sample_photo("chelsea", 224), sample_photo("coffee", 224))).float()
    with torch.no_grad():
        top1 = [names[i] for i in net.logits(x).argmax(1).tolist()]
    assert top1[0] in _CATS and top1[1] in _COFFEE, top1
    feats = net(x[:1, :, :64, :64])  # default layers: blocks 3 and 4, stride 8, 40 channels
    assert [tuple(f.shape) for f in feats] == [(1, 40, 8, 8), (1, 40, 8, 8)]
    assert not any(p.requires_grad for p in net.parameters())


def test_folded_network_equals_the_metrics_network(net):
    from huenet.nets.efficientnet_lite0 import load_pretrained

    ref_net = load_pretrained()
    x = torch.rand(2, 3, 50, 61)
    with torch.no_grad():
        y = nn.functional.relu6(ref_net._bn0(ref_net._conv_stem((x * 255 - 127) / 128)))
        for block in ref_net._blocks[:5]:
            y = block(y)
        ours = net(x)[-1]
    torch.testing.assert_close(ours, y, rtol=1e-4, atol=1e-3)


def test_googlenet_without_internet_is_a_clear_error(tmp_path, monkeypatch):
    _load_cached.cache_clear()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: nothing to load
    _block_network(monkeypatch)
    with pytest.raises(RuntimeError, match="need internet"):
        load_feature_network("googlenet")
    _load_cached.cache_clear()


def test_googlenet_layers_with_random_weights():
    from torchvision.models import googlenet

    body = googlenet(weights=None, aux_logits=False, init_weights=False)
    gnet = GoogLeNetFeatures(body, ("inception3b", "inception3a"))  # returned in network order
    with torch.no_grad():
        feats = gnet(torch.rand(1, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(1, 256, 8, 8), (1, 480, 8, 8)]
    with pytest.raises(ValueError, match="googlenet layers"):
        GoogLeNetFeatures(body, ("mixed3a",))


def test_load_feature_network_rejects_bad_arguments():
    with pytest.raises(ValueError, match="network must be"):
        load_feature_network("vgg16")
    with pytest.raises(ValueError, match="block indices"):
        load_feature_network("efficientnet-lite0", ("inception3a",))
    with pytest.raises(ValueError, match="block indices"):
        load_feature_network("efficientnet-lite0", (16,))


# ------------------------------------------------------------------ optimisation


@pytest.mark.parametrize("parametrization", ["clip", "logit"])
def test_a_few_steps_reduce_the_color_loss(net, one_thread, parametrization):
    src = sample_photo("chelsea", 48)  # float64: the output keeps the dtype
    target = torch.tensor([[0.3, 0.4, 0.7]])
    history: list[dict[str, float]] = []
    lr = 0.05 if parametrization == "clip" else 0.3
    out = feature_matching(src, target, steps=6, lr=lr, parametrization=parametrization, history=history)
    assert out.shape == src.shape and out.dtype == src.dtype
    assert 0 <= out.min() and out.max() <= 1
    assert len(history) == 6 and history[0]["feature"] < 1e-6  # starts at the source
    assert history[-1]["color"] < history[0]["color"]
    assert color_loss(out, target) < 0.7 * color_loss(src, target)


def test_color_variance_term_and_batch_of_colours(net, one_thread):
    src = torch.cat((sample_photo("coffee", 32), sample_photo("rocket", 32)))
    targets = torch.stack((parse_color("#808080"), parse_color("#c04020")))
    history: list[dict[str, float]] = []
    out = feature_matching(src, targets, steps=2, match_variance=True, variance_scale=1.5, history=history)
    assert out.shape == src.shape and set(history[0]) == {"color", "feature", "blur", "variance"}
    assert history[0]["variance"] > 0  # the target is 1.5 V(I_0), not V(I_0)


def test_feature_matching_rejects_bad_inputs():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="target_color must have shape"):
        feature_matching(x, torch.rand(3, 3), steps=0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        feature_matching(x, torch.tensor([0.2, 1.5, 0.0]), steps=0)
    with pytest.raises(ValueError, match="parametrization='logit'"):
        feature_matching(x, torch.rand(3), steps=1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="unknown loss weights"):
        feature_matching(x, torch.rand(3), steps=1, weights={"colour": 1.0})
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        feature_matching(torch.rand(3, 16, 16), torch.rand(3), steps=1)


# ------------------------------------------------------------------ GAN


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = <w, x> + b has gradient w everywhere: the penalty is (|w| - 1)^2 whatever the interpolate.
    w = torch.randn(3 * 8 * 8)
    w = 3.0 * w / w.norm()
    critic = lambda x, c: (x.flatten(1) * w).sum(1) + c.sum(1)  # noqa: E731
    real, fake, color = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8), torch.rand(4, 3)
    gp = gradient_penalty(critic, real, fake, color, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gp, torch.tensor(4.0))


def test_gradient_penalty_equals_autograd_on_the_interpolates():
    real, fake, color = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8), torch.rand(3, 3)
    alpha = torch.tensor([0.0, 0.3, 1.0])
    # D(x) = |x|^2 / 2 has gradient x: the penalty is mean (|x_hat| - 1)^2, known in closed form.
    quadratic = lambda x, c: 0.5 * x.flatten(1).square().sum(1)  # noqa: E731
    x_hat = alpha.view(3, 1, 1, 1) * real + (1 - alpha.view(3, 1, 1, 1)) * fake
    expected = (x_hat.flatten(1).norm(dim=1) - 1).square().mean()
    torch.testing.assert_close(gradient_penalty(quadratic, real, fake, color, alpha=alpha), expected)
    # A real critic: compare with torch.autograd.grad computed here, and check it trains the critic.
    torch.manual_seed(0)
    critic = ColorCritic(8, (4, 4), (8,))
    xh = x_hat.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(critic(xh, color).sum(), xh)
    expected = (g.flatten(1).norm(dim=1) - 1).square().mean()
    gp = gradient_penalty(critic, real, fake, color, alpha=alpha)
    torch.testing.assert_close(gp, expected)
    gp.backward()  # double backpropagation reaches the weights (not the last bias: it does not change grad_x D)
    weights = [p for name, p in critic.named_parameters() if name.endswith("weight")]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights)


def test_generator_starts_as_the_identity_at_any_size():
    torch.manual_seed(0)
    gen = ColorGenerator(noise_dim=5, width=8, layers=4)
    x = torch.rand(2, 3, 20, 27)
    out = gen(x, torch.rand(2, 5), torch.rand(2, 3))
    assert out.shape == x.shape
    torch.testing.assert_close(out, x.clamp(1 / 512, 1 - 1 / 512), atol=1e-6, rtol=0)
    plain = ColorGenerator(noise_dim=5, width=8, layers=4, residual=False)
    assert 0 < plain(x, torch.rand(2, 5), torch.rand(2, 3)).min()


def _tiny_config(**kw) -> ColorGANConfig:
    base = dict(noise_dim=3, gen_width=4, gen_layers=2, critic_widths=(4, 4), critic_fc=(8,), crop_size=16,
                batch_size=4, steps=2, n_critic=2, lr=1e-3, recon_weight=1.0, seed=3)
    return ColorGANConfig(**(base | kw))


def test_a_few_gan_steps_train_save_and_apply(tmp_path, one_thread):
    data = synthetic_pairs(crop_size=16)
    path = train_color_gan(_tiny_config(), data, tmp_path / "a", progress=False)
    assert path.name == "generator.pt"
    # no temp files left
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt", "generator.pt", "losses.csv"]
    rows = (path.parent / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss_d,wasserstein,gradient_penalty") and len(rows) == 3
    gen = load_color_gan(path)
    x = torch.rand(2, 3, 21, 30, dtype=torch.float64)
    out = color_gan(x, torch.tensor([0.2, 0.5, 0.8]), model=gen, seed=1)
    assert out.shape == x.shape and out.dtype == x.dtype and 0 <= out.min() and out.max() <= 1
    torch.testing.assert_close(color_gan(x, torch.tensor([0.2, 0.5, 0.8]), model=path, seed=1), out)
    # Seeded: the same run gives the same weights.
    again_path = train_color_gan(_tiny_config(), synthetic_pairs(crop_size=16), tmp_path / "b", progress=False)
    again = load_color_gan(again_path)
    for a, b in zip(gen.state_dict().values(), again.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gan_run_continues_from_its_checkpoint_to_the_same_weights(tmp_path, one_thread):
    train_color_gan(_tiny_config(steps=2, checkpoint_every=1), synthetic_pairs(crop_size=16), tmp_path / "a",
                    progress=False)
    resumed = train_color_gan(_tiny_config(steps=4), synthetic_pairs(crop_size=16), tmp_path / "a", progress=False)
    straight = train_color_gan(_tiny_config(steps=4), synthetic_pairs(crop_size=16), tmp_path / "b", progress=False)
    for a, b in zip(load_color_gan(resumed).state_dict().values(), load_color_gan(straight).state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    steps = [int(r.split(",")[0]) for r in (tmp_path / "a" / "losses.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4]
    # A checkpoint of another run (here: another learning rate) is not resumed.
    other = train_color_gan(_tiny_config(steps=4, lr=2e-3), synthetic_pairs(crop_size=16), tmp_path / "a",
                            progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(load_color_gan(other).state_dict().values(),
                                                     load_color_gan(straight).state_dict().values()))


def test_gan_rejects_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="crop_size"):
        train_color_gan(_tiny_config(crop_size=32), synthetic_pairs(crop_size=16), tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown colour-GAN parameters"):
        ColorGANConfig.from_dict({"steps": 1, "learning_rate": 1e-3})
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(ValueError, match="not a huenet colour-GAN"):
        load_color_gan(bad)
    with pytest.raises(ValueError, match="not found"):
        load_color_gan(tmp_path / "missing.pt")
