"""Kernel Inception Distance (huenet.eval.kid): the estimator against a double loop, the subset protocol, its spread."""

from __future__ import annotations

import numpy as np
import pytest

from huenet.eval.kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel


def _loop_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Binkowski et al.'s unbiased MMD^2 with the cubic kernel, one pair of rows at a time."""
    m, d = x.shape

    def k(u: np.ndarray, v: np.ndarray) -> float:
        return (sum(float(a) * float(b) for a, b in zip(u, v)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (m * m)


@pytest.mark.parametrize("m, d, seed", [(2, 1, 0), (5, 3, 1), (9, 7, 2), (12, 4, 3)])
def test_unbiased_estimator_equals_the_double_loop(m, d, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(m, d)), rng.normal(0.3, 1.5, size=(m, d))
    assert abs(mmd2_unbiased(x, y) - _loop_mmd2(x, y)) < 1e-10


def test_kernel_is_the_cubic_polynomial():
    x, y = np.array([[1.0, 2.0, 3.0]]), np.array([[0.5, -1.0, 2.0]])
    assert polynomial_kernel(x, y)[0, 0] == pytest.approx((4.5 / 3 + 1) ** 3, rel=1e-15)


def test_subsets_are_torch_fidelitys_draws():
    # torch-fidelity: one RandomState(seed); per subset choice(n_a, m) then choice(n_b, m), without replacement
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 3)), rng.normal(size=(25, 3))
    draws = np.random.RandomState(7)
    expected = []
    for _ in range(6):
        ia, ib = draws.choice(30, 10, replace=False), draws.choice(25, 10, replace=False)
        expected.append(_loop_mmd2(a[ia], b[ib]))
    mean, std = kernel_inception_distance(a, b, subsets=6, subset_size=10, seed=7)
    assert mean == pytest.approx(np.mean(expected), abs=1e-10)
    assert std == pytest.approx(np.std(expected), abs=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_two_samples_of_one_distribution_give_about_zero(seed):
    rng = np.random.default_rng(100 + seed)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = kernel_inception_distance(a, b, subsets=100, subset_size=200, seed=seed)
    assert std > 0
    assert abs(mean) < 3 * std + 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("shift, scale", [(0.5, 1.0), (0.0, 1.5)])
def test_samples_of_different_distributions_give_clearly_more(shift, scale):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2000, 16)), rng.normal(shift, scale, size=(2000, 16))
    mean, std = kernel_inception_distance(a, b, subsets=100, subset_size=200)
    same, _ = kernel_inception_distance(a, rng.normal(size=(2000, 16)), subsets=100, subset_size=200)
    assert mean > 3 * std and mean > 20 * abs(same)


def test_a_seed_gives_the_same_result_twice():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(250, 8))
    first = kernel_inception_distance(a, b, subsets=20, subset_size=50, seed=3)
    assert kernel_inception_distance(a, b, subsets=20, subset_size=50, seed=3) == first
    assert kernel_inception_distance(a, b, subsets=20, subset_size=50, seed=4) != first


def test_subset_size_is_capped_by_the_smaller_set():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(40, 4)), rng.normal(size=(60, 4))
    mean, std = kernel_inception_distance(a, b, subsets=10)  # 1000 requested, 40 used
    assert std > 0  # b's 40 of 60 rows change between subsets
    # both sets used whole: every subset is a permutation of the same sets, so no spread
    whole_mean, whole_std = kernel_inception_distance(a, b[:40], subsets=10)
    assert whole_std == pytest.approx(0.0, abs=1e-12)
    assert whole_mean == pytest.approx(mmd2_unbiased(a, b[:40]), abs=1e-12)


def test_float32_and_lists_are_accepted_as_float64():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    ref = kernel_inception_distance(a, b, subsets=3, subset_size=10)
    assert kernel_inception_distance(a.tolist(), b.tolist(), subsets=3, subset_size=10) == ref
    assert kernel_inception_distance(a.astype(np.float32), b, subsets=3, subset_size=10)[0] == pytest.approx(
        ref[0], abs=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"feats_a": np.zeros((5, 3)), "feats_b": np.zeros((5, 4))}, r"\(N, d\)"),
    ({"feats_a": np.zeros((1, 3)), "feats_b": np.zeros((5, 3))}, "at least 2"),
    ({"feats_a": np.full((5, 3), np.nan), "feats_b": np.zeros((5, 3))}, "NaN"),
    ({"feats_a": np.zeros((5, 3)), "feats_b": np.zeros((5, 3)), "subsets": 0}, "subsets"),
    ({"feats_a": np.zeros((5, 3)), "feats_b": np.zeros((5, 3)), "subset_size": 1.5}, "subset_size"),
])
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kernel_inception_distance(**kwargs)
