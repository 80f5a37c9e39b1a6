import socket

import numpy as np
import ot
import pytest
import torch
from PIL import Image
from scipy import linalg
from scipy.stats import entropy, wasserstein_distance
from skimage.metrics import structural_similarity
from sklearn.metrics import mutual_info_score
from torchvision.transforms.functional import gaussian_blur

from huenet.data.photos import sample_photo
from huenet.eval.metrics import (
    HUE_LEVELS,
    bootstrap_ci,
    frechet_distance,
    grey_levels,
    grey_ssim,
    hue_8bit,
    hue_emd,
    hue_histogram,
    hue_joint_histogram,
    hue_relative_mi,
    image_bootstrap_ci,
    quantize_8bit,
    realism_fd,
    seed_bootstrap_ci,
    ssim,
)
from huenet.nets.efficientnet_lite0 import FeatureExtractor


@pytest.fixture(scope="module")
def photos() -> dict[str, torch.Tensor]:
    return {name: sample_photo(name, 64) for name in ("astronaut", "coffee", "chelsea", "rocket")}


def _pil_hsv(rgb8: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> PIL's ``(H, W, 3)`` uint8 HSV."""
    return np.asarray(Image.fromarray(rgb8, "RGB").convert("HSV"))


def _as_image(rgb8: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float64 in [0, 1]."""
    return torch.from_numpy(rgb8.astype(np.float64) / 255).permute(2, 0, 1)[None]


# ------------------------------------------------------------------ 8-bit hue


def _hard_colours() -> np.ndarray:
    """Random colours plus every colour with a tie or a saturated channel: the sector edges."""
    rng = np.random.default_rng(0)
    u, v = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    u, v = u.ravel(), v.ravel()
    full, zero = np.full_like(u, 255), np.zeros_like(u)
    ties = [(u, u, v), (u, v, u), (v, u, u)]
    edges = [plane for c in (full, zero) for plane in ((c, u, v), (u, c, v), (u, v, c))]
    rows = [np.stack(p, -1) for p in ties + edges] + [rng.integers(0, 256, (2**18, 3))]
    return np.concatenate(rows).astype(np.uint8).reshape(-1, 512, 3)


def test_hue_8bit_equals_pil_on_hard_colours():
    rgb8 = _hard_colours()
    ours = hue_8bit(_as_image(rgb8))[0].numpy()
    ref = _pil_hsv(rgb8)[..., 0]
    np.testing.assert_array_equal(ours, ref)
    assert ref.max() == HUE_LEVELS - 1  # the byte never reaches 255: 255 levels on the circle


def test_hue_8bit_quantises_float_images_by_rounding():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 40, 50, generator=g, dtype=torch.float64)
    ours = hue_8bit(x).numpy()
    for i in range(2):
        rgb8 = np.round(x[i].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        np.testing.assert_array_equal(ours[i], _pil_hsv(rgb8)[..., 0])
    assert quantize_8bit(x).dtype == torch.uint8


def test_hue_histogram_binning(photos):
    x = photos["coffee"]
    codes = hue_8bit(x).flatten().numpy()
    h255 = hue_histogram(x, 255)[0].numpy()
    np.testing.assert_allclose(h255, np.bincount(codes, minlength=255) / codes.size)
    # 85 = 255 / 3: each bin is exactly three consecutive codes.
    np.testing.assert_allclose(hue_histogram(x, 85)[0].numpy(), h255.reshape(85, 3).sum(1), atol=1e-15)
    h32 = hue_histogram(x, 32)[0]
    assert h32.shape == (32,) and abs(h32.sum().item() - 1) < 1e-12


# ------------------------------------------------------------------ EMD


@pytest.mark.parametrize(("a", "b"), [("astronaut", "coffee"), ("chelsea", "rocket"), ("coffee", "chelsea")])
def test_hue_emd_equals_pot_on_the_hue_samples(photos, a, b):
    x, y = photos[a], sample_photo(b, 48)  # different sizes are fine
    # Each pixel is a sample at the centre of its code's interval on the circle.
    sx = (hue_8bit(x).flatten().numpy() + 0.5) / HUE_LEVELS
    sy = (hue_8bit(y).flatten().numpy() + 0.5) / HUE_LEVELS
    ref = ot.wasserstein_circle(sx, sy, p=1)[0]
    np.testing.assert_allclose(hue_emd(x, y), [ref], atol=1e-9)


@pytest.mark.parametrize(("a", "b"), [("astronaut", "coffee"), ("chelsea", "rocket")])
def test_non_cyclic_hue_emd_equals_scipy_on_the_hue_samples(photos, a, b):
    x, y = photos[a], sample_photo(b, 48)
    sx = (hue_8bit(x).flatten().numpy() + 0.5) / HUE_LEVELS
    sy = (hue_8bit(y).flatten().numpy() + 0.5) / HUE_LEVELS
    np.testing.assert_allclose(hue_emd(x, y, cyclic=False), [wasserstein_distance(sx, sy)], atol=1e-9)
    assert hue_emd(x, y, cyclic=False)[0] >= hue_emd(x, y)[0] - 1e-12


def test_hue_emd_known_values_and_symmetry(photos):
    # Pure colours: hue codes 0 (red) and 85 (green, hue 1/3).
    red = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    red[:, 0] = 1
    green = red.roll(1, 1)
    np.testing.assert_allclose(hue_emd(red, green), [85 / 255], atol=1e-12)
    a, b = photos["astronaut"], photos["rocket"]
    np.testing.assert_allclose(hue_emd(a, b), hue_emd(b, a), atol=1e-12)
    np.testing.assert_allclose(hue_emd(a, a), [0.0], atol=1e-15)
    batch = hue_emd(torch.cat((a, b)), torch.cat((b, b)))
    assert batch.shape == (2,) and batch.dtype == np.float64 and batch[1] == 0 and batch[0] > 0.01


# ------------------------------------------------------------------ MI


@pytest.mark.parametrize("bins", [8, 32, 255])
def test_hue_relative_mi_equals_sklearn_oracle(photos, bins):
    a, b = photos["astronaut"], photos["coffee"]
    la = np.floor((hue_8bit(a).flatten().numpy() + 0.5) * bins / 255).astype(int)
    lb = np.floor((hue_8bit(b).flatten().numpy() + 0.5) * bins / 255).astype(int)
    mi = mutual_info_score(la, lb)  # nats
    _, counts = np.unique(la * bins + lb, return_counts=True)
    np.testing.assert_allclose(hue_relative_mi(a, b, bins), [mi / entropy(counts)], atol=1e-12)


def test_hue_relative_mi_extremes(photos):
    a = photos["chelsea"]
    np.testing.assert_allclose(hue_relative_mi(a, a), [1.0], atol=1e-12)
    # Same hues, pixels shuffled: independent, and 32 bins keep the plug-in bias small.
    big = sample_photo("astronaut", 128)
    perm = torch.randperm(128 * 128, generator=torch.Generator().manual_seed(0))
    shuffled = big.flatten(2)[..., perm].view_as(big)
    assert hue_relative_mi(big, shuffled)[0] < 0.01
    assert hue_relative_mi(big, shuffled, bins=255)[0] > 0.03  # the bias 32 bins avoid
    joint = hue_joint_histogram(big, shuffled)
    assert joint.shape == (1, 32, 32) and abs(joint.sum().item() - 1) < 1e-12


# ------------------------------------------------------------------ SSIM


def test_grey_levels_match_pil_luma(photos):
    x = photos["rocket"]
    rgb8 = quantize_8bit(x)[0].permute(1, 2, 0).numpy()
    pil = np.asarray(Image.fromarray(rgb8).convert("L")).astype(np.float64)
    ours = grey_levels(x)[0, 0].numpy() * 255
    assert np.abs(ours - pil).max() <= 0.5 + 1e-6  # PIL rounds the same 601 weights to integers


@pytest.mark.parametrize("seed", range(3))
def test_ssim_equals_skimage(photos, seed):
    g = torch.Generator().manual_seed(seed)
    x = grey_levels(photos["astronaut"])
    y = (x + 0.1 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ref = structural_similarity(x[0, 0].numpy(), y[0, 0].numpy(), data_range=1.0)
    np.testing.assert_allclose(ssim(x, y).numpy(), [ref], atol=1e-10)
    z = torch.rand(1, 1, 23, 31, generator=g, dtype=torch.float64)
    w = torch.rand(1, 1, 23, 31, generator=g, dtype=torch.float64)
    ref = structural_similarity(z[0, 0].numpy(), w[0, 0].numpy(), data_range=1.0)
    np.testing.assert_allclose(ssim(z, w).numpy(), [ref], atol=1e-10)


def test_grey_ssim_sees_structure_not_hue(photos):
    x = torch.cat((photos["coffee"], photos["chelsea"]))
    np.testing.assert_allclose(grey_ssim(x, x), [1.0, 1.0], atol=1e-12)
    swapped = x[:, [1, 2, 0]]  # a hue rotation, which changes the grey levels a little
    g = torch.Generator().manual_seed(0)
    noisy = (x + 0.15 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert (grey_ssim(x, noisy) < 0.7).all()
    assert (grey_ssim(x, swapped) > grey_ssim(x, noisy)).all()


# ------------------------------------------------------------------ realism

# ImageNet class indices (torchvision's category list is checked below):
_DOMESTIC_CAT = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
_COFFEE = (504, 967, 968)  # coffee mug, espresso, cup


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    """Loaded once per module, with the network unreachable: the weights must come from the package."""

    def refuse(*args, **kwargs):
        raise AssertionError("the feature extractor tried to open a network connection")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        return FeatureExtractor(batch_size=8)


def test_class_indices_are_the_right_imagenet_classes():
    from torchvision.models import ResNet18_Weights

    names = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]  # ships inside torchvision
    assert [names[i] for i in _DOMESTIC_CAT] == ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"]
    assert [names[i] for i in _COFFEE] == ["coffee mug", "espresso", "cup"]


def test_efficientnet_classifies_sample_photos(extractor):
    x = torch.cat((sample_photo("chelsea", 224), sample_photo("coffee", 224)))
    top5 = np.argsort(-extractor.logits(x), axis=1)[:, :5]
    assert set(top5[0]) & set(_DOMESTIC_CAT), top5[0]
    assert set(top5[1]) & set(_COFFEE), top5[1]
    # The top-1 class is not a cat class for the coffee photo and vice versa.
    assert top5[0, 0] in _DOMESTIC_CAT and top5[1, 0] in _COFFEE


@pytest.mark.slow
def test_features_shape_and_batching(extractor, photos):
    x = torch.cat(list(photos.values()))  # 64 px, resized to 224 inside
    feats = extractor(x)
    assert feats.shape == (4, 1280) and feats.dtype == np.float64
    assert (feats >= 0).all() and (feats <= 6).all()  # pooled ReLU6 activations
    extractor.batch_size = 3  # batches of 3 + 1 give the same features
    try:
        np.testing.assert_allclose(extractor(x), feats, rtol=1e-4, atol=1e-5)
    finally:
        extractor.batch_size = 8
    np.testing.assert_allclose(extractor(x[3:]), feats[3:], rtol=1e-4, atol=1e-5)


def test_channels_last_features_equal_contiguous_ones(extractor, photos):
    # The FD runs channels-last for speed; it must be the same function as the contiguous network.
    contiguous = FeatureExtractor(batch_size=8, channels_last=False)
    x = torch.cat((photos["chelsea"], photos["rocket"]))
    assert extractor.preprocess(x).is_contiguous(memory_format=torch.channels_last)
    assert contiguous.preprocess(x).is_contiguous()
    np.testing.assert_allclose(extractor(x), contiguous(x), rtol=0, atol=1e-4)


def _sqrtm_fd(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """The reference FID formula (pytorch-fid): scipy sqrtm with a diagonal offset if needed."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = covmean.real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize(("n", "m", "d"), [(60, 50, 8), (12, 15, 40), (300, 20, 16)])
def test_frechet_distance_equals_sqrtm_formula(n, m, d):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    b = 0.5 + rng.normal(size=(m, d)) @ rng.normal(size=(d, d))
    np.testing.assert_allclose(frechet_distance(a, b), _sqrtm_fd(a, b), rtol=1e-6)


def test_frechet_distance_one_dimension_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, size=(50, 1)), rng.normal(-1.0, 0.5, size=(70, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    np.testing.assert_allclose(frechet_distance(a, b), expected, rtol=1e-10)


@pytest.mark.slow
def test_realism_fd_is_zero_on_itself_and_grows_with_degradation(extractor):
    # Six photos, each degraded at two strengths: 30 forward passes (the CPU budget of this test).
    names = ("astronaut", "coffee", "chelsea", "rocket", "stereo_motorcycle", "immunohistochemistry")
    x = torch.cat([sample_photo(name, 64) for name in names])
    real = extractor(x)
    assert abs(realism_fd(real, real)) < 1e-9 * realism_fd(real, real[::-1] + 1)
    blurred = [realism_fd(real, extractor(gaussian_blur(x, 9, sigma))) for sigma in (1.0, 3.0)]
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    noised = [realism_fd(real, extractor((x + s * noise).clamp(0, 1))) for s in (0.05, 0.2)]
    assert 0 < blurred[0] < blurred[1], blurred
    assert 0 < noised[0] < noised[1], noised


def test_frechet_distance_rejects_bad_inputs():
    with pytest.raises(ValueError, match="features"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="2 samples"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((3, 3), np.nan), np.zeros((5, 3)))


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_ci_is_seed_deterministic():
    v = np.random.default_rng(0).normal(size=100)
    assert bootstrap_ci(v, seed=3) == bootstrap_ci(v, seed=3)
    assert bootstrap_ci(v, seed=3) != bootstrap_ci(v, seed=4)
    mean, lo, hi = bootstrap_ci(v)
    assert mean == pytest.approx(v.mean()) and lo < mean < hi


def test_bootstrap_ci_coverage_and_width_on_normal_data():
    rng = np.random.default_rng(1)
    hits, widths = 0, []
    for i in range(200):
        v = rng.normal(0.3, 1.0, size=60)
        _, lo, hi = bootstrap_ci(v, n_boot=1000, seed=i)
        hits += lo <= 0.3 <= hi
        widths.append(hi - lo)
    assert 0.89 <= hits / 200 <= 0.99, hits  # nominal 0.95; percentile intervals run a little short
    # Normal theory: 2 * 1.96 / sqrt(60) = 0.506.
    assert np.mean(widths) == pytest.approx(0.506, rel=0.08)
    _, lo, hi = bootstrap_ci(v, level=0.5)
    assert hi - lo < widths[-1]


def test_bootstrap_ci_is_the_plain_percentile_bootstrap():
    """Against resampling by hand: the same interval up to the Monte Carlo error of the two sets of draws."""
    v = np.random.default_rng(2).gamma(2.0, size=300)  # skewed, as per-pair scores are
    rng = np.random.default_rng(5)
    means = v[rng.integers(0, v.size, size=(20000, v.size))].mean(1)
    _, lo, hi = bootstrap_ci(v, n_boot=20000)
    np.testing.assert_allclose([lo, hi], np.quantile(means, [0.025, 0.975]), atol=0.01)
    assert bootstrap_ci([0.4] * 5) == (0.4, 0.4, 0.4)  # no spread, no interval


def test_the_image_bootstrap_widens_where_pairs_share_their_images():
    """200 pairs from 50 source images, each a source 4 times, the value mostly the source's: the pairs are not
    independent, and resampling images gives about twice the pair bootstrap's width (sqrt(4)); unrelated pairs on
    distinct images give about the pair bootstrap's (the pigeonhole bootstrap is mildly conservative there)."""
    rng = np.random.default_rng(3)
    sources = np.repeat(np.arange(50), 4)
    targets = rng.permutation(200) % 50
    values = rng.normal(size=50)[sources] + 0.1 * rng.normal(size=200)
    _, lo, hi = bootstrap_ci(values)
    mean, ilo, ihi = image_bootstrap_ci(values, sources, targets)
    assert mean == pytest.approx(values.mean()) and 1.6 < (ihi - ilo) / (hi - lo) < 2.6
    independent = rng.normal(size=200)
    _, lo, hi = bootstrap_ci(independent)
    _, ilo, ihi = image_bootstrap_ci(independent, np.arange(200), np.arange(200) + 1000)
    assert 0.9 < (ihi - ilo) / (hi - lo) < 2.0
    with_undefined = np.where(np.arange(200) % 10 == 0, np.nan, values)
    assert image_bootstrap_ci(with_undefined, sources, targets)[0] == pytest.approx(np.nanmean(with_undefined))


def test_bootstrap_ci_rejects_bad_inputs():
    for bad in ([], [[1.0, 2.0]], [1.0, np.nan]):
        with pytest.raises(ValueError, match="values"):
            bootstrap_ci(bad)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1.0, 2.0], level=1.0)


def test_seed_bootstrap_ci_is_the_two_level_resample_written_as_a_loop():
    """An independent, slow oracle: for each resample draw seeds, then pairs, and average the defined values."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=(3, 40)) + np.array([[0.0], [0.5], [1.0]])
    values[1, 3] = np.nan
    mean, lo, hi = seed_bootstrap_ci(values, n_boot=300, seed=7)
    oracle = np.random.default_rng(7)  # drawn in the function's order: every resample's seeds, then pairs
    seeds, pairs = oracle.integers(0, 3, size=(300, 3)), oracle.integers(0, 40, size=(300, 40))
    means = [np.nanmean([[values[s, p] for p in pairs[b]] for s in seeds[b]]) for b in range(300)]
    assert mean == pytest.approx(np.nanmean(values))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])), rel=1e-12)


def test_seed_bootstrap_ci_spans_the_seeds_and_reduces_to_pairs_with_one_seed():
    v = np.random.default_rng(2).normal(size=200)
    one_seed = seed_bootstrap_ci(v[None], n_boot=2000, seed=0)
    pairs_only = bootstrap_ci(v, n_boot=2000, seed=0)
    assert one_seed[0] == pytest.approx(pairs_only[0])
    assert one_seed[2] - one_seed[1] == pytest.approx(pairs_only[2] - pairs_only[1], rel=0.15)
    # seeds far apart, pairs identical within a seed: the interval spans the seeds' means, the pairs' is empty
    spread = np.array([[0.1] * 50, [0.2] * 50, [0.3] * 50])
    _, lo, hi = seed_bootstrap_ci(spread, n_boot=2000, seed=0)
    assert 0.1 - 1e-12 <= lo < 0.2 < hi <= 0.3 + 1e-12
    with pytest.raises(ValueError, match="seed with no defined value"):
        seed_bootstrap_ci([[1.0, 2.0], [np.nan, np.nan]])


# ------------------------------------------------------------------ input checks


def test_metrics_reject_bad_images(photos):
    a, b = photos["coffee"], photos["rocket"]
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        hue_emd(a[:, 0], b)
    with pytest.raises(ValueError, match="batch"):
        hue_emd(torch.cat((a, a)), b)
    with pytest.raises(ValueError, match="same shape"):
        hue_relative_mi(a, sample_photo("rocket", 32))
    with pytest.raises(ValueError, match="same shape"):
        grey_ssim(a, sample_photo("rocket", 32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        hue_emd(a * 2, b)
    with pytest.raises(ValueError, match="NaN"):
        hue_emd(a * float("nan"), b)
    with pytest.raises(ValueError, match="bins"):
        hue_emd(a, b, bins=256)
    with pytest.raises(ValueError, match="floating"):
        hue_emd((a * 255).to(torch.uint8), b)
