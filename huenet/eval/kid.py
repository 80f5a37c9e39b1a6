"""Kernel Inception Distance with its spread over subsets (Binkowski, Sutherland, Arbel & Gretton, ICLR 2018).

KID is the squared maximum mean discrepancy between two feature sets under the cubic polynomial kernel
``k(x, y) = (x . y / d + 1)^3`` (``d`` the feature dimension), estimated without bias. For ``m`` features
``X`` and ``m`` features ``Y``:

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2

(the diagonal of the cross term is kept: torch-fidelity's and clean-fid's ``mmd_est='unbiased'``, the
estimator of the paper's reference code; it can be negative when the two distributions are equal).

**Subsets** follow torch-fidelity's ``kid_features_to_metric``: for each of ``subsets`` rounds, ``m`` rows of
``feats_a`` and then ``m`` rows of ``feats_b`` are drawn without replacement by one ``np.random.RandomState(seed)``
(``rng.choice(n, m, replace=False)``), the estimate is computed on them, and the result is the mean and the
population standard deviation (``np.std``, ``ddof=0``) of the ``subsets`` estimates. Given the same features
and seed this draws torch-fidelity's subsets. The one difference is the subset size: torch-fidelity refuses
sets smaller than ``subset_size``; here ``m = min(subset_size, n_a, n_b)``, as clean-fid does. When ``m``
equals both set sizes every subset is the whole set, so the standard deviation is 0 and says nothing about the
estimate's uncertainty: pass a smaller ``subset_size`` (or use ``huenet.eval.metrics.bootstrap_ci``-style
resampling) to see a spread with few images.

As with ``huenet.eval.metrics.realism_fd``, the features are whatever network the caller uses
(EfficientNet-Lite0 in this repository), so values are not comparable to KID published on Inception-v3.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from huenet.core.checks import check_int

__all__ = ["polynomial_kernel", "mmd2_unbiased", "kernel_inception_distance"]


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """KID's kernel ``(x . y / d + 1)^3`` between the rows of ``(N, d)`` and ``(M, d)``: ``(N, M)`` float64."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (module docstring) between two ``(m, d)`` float64 feature sets, ``m >= 2``.

    >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> round(mmd2_unbiased(x, x), 6)  # the cross term keeps its diagonal: not 0 for equal sets
    -1.555556
    >>> round(mmd2_unbiased(x, x + 1.0), 6)
    32.694444
    """
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    feats_a: ArrayLike, feats_b: ArrayLike, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID between two feature sets: mean and standard deviation of the unbiased MMD^2 over random subsets.

    Args:
        feats_a: ``(N_a, d)`` features (e.g. of generated images), ``N_a >= 2``.
        feats_b: ``(N_b, d)`` features (e.g. of real images), ``N_b >= 2``.
        subsets: number of subsets (torch-fidelity's and clean-fid's default, 100).
        subset_size: rows per subset, capped at ``min(N_a, N_b)`` (default 1000, as both).
        seed: seed of the ``np.random.RandomState`` that draws the subsets.

    Returns:
        ``(mean, std)`` as Python floats; ``std`` is over the subsets (``ddof=0``), 0 when every subset is
        the whole of both sets.

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    >>> mean, std = kernel_inception_distance(a, b, subset_size=100)
    >>> abs(mean) < 3 * std
    True
    >>> kernel_inception_distance(a, b + 1.0, subset_size=100)[0] > 1.0  # a shifted distribution
    True
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (N, d) and (M, d), got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("features contain NaN or infinite values")
    for name, value in (("subsets", subsets), ("subset_size", subset_size)):
        check_int(value, name)
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError(f"need subsets of at least 2 rows, got min(subset_size, N_a, N_b) = {m}")
    rng = np.random.RandomState(seed)
    estimates = np.empty(subsets)
    for i in range(subsets):
        # torch-fidelity's order of draws: a's rows, then b's, per subset
        x = a[rng.choice(a.shape[0], m, replace=False)]
        y = b[rng.choice(b.shape[0], m, replace=False)]
        estimates[i] = mmd2_unbiased(x, y)
    return float(estimates.mean()), float(estimates.std())
