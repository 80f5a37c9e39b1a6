import math

import numpy as np
import ot
import pytest
import torch
import torch.nn.functional as F

from huenet.baselines.histmatch import hue_histogram_matching, match_cyclic
from huenet.baselines.reinhard import EPS, reinhard, rgb_to_lab
from huenet.core.color import rgb_to_hsv
from huenet.data.photos import sample_photo
from huenet.eval.metrics import hue_emd


@pytest.fixture(scope="module")
def photos() -> dict[str, torch.Tensor]:
    return {name: sample_photo(name, 64, quantize=True) for name in ("astronaut", "coffee", "chelsea", "rocket")}


# ------------------------------------------------------------------ Reinhard

# Reinhard et al. 2001, typed in again here from the paper (Eq. 4, 5, 6) as the oracle.
_PUBLISHED_RGB_TO_LMS = np.array([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
_PUBLISHED_LMS_TO_RGB = np.array([[4.4679, -3.5873, 0.1193], [-1.2186, 2.3809, -0.1624], [0.0497, -0.2439, 1.2045]])
_LAB = np.diag([1 / math.sqrt(3), 1 / math.sqrt(6), 1 / math.sqrt(2)]) @ np.array([[1, 1, 1], [1, 1, -2], [1, -1, 0]])


def _reinhard_numpy(src: np.ndarray, tar: np.ndarray) -> np.ndarray:
    """Pixel rows ``(N, 3)`` -> transferred rows, step by step in numpy (no clipping)."""

    def to_lab(rgb: np.ndarray) -> np.ndarray:
        lms = np.maximum(rgb, 1 / 255) @ _PUBLISHED_RGB_TO_LMS.T
        return np.log10(lms) @ _LAB.T

    ls, lt = to_lab(src), to_lab(tar)
    out = (ls - ls.mean(0)) / ls.std(0) * lt.std(0) + lt.mean(0)
    lms = 10.0 ** (out @ np.linalg.inv(_LAB).T)
    return lms @ np.linalg.inv(_PUBLISHED_RGB_TO_LMS).T


def test_reinhard_hand_case_two_pixels():
    src = np.array([[0.2, 0.4, 0.6], [0.9, 0.5, 0.1]])
    tar = np.array([[0.1, 0.7, 0.3], [0.6, 0.2, 0.8], [0.5, 0.5, 0.4]])
    expected = _reinhard_numpy(src, tar)
    ours = reinhard(torch.tensor(src).T.reshape(1, 3, 1, 2), torch.tensor(tar).T.reshape(1, 3, 1, 3), clip=False)
    np.testing.assert_allclose(ours.reshape(3, 2).T.numpy(), expected, atol=1e-12)
    clipped = reinhard(torch.tensor(src).T.reshape(1, 3, 1, 2), torch.tensor(tar).T.reshape(1, 3, 1, 3))
    np.testing.assert_allclose(clipped.reshape(3, 2).T.numpy(), np.clip(expected, 0, 1), atol=1e-12)


def test_reinhard_two_pixels_land_on_target_values():
    """With two pixels per image, mean/std matching maps each channel onto the target's two values."""
    src = torch.tensor([[0.2, 0.4, 0.6], [0.9, 0.5, 0.1]], dtype=torch.float64).T.reshape(1, 3, 1, 2)
    tar = torch.tensor([[0.1, 0.7, 0.3], [0.6, 0.2, 0.8]], dtype=torch.float64).T.reshape(1, 3, 1, 2)
    lab_out = rgb_to_lab(reinhard(src, tar, clip=False), eps=0).reshape(3, 2)
    lab_tar = rgb_to_lab(tar).reshape(3, 2)
    torch.testing.assert_close(lab_out.sort(-1).values, lab_tar.sort(-1).values, atol=1e-10, rtol=0)


def test_the_forward_matrix_is_the_published_one_and_the_way_back_its_exact_inverse():
    """The paper's 4-digit inverse is the inverse only up to its rounding; the way back must be the exact one."""
    from huenet.baselines.reinhard import RGB_TO_LMS, lab_to_rgb

    np.testing.assert_array_equal(RGB_TO_LMS.numpy(), _PUBLISHED_RGB_TO_LMS)
    rgb = 0.05 + 0.9 * torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(lab_to_rgb(rgb_to_lab(rgb, eps=0)), rgb, atol=1e-12, rtol=0)
    # The published inverse misses that round trip by far more: the check tells the two apart.
    pixels = rgb[0].flatten(1).T.numpy()
    assert np.abs(pixels @ _PUBLISHED_RGB_TO_LMS.T @ _PUBLISHED_LMS_TO_RGB.T - pixels).max() > 1e-3


@pytest.mark.parametrize(("src", "tar"), [("astronaut", "coffee"), ("chelsea", "rocket"), ("coffee", "chelsea")])
def test_reinhard_unclipped_output_has_target_lab_moments(photos, src, tar):
    source = photos[src]
    target = F.interpolate(photos[tar], size=(48, 40), mode="bilinear", align_corners=False)  # other size
    out = reinhard(source, target, clip=False)
    lab_out = rgb_to_lab(out, eps=0)  # no clamp: the unclipped RGB has positive LMS
    lab_tar = rgb_to_lab(target)
    torch.testing.assert_close(lab_out.mean((2, 3)), lab_tar.mean((2, 3)), atol=1e-9, rtol=0)
    torch.testing.assert_close(lab_out.std((2, 3), correction=0), lab_tar.std((2, 3), correction=0), atol=1e-9, rtol=0)
    # ... and the source's moments were different, so the test can fail.
    assert (rgb_to_lab(source).mean((2, 3)) - lab_tar.mean((2, 3))).abs().max() > 0.05


def test_reinhard_is_identity_when_source_is_target(photos):
    x = photos["astronaut"]
    lifted = x.clamp_min(EPS)  # no value below the log floor: exact identity
    torch.testing.assert_close(reinhard(lifted, lifted), lifted, atol=1e-12, rtol=0)
    out = reinhard(x, x)  # pixels below 1/255 are lifted to it, nothing else moves
    assert (out - x).abs().max() <= EPS + 1e-12
    torch.testing.assert_close(out[x >= EPS], x[x >= EPS], atol=1e-9, rtol=0)


def test_reinhard_black_pixels_and_gamut(photos):
    source = photos["astronaut"].clone()
    source[..., :8, :8] = 0.0  # black patch: log(0) must not appear
    out = reinhard(source, photos["coffee"], clip=False)
    assert torch.isfinite(out).all()
    assert out.min() < 0 and out.max() > 1  # this pair leaves the gamut ...
    clipped = reinhard(source, photos["coffee"])
    assert clipped.min() >= 0 and clipped.max() <= 1  # ... and clipping brings it back
    torch.testing.assert_close(clipped, out.clamp(0, 1))


def test_reinhard_batch_dtype_and_broadcast_target(photos):
    src = torch.cat((photos["astronaut"], photos["coffee"])).float()
    tar = photos["rocket"].float()
    out = reinhard(src, tar)
    assert out.shape == src.shape and out.dtype == torch.float32
    for i in range(2):
        torch.testing.assert_close(out[i : i + 1], reinhard(src[i : i + 1], tar))


def test_reinhard_rejects_bad_inputs(photos):
    x = photos["coffee"]
    with pytest.raises(ValueError, match="shape"):
        reinhard(x[:, :2], x)
    with pytest.raises(ValueError, match="batch"):
        reinhard(torch.cat((x, x, x)), torch.cat((x, x)))
    with pytest.raises(ValueError, match="floating"):
        reinhard((x * 255).to(torch.uint8), x)


# ------------------------------------------------------- hue histogram matching


def _cyclic_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = torch.remainder(a - b, 1.0)
    return torch.minimum(d, 1.0 - d)


@pytest.mark.parametrize(
    ("src", "tar"), [("astronaut", "coffee"), ("coffee", "astronaut"), ("chelsea", "rocket"), ("rocket", "astronaut")]
)
def test_histogram_matching_brings_8bit_hue_histogram_close_to_target(photos, src, tar):
    source, target = photos[src], sample_photo(tar, 80, quantize=True)  # target of another size
    out = hue_histogram_matching(source, target)
    before = hue_emd(source, target)[0]
    after = hue_emd(out, target)[0]
    assert before > 0.01  # the pair differs in hue to begin with
    assert after < before / 5, (before, after)


def test_histogram_matching_float_hue_histogram_matches_closely(photos):
    # The coffee photo has no grey pixels; a source's greys keep hue 0 whatever hue
    # they are given (8.7 % of the astronaut: W1 after matching would be ~0.003).
    source, target = photos["coffee"], photos["astronaut"]
    out = hue_histogram_matching(source, target, bins=256)
    hue_out = rgb_to_hsv(out)[:, 0].flatten(1)
    hue_tar = rgb_to_hsv(target)[:, 0].flatten(1)
    w_before = ot.wasserstein_circle(rgb_to_hsv(source)[0, 0].flatten().numpy(), hue_tar[0].numpy(), p=1)[0]
    w_after = ot.wasserstein_circle(hue_out[0].numpy(), hue_tar[0].numpy(), p=1)[0]
    assert w_after < w_before / 20, (w_before, w_after)


def test_histogram_matching_keeps_saturation_and_value(photos):
    source = torch.cat((photos["astronaut"], photos["chelsea"]))
    target = torch.cat((photos["coffee"], photos["rocket"]))
    out = hue_histogram_matching(source, target)
    torch.testing.assert_close(rgb_to_hsv(out)[:, 1:], rgb_to_hsv(source)[:, 1:], atol=1e-9, rtol=0)
    assert (rgb_to_hsv(out)[:, 0] - rgb_to_hsv(source)[:, 0]).abs().max() > 0.1  # hue did move


def test_histogram_matching_batch_equals_single_images(photos):
    source = torch.cat((photos["astronaut"], photos["chelsea"], photos["coffee"]))
    target = torch.cat((photos["coffee"], photos["rocket"], photos["astronaut"]))
    out = hue_histogram_matching(source, target)
    for i in range(3):
        torch.testing.assert_close(out[i : i + 1], hue_histogram_matching(source[i : i + 1], target[i : i + 1]))
    single = hue_histogram_matching(source, target[:1])  # one target for the whole batch
    torch.testing.assert_close(single[1:2], hue_histogram_matching(source[1:2], target[:1]))


def test_histogram_matching_is_identity_when_source_is_target(photos):
    for x in photos.values():
        torch.testing.assert_close(hue_histogram_matching(x, x), x, atol=1e-9, rtol=0)


def test_match_cyclic_shifts_a_rotated_distribution_exactly():
    g = torch.Generator().manual_seed(0)
    h = 0.1 + 0.1 * torch.rand(1, 5000, generator=g, dtype=torch.float64)
    shift = 77 / 256  # a whole number of bins: the piecewise-linear CDFs are exact translates
    tar = torch.remainder(h[:, torch.randperm(5000, generator=g)] + shift, 1.0)
    torch.testing.assert_close(match_cyclic(h, tar, bins=256), torch.remainder(h + shift, 1.0), atol=1e-12, rtol=0)


def test_match_cyclic_cuts_the_circle_where_transport_is_cheapest():
    """Source clusters at 0.02 and 0.52, target at 0.98 and 0.48: the cheap plan crosses hue 0.

    Cutting at 0 (plain quantile matching) would send 0.02 -> 0.48 and 0.52 -> 0.98,
    a mean move of 0.46; the W1-optimal cut moves every pixel by 0.04.
    """
    g = torch.Generator().manual_seed(1)
    jitter = lambda n: 0.004 * torch.rand(1, n, generator=g, dtype=torch.float64)  # noqa: E731
    src = torch.cat((0.02 + jitter(3000), 0.52 + jitter(3000)), 1)
    tar = torch.cat((0.98 + jitter(2000), 0.48 + jitter(2000)), 1)
    out = match_cyclic(src, tar, bins=256)
    assert _cyclic_distance(out, src).max() < 0.05
    assert (out[:, :3000] > 0.97).all() and (out[:, 3000:] < 0.49).all()


@pytest.mark.parametrize("seed", range(4))
def test_match_cyclic_moves_pixels_by_the_circular_w1(seed):
    """The map is an optimal transport map: its mean cyclic move equals W1 (POT) up to the binning."""
    g = torch.Generator().manual_seed(seed)

    def mixture(n: int) -> torch.Tensor:
        centres = torch.rand(3, generator=g, dtype=torch.float64)
        pick = torch.randint(0, 3, (n,), generator=g)
        return torch.remainder(centres[pick] + 0.05 * torch.randn(n, generator=g, dtype=torch.float64), 1.0)

    src, tar = mixture(4000), mixture(3000)
    out = match_cyclic(src[None], tar[None], bins=256)[0]
    cost = _cyclic_distance(out, src).mean().item()
    w1 = ot.wasserstein_circle(src.numpy(), tar.numpy(), p=1)[0]
    assert abs(cost - w1) < 2 / 256, (cost, w1)
    # ... and the output distribution is the target's.
    assert ot.wasserstein_circle(out.numpy(), tar.numpy(), p=1)[0] < 1 / 256


def test_histogram_matching_rejects_bad_inputs(photos):
    x = photos["coffee"]
    with pytest.raises(ValueError, match="shape"):
        hue_histogram_matching(x[0], x)
    with pytest.raises(ValueError, match="batch"):
        hue_histogram_matching(torch.cat((x, x)), torch.cat((x, x, x)))
    with pytest.raises(ValueError, match="bins"):
        hue_histogram_matching(x, x, bins=1)
