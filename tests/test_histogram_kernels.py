"""The banded histograms (CPU kernels and torch path) against the paper's dense construction, and the O(K) cyclic
EMD against the circulant and POT."""

import importlib.util
import subprocess
import sys

import numpy as np
import ot
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from huenet.core import histograms
from huenet.core.histograms import joint_histogram, soft_histogram
from huenet.core.losses import circulant, cyclic_w1, emd_loss, mi_loss

BANDED = ["fast", "torch"]
# The compiled CPU kernels come with the extras (numba); the core alone runs the torch path, which these tests also
# cover, so that `pip install huenet` with torch and numpy only passes the rest of this file.
HAVE_NUMBA = importlib.util.find_spec("numba") is not None
NEEDS_NUMBA = pytest.mark.skipif(not HAVE_NUMBA, reason="the CPU kernels need numba (the [paint] or [pipeline] extra)")


def _values(b: int, n: int, seed: int, bins: int | None = None, dtype=torch.float64) -> torch.Tensor:
    """Random values; with ``bins``, the ends and some bin edges among them, where a pixel's band moves and the
    fold changes (the band's jump there, below 1e-7, would fail a finite-difference gradient check)."""
    x = torch.rand(b, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if bins is not None:
        x[:, :5] = torch.tensor([0.0, 1.0, 1 / bins, 1 - 1 / bins, 0.5])
    return x.to(dtype)


def _histograms_and_grads(impl: str, x: torch.Tensor, y: torch.Tensor, bins: int, **kw) -> list[torch.Tensor]:
    x, y = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
    g = torch.Generator().manual_seed(bins)
    w1 = torch.randn(bins, generator=g, dtype=torch.float64).to(x.dtype)
    w2 = torch.randn(bins, bins, generator=g, dtype=torch.float64).to(x.dtype)
    h = soft_histogram(x, bins, impl=impl, **kw)
    j = joint_histogram(x, y, bins, impl=impl, **kw)
    return [h, j, *torch.autograd.grad((h * w1).sum() + (j * w2).sum(), (x, y))]


# ------------------------------------------------------------------ banded == dense


@pytest.mark.parametrize("impl", BANDED)
@pytest.mark.parametrize("cyclic", [False, True])
@pytest.mark.parametrize("bins", [2, 3, 4, 8, 32, 64, 256])
@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.5, 10.0])
def test_banded_equals_dense(impl, cyclic, bins, ratio):
    """Every bin and the input gradients to 1e-6 (the band leaves out < 1e-8 of each pixel's mass per side)."""
    x, y = _values(2, 300, bins, bins), _values(2, 300, bins + 1, bins)
    kw = dict(cyclic=cyclic, kernel_width_ratio=ratio)
    for banded, dense in zip(_histograms_and_grads(impl, x, y, bins, **kw),
                             _histograms_and_grads("dense", x, y, bins, **kw)):
        torch.testing.assert_close(banded, dense, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cyclic", [False, True])
@pytest.mark.parametrize("bins", [4, 32, 256])
def test_kernels_equal_torch_path_to_rounding(cyclic, bins):
    """Same band, same fold: the two banded paths differ by rounding only."""
    x, y = _values(3, 500, 7, bins), _values(3, 500, 8, bins)
    for fast, torch_path in zip(_histograms_and_grads("fast", x, y, bins, cyclic=cyclic),
                                _histograms_and_grads("torch", x, y, bins, cyclic=cyclic)):
        torch.testing.assert_close(fast, torch_path, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("bins", [256, 32])
@pytest.mark.parametrize("cyclic", [False, True])
def test_float32_training_shape_equals_dense(bins, cyclic):
    """float32 at the training shape (batch 8 of 64 x 64): against the float32 dense layer and against the float64
    dense layer on the same values (the float32 one is itself up to 8e-7 off in the input gradient)."""
    x = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    y = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(4))
    dense = [_histograms_and_grads("dense", x.to(dtype), y.to(dtype), bins, cyclic=cyclic)
             for dtype in (torch.float32, torch.float64)]
    for impl in BANDED:
        banded = _histograms_and_grads(impl, x, y, bins, cyclic=cyclic)
        for oracle in dense:
            for a, b in zip(banded, oracle):
                torch.testing.assert_close(a.double(), b.double(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("impl", BANDED)
@pytest.mark.parametrize("cyclic", [False, True])
@pytest.mark.parametrize("bins", [2, 5, 8])
def test_gradcheck(impl, cyclic, bins):
    x, y = _values(2, 7, 4).requires_grad_(True), _values(2, 7, 5).requires_grad_(True)
    kw = dict(cyclic=cyclic, impl=impl)
    assert torch.autograd.gradcheck(lambda a: soft_histogram(a, bins, **kw), (x,))
    assert torch.autograd.gradcheck(lambda a, b: joint_histogram(a, b, bins, **kw), (x, y))


@pytest.mark.parametrize("impl", BANDED)
def test_gradcheck_losses(impl):
    x, y = _values(2, 9, 6).requires_grad_(True), _values(2, 9, 7)
    target = soft_histogram(_values(2, 9, 8), 16, cyclic=True)

    def loss(a: torch.Tensor) -> torch.Tensor:
        hist = soft_histogram(a, 16, cyclic=True, impl=impl)
        return emd_loss(hist, target, form="root") + mi_loss(joint_histogram(y, a, 8, cyclic=True, impl=impl))

    assert torch.autograd.gradcheck(loss, (x,))


@pytest.mark.parametrize("ratio", [25.0, 230.0, 250.0])
def test_sharp_kernels_have_finite_gradients(ratio):
    """Up to r = 230 the kernels' exponentials stay in float64's range; beyond, "fast" takes the torch path."""
    assert histograms._use_kernels(torch.zeros(1), ratio, "fast") == (ratio <= 230 and HAVE_NUMBA)
    x = _values(2, 50, 9).requires_grad_(True)
    h = soft_histogram(x, 64, cyclic=True, kernel_width_ratio=ratio)
    j = joint_histogram(x, x.detach().flip(1), 64, kernel_width_ratio=ratio)
    grad, = torch.autograd.grad(h.sum() + (j * j).sum(), x)
    assert torch.isfinite(h).all() and torch.isfinite(j).all() and torch.isfinite(grad).all()


# ------------------------------------------------------------------ the operators


@NEEDS_NUMBA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_custom_ops_pass_opcheck(dtype):
    """Schema, fake (meta) kernels, autograd registration and AOT dispatch of the custom operators."""
    x, y = _values(2, 40, 10, dtype=dtype), _values(2, 40, 11, dtype=dtype)
    x.requires_grad_(True)
    torch.library.opcheck(torch.ops.huenet.band_histogram.default, (x, 8, 2.5, True))
    torch.library.opcheck(torch.ops.huenet.band_joint.default, (x, y, 8, 2.5, False))
    torch.library.opcheck(torch.ops.huenet.band_histogram_backward.default,
                          (torch.rand(2, 8, dtype=dtype), x.detach(), 8, 2.5, True))
    torch.library.opcheck(torch.ops.huenet.band_joint_backward.default,
                          (torch.rand(2, 8, 8, dtype=dtype), x.detach(), y, 8, 2.5, True))


@NEEDS_NUMBA
def test_kernels_turn_nan_into_nan_not_into_an_index():
    x = _values(2, 20, 12)
    x[0, 3] = float("nan")
    h = torch.ops.huenet.band_histogram(x, 8, 2.5, True)
    j = torch.ops.huenet.band_joint(x, x.flip(1), 8, 2.5, False)
    assert h[0].isnan().any() and not h[1].isnan().any()
    assert j[0].isnan().any() and not j[1].isnan().any()


def test_import_does_not_import_numba():
    code = "import huenet, sys; import huenet.core.histograms, huenet.core.losses; print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


@pytest.mark.parametrize("impl", ["fast", "torch", "dense"])
def test_losses_compile_fullgraph(impl):
    """No graph break and no host sync: the value checks are skipped while compiling, the kernels are opaque."""

    def losses_of(source: torch.Tensor, hue: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        emd = emd_loss(soft_histogram(hue, 256, cyclic=True, impl=impl), target, form="root")
        return emd + mi_loss(joint_histogram(source, hue, 32, cyclic=True, impl=impl))

    def value_and_grad(fn) -> tuple[torch.Tensor, torch.Tensor]:
        value = fn(source, hue, target)
        return value, *torch.autograd.grad(value, hue)

    torch._dynamo.reset()
    source, hue = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16, requires_grad=True)
    target = soft_histogram(torch.rand(2, 1, 16, 16), 256, cyclic=True)
    compiled = torch.compile(losses_of, fullgraph=True, backend="eager")
    torch.testing.assert_close(value_and_grad(compiled), value_and_grad(losses_of))
    nan = hue.detach().clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        losses_of(source, nan, target)
    assert compiled(source, nan, target).isnan()


# ------------------------------------------------------------------ properties


@given(bins=st.integers(2, 64), shift=st.integers(-70, 70), ratio=st.sampled_from([1.0, 2.5, 10.0]),
       seed=st.integers(0, 2**16), impl=st.sampled_from(BANDED))
def test_hue_shift_by_whole_bins_rolls_the_cyclic_histogram(bins, shift, ratio, seed, impl):
    x = _values(1, 40, seed, bins)
    rotated = torch.remainder(x + shift / bins, 1.0)
    kw = dict(cyclic=True, kernel_width_ratio=ratio, impl=impl)
    torch.testing.assert_close(soft_histogram(rotated, bins, **kw), soft_histogram(x, bins, **kw).roll(shift, -1),
                               atol=1e-8, rtol=0)


@given(bins=st.integers(2, 40), cyclic=st.booleans(), n=st.integers(5, 60), seed=st.integers(0, 2**16))
def test_joint_is_a_distribution_with_the_1d_histograms_as_marginals(bins, cyclic, n, seed):
    x, y = _values(2, n, seed, bins), _values(2, n, seed + 1, bins)
    j = joint_histogram(x, y, bins, cyclic=cyclic)
    assert (j >= 0).all()
    torch.testing.assert_close(j.sum((1, 2)), torch.ones(2, dtype=j.dtype))
    # to the mass the bands leave out: each pixel's y band weighs its x band by 1 - O(1e-7)
    torch.testing.assert_close(j.sum(2), soft_histogram(x, bins, cyclic=cyclic), atol=1e-7, rtol=0)
    torch.testing.assert_close(j.sum(1), soft_histogram(y, bins, cyclic=cyclic), atol=1e-7, rtol=0)


# ------------------------------------------------------------------ O(K) cyclic EMD


def _masses(k: int, seed: int) -> torch.Tensor:
    """Unnormalised histograms ``(2, 3, k)``, uneven as real ones are."""
    return torch.rand(2, 3, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) ** 4


def _normalised(masses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p, q = masses / masses.sum(-1, keepdim=True)
    return p, q


def _histogram_pair(k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return _normalised(_masses(k, seed))


def _circulant_emd(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The paper's construction (Eq. 14-15): all K cuts of both histograms, the cheapest one kept."""
    diff = torch.cumsum(circulant(p), -1) - torch.cumsum(circulant(q), -1)
    return diff.pow(2).mean(-1).min(-1).values


@pytest.mark.parametrize("k", [2, 3, 8, 64, 256])
def test_closed_form_equals_the_circulant_value_and_gradient(k):
    """Gradients with respect to the masses before normalisation: the two forms agree on histograms (both sum to
    1), so their gradients may differ along the all-ones direction, which normalising removes."""
    masses = _masses(k, k).requires_grad_(True)
    ours, reference = emd_loss(*_normalised(masses), reduction="none"), _circulant_emd(*_normalised(masses))
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), masses)[0],
                               torch.autograd.grad(reference.sum(), masses)[0], rtol=1e-9, atol=1e-14)


@given(k=st.integers(2, 300), seed=st.integers(0, 2**16))
def test_closed_form_is_the_cheapest_cut(k, seed):
    """Brute force in numpy: roll both histograms to every cut and keep the smallest mean squared CDF gap."""
    p, q = (h.numpy() for h in _histogram_pair(k, seed))
    cuts = [np.mean((np.cumsum(np.roll(p, -s, -1), -1) - np.cumsum(np.roll(q, -s, -1), -1)) ** 2, -1)
            for s in range(k)]
    ours = emd_loss(torch.from_numpy(p), torch.from_numpy(q), reduction="none").numpy()
    np.testing.assert_allclose(ours, np.min(cuts, 0),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("k", [3, 16, 100])
def test_cutting_the_circle_agrees_with_pot(k):
    """POT has no squared-CDF (Cramer) distance; with the L1 norm the same cheapest-cut construction is the
    Wasserstein-1 distance on the circle, which POT computes two ways."""
    p, q = (h[0] for h in _histogram_pair(k, k))
    d = torch.cumsum(p - q, -1)
    cheapest_l1_cut = (d[None, :] - d[:, None]).abs().mean(-1).min().item()
    centres = (np.arange(k) + 0.5) / k
    gap = np.abs(centres[:, None] - centres[None, :])
    pot = {"wasserstein_circle": ot.wasserstein_circle(centres, centres, p.numpy(), q.numpy(), p=1).item(),
           "emd2": ot.emd2(p.numpy(), q.numpy(), np.minimum(gap, 1 - gap))}
    for value in (*pot.values(), cyclic_w1(p[None], q[None]).item()):
        assert cheapest_l1_cut == pytest.approx(value, rel=1e-9, abs=1e-12)


@given(k=st.integers(2, 64), shift=st.integers(0, 63), seed=st.integers(0, 2**16))
def test_cyclic_emd_is_rotation_invariant_and_below_the_linear_one(k, shift, seed):
    p, q = _histogram_pair(k, seed)
    rolled = emd_loss(p.roll(shift, -1), q.roll(shift, -1), reduction="none")
    torch.testing.assert_close(rolled, emd_loss(p, q, reduction="none"), rtol=1e-9, atol=1e-15)
    assert (emd_loss(p, q, reduction="none") <= emd_loss(p, q, cyclic=False, reduction="none") + 1e-15).all()
