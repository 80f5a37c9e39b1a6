import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from huenet.core.histograms import band_halfwidth, joint_histogram, soft_histogram

IMPLS = ["fast", "dense"]


def _values(b: int = 2, n: int = 300, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.rand(b, n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ------------------------------------------------------------ oracles


@pytest.mark.parametrize("cyclic", [False, True])
def test_soft_histogram_converges_to_numpy_histogram(cyclic):
    x = _values(1, 20_000)
    hard, _ = np.histogram(x.numpy(), bins=32, range=(0, 1))
    hard = hard / hard.sum()
    gaps = [
        (soft_histogram(x, 32, cyclic=cyclic, kernel_width_ratio=r)[0].numpy() - hard).__abs__().sum()
        for r in (2.5, 10, 50, 500)
    ]
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 5e-3


@pytest.mark.parametrize("impl", IMPLS)
def test_values_at_bin_centres_give_the_hard_histogram(impl):
    k = 16
    idx = torch.randint(0, k, (3, 500), generator=torch.Generator().manual_seed(1))
    x = (idx.double() + 0.5) / k
    hard = torch.stack([torch.bincount(row, minlength=k) for row in idx]).double() / 500
    torch.testing.assert_close(soft_histogram(x, k, kernel_width_ratio=60, impl=impl), hard, atol=1e-9, rtol=0)


def test_kernel_matches_the_paper_formula_inside_the_range():
    """Away from the ends, a pixel's membership is exactly Eq. 6 (no folding)."""
    k, r = 32, 2.5  # the ends are 16 bins away: their folded tails are below 1e-17
    x = torch.tensor([[0.5]], dtype=torch.float64)
    L, W = 1 / k, 1 / k / r
    mu = (torch.arange(k, dtype=torch.float64) + 0.5) * L
    expected = torch.sigmoid((0.5 - mu + L / 2) / W) - torch.sigmoid((0.5 - mu - L / 2) / W)
    for impl in IMPLS:
        torch.testing.assert_close(soft_histogram(x, k, kernel_width_ratio=r, impl=impl)[0], expected / expected.sum())


# ------------------------------------------------------------ fast == dense


@pytest.mark.slow
@pytest.mark.parametrize("cyclic", [False, True])
@pytest.mark.parametrize("bins", [2, 3, 7, 64, 256])
@pytest.mark.parametrize("ratio", [1.0, 2.5, 10.0])
def test_fast_equals_dense(cyclic, bins, ratio):
    x = _values(2, 400, seed=bins).requires_grad_(True)
    y = _values(2, 400, seed=bins + 1).requires_grad_(True)
    w1 = torch.randn(bins, dtype=torch.float64)
    w2 = torch.randn(bins, bins, dtype=torch.float64)
    kw = dict(cyclic=cyclic, kernel_width_ratio=ratio)
    results = {}
    for impl in IMPLS:
        h = soft_histogram(x, bins, impl=impl, **kw)
        j = joint_histogram(x, y, bins, impl=impl, **kw)
        grads = torch.autograd.grad((h * w1).sum() + (j * w2).sum(), (x, y))
        results[impl] = (h, j, *grads)
    for fast, dense in zip(results["fast"], results["dense"]):
        torch.testing.assert_close(fast, dense, atol=1e-6, rtol=0)


def test_fast_equals_dense_in_float32_at_full_scale():
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    for cyclic in (False, True):
        torch.testing.assert_close(
            soft_histogram(x, 256, cyclic=cyclic), soft_histogram(x, 256, cyclic=cyclic, impl="dense"),
            atol=1e-6, rtol=0,
        )


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cyclic", [False, True])
def test_gradcheck_soft_histogram(impl, cyclic):
    x = _values(2, 6, seed=4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: soft_histogram(v, 5, cyclic=cyclic, impl=impl), (x,))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("cyclic", [False, True])
def test_gradcheck_joint_histogram(impl, cyclic):
    x = _values(2, 5, seed=5).requires_grad_(True)
    y = _values(2, 5, seed=6).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: joint_histogram(a, b, 4, cyclic=cyclic, impl=impl), (x, y))


def test_band_covers_the_kernel_to_the_tolerance():
    """The band reaches at least b bins beyond x on either side, so it leaves out at most exp(-r b) per side: below
    half an ulp of a float32 pixel mass (2^-24), and one bin fewer would not be."""
    for r in (0.5, 1.0, 2.5, 10.0):
        b = band_halfwidth(r)
        assert math.exp(-r * b) < 2**-24
        assert b == 1 or math.exp(-r * (b - 1)) >= 2**-24
    assert band_halfwidth(2.5) == 7  # the training's band: 15 bins


# ------------------------------------------------------------ properties


@given(
    bins=st.integers(2, 64),
    ratio=st.floats(0.5, 20),
    cyclic=st.booleans(),
    impl=st.sampled_from(IMPLS),
    n=st.integers(1, 50),
    seed=st.integers(0, 2**16),
)
def test_mass_one_and_non_negative(bins, ratio, cyclic, impl, n, seed):
    x = _values(2, n, seed=seed)
    x[0, 0] = 0.0
    x[1, 0] = 1.0
    h = soft_histogram(x, bins, cyclic=cyclic, kernel_width_ratio=ratio, impl=impl)
    j = joint_histogram(x, x.flip(1), bins, cyclic=cyclic, kernel_width_ratio=ratio, impl=impl)
    assert h.shape == (2, bins) and j.shape == (2, bins, bins)
    assert (h >= 0).all() and (j >= 0).all()
    torch.testing.assert_close(h.sum(-1), torch.ones(2, dtype=h.dtype))
    torch.testing.assert_close(j.sum((1, 2)), torch.ones(2, dtype=h.dtype))


@given(bins=st.integers(2, 64), shift=st.integers(-70, 70), seed=st.integers(0, 2**16), impl=st.sampled_from(IMPLS))
def test_hue_shift_by_whole_bins_rolls_the_cyclic_histogram(bins, shift, seed, impl):
    x = _values(1, 40, seed=seed)
    rotated = torch.remainder(x + shift / bins, 1.0)
    torch.testing.assert_close(
        soft_histogram(rotated, bins, cyclic=True, impl=impl),
        soft_histogram(x, bins, cyclic=True, impl=impl).roll(shift, -1),
        atol=1e-8, rtol=0,
    )


@given(bins=st.integers(2, 32), cyclic=st.booleans(), seed=st.integers(0, 2**16))
def test_joint_marginals_and_transpose(bins, cyclic, seed):
    x, y = _values(2, 60, seed=seed).unbind(0)
    x, y = x[None], y[None]
    j = joint_histogram(x, y, bins, cyclic=cyclic)
    torch.testing.assert_close(j.sum(2), soft_histogram(x, bins, cyclic=cyclic), atol=1e-7, rtol=0)
    torch.testing.assert_close(j.sum(1), soft_histogram(y, bins, cyclic=cyclic), atol=1e-7, rtol=0)
    torch.testing.assert_close(joint_histogram(y, x, bins, cyclic=cyclic), j.transpose(1, 2))


def test_image_layout_equals_flat_layout():
    img = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(soft_histogram(img, 16), soft_histogram(img.flatten(1), 16))
    torch.testing.assert_close(joint_histogram(img, img.flip(-1), 16),
                               joint_histogram(img.flatten(1), img.flip(-1).flatten(1), 16))


def test_rounding_outside_the_range_is_tolerated():
    x = torch.tensor([[-1e-7, 0.5, 1 + 1e-7]])
    assert torch.isfinite(soft_histogram(x, 8)).all()


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "x, kwargs, match",
    [
        (torch.rand(10), {}, "shape"),
        (torch.rand(2, 3, 4, 4), {}, "shape"),
        (torch.rand(2, 1, 2, 4, 4), {}, "shape"),
        (torch.randint(0, 255, (2, 10)), {}, "floating"),
        (torch.tensor([[0.1, float("nan")]]), {}, "NaN"),
        (torch.tensor([[0.1, 1.2]]), {}, r"\[0, 1\]"),
        (torch.tensor([[-0.1, 0.5]]), {}, r"\[0, 1\]"),
        (torch.rand(2, 0), {}, "empty"),
        (torch.rand(2, 10), {"bins": 1}, "bins"),
        (torch.rand(2, 10), {"bins": 8.0}, "bins"),
        (torch.rand(2, 10), {"kernel_width_ratio": 0.0}, "kernel_width_ratio"),
        (torch.rand(2, 10), {"impl": "sparse"}, "impl"),
        (np.random.rand(2, 10), {}, "torch.Tensor"),
    ],
)
def test_bad_input_raises_one_line_value_error(x, kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        soft_histogram(x, **kwargs)
    assert "\n" not in str(err.value)


def test_mismatched_joint_inputs():
    with pytest.raises(ValueError, match="same shape"):
        joint_histogram(torch.rand(2, 10), torch.rand(2, 11))
    with pytest.raises(ValueError, match="same dtype"):
        joint_histogram(torch.rand(2, 10), torch.rand(2, 10, dtype=torch.float64))
