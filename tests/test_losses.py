import math

import numpy as np
import ot
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import energy_distance, entropy
from sklearn.metrics import mutual_info_score

from huenet.core.histograms import JointHistogram, SoftHistogram, joint_histogram, soft_histogram
from huenet.core.losses import EMDLoss, MILoss, circulant, cyclic_w1, emd_loss, mi_loss, relative_mi


def _hists(b: int, k: int, seed: int, sparsity: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    h = torch.rand(b, k, generator=g, dtype=torch.float64)
    h = h * (torch.rand(b, k, generator=g, dtype=torch.float64) >= sparsity)
    h[:, 0] += 1e-3  # never all-zero
    return h / h.sum(-1, keepdim=True)


histograms = st.tuples(st.integers(2, 48), st.integers(0, 2**16), st.sampled_from([0.0, 0.7]))


def _centres(k: int) -> np.ndarray:
    return (np.arange(k) + 0.5) / k


# ------------------------------------------------------------ oracles


@pytest.mark.parametrize("k", [2, 5, 64, 256])
@pytest.mark.parametrize("sparsity", [0.0, 0.9])
def test_cyclic_w1_equals_pot_wasserstein_circle(k, sparsity):
    p, q = _hists(2, k, seed=k, sparsity=sparsity), _hists(2, k, seed=k + 1, sparsity=sparsity)
    ours = cyclic_w1(p, q).numpy()
    x = _centres(k)
    ref = [ot.wasserstein_circle(x, x, p[i].numpy(), q[i].numpy(), p=1)[0] for i in range(2)]
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_cyclic_w1_known_values():
    k = 8
    delta = torch.zeros(3, k, dtype=torch.float64)
    delta[:, 0] = 1
    moved = torch.zeros(3, k, dtype=torch.float64)
    moved[0, 1] = moved[1, k - 1] = moved[2, k // 2] = 1
    torch.testing.assert_close(cyclic_w1(delta, moved), torch.tensor([1 / k, 1 / k, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("k", [2, 7, 256])
def test_linear_emd_loss_equals_scipy_cramer_distance(k):
    """mean_k (F_p - F_q)^2 is the integral of (F - G)^2, i.e. energy_distance^2 / 2."""
    p, q = _hists(3, k, seed=2 * k), _hists(3, k, seed=2 * k + 1)
    ours = emd_loss(p, q, cyclic=False, reduction="none").numpy()
    x = _centres(k)
    ref = [energy_distance(x, x, p[i].numpy(), q[i].numpy()) ** 2 / 2 for i in range(3)]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("k", [2, 9, 64])
def test_cyclic_emd_loss_is_the_cheapest_cut(k):
    """Brute force: cut the circle at every bin boundary (rolling both histograms)."""
    p, q = _hists(3, k, seed=3 * k), _hists(3, k, seed=3 * k + 1)
    pn, qn = p.numpy(), q.numpy()
    brute = np.min(
        [((np.cumsum(np.roll(pn, -s, -1), -1) - np.cumsum(np.roll(qn, -s, -1), -1)) ** 2).mean(-1) for s in range(k)],
        axis=0,
    )
    np.testing.assert_allclose(emd_loss(p, q, reduction="none").numpy(), brute, rtol=1e-12)
    # the same as min_s mean_k (D_k - D_s)^2 with D the CDF difference of the uncut histograms
    d = np.cumsum(pn - qn, -1)
    closed = ((d[:, None, :] - d[:, :, None]) ** 2).mean(-1).min(-1)
    np.testing.assert_allclose(emd_loss(p, q, reduction="none").numpy(), closed, rtol=1e-12)


@pytest.mark.parametrize("k", [3, 16, 256])
@pytest.mark.parametrize("cyclic", [True, False])
def test_sum_reduction_is_the_papers_literal_norm(k, cyclic):
    """Paper Eq. 13 without its 1/K: ||F_p - F_q||_2 over the K bins (root) and its square (squared), in numpy."""
    p, q = _hists(3, k, seed=5 * k), _hists(3, k, seed=5 * k + 1)
    pn, qn = p.numpy(), q.numpy()
    cuts = range(k) if cyclic else [0]
    norm2 = np.min([((np.cumsum(np.roll(pn, -s, -1), -1) - np.cumsum(np.roll(qn, -s, -1), -1)) ** 2).sum(-1)
                    for s in cuts], axis=0)
    summed = {form: emd_loss(p, q, cyclic=cyclic, form=form, over_bins="sum", reduction="none").numpy()
              for form in ("squared", "root")}
    np.testing.assert_allclose(summed["squared"], norm2, rtol=1e-12)
    np.testing.assert_allclose(summed["root"], np.sqrt(norm2),
                               rtol=1e-12)
    # sum = K x mean for the squared form, sqrt(K) x mean for the root
    for form, factor in (("squared", k), ("root", math.sqrt(k))):
        summed = emd_loss(p, q, cyclic=cyclic, form=form, over_bins="sum", reduction="none")
        averaged = emd_loss(p, q, cyclic=cyclic, form=form, reduction="none")
        torch.testing.assert_close(summed, factor * averaged, rtol=1e-12, atol=0)


def test_circulant_rows_are_negative_shifts():
    h = torch.arange(5.0)[None]
    c = circulant(h)[0]
    for s in range(5):
        torch.testing.assert_close(c[s], h[0].roll(-s))


def test_relative_mi_equals_sklearn_mutual_info():
    g = np.random.default_rng(0)
    a = g.integers(0, 16, 5000)
    b = (a + g.integers(0, 4, 5000)) % 16  # dependent, not identical
    counts = np.zeros((16, 16))
    np.add.at(counts, (a, b), 1)
    joint = torch.from_numpy(counts / counts.sum())[None]
    expected = mutual_info_score(a, b) / entropy(counts.ravel())
    np.testing.assert_allclose(relative_mi(joint).item(), expected, rtol=1e-10)


# ------------------------------------------------------------ properties


@given(histograms, st.booleans())
def test_emd_symmetric_and_zero_on_identical(params, cyclic):
    k, seed, sparsity = params
    p, q = _hists(2, k, seed, sparsity), _hists(2, k, seed + 1, sparsity)
    for fn in (lambda a, b: emd_loss(a, b, cyclic=cyclic, reduction="none"), cyclic_w1):
        torch.testing.assert_close(fn(p, q), fn(q, p))
        torch.testing.assert_close(fn(p, p), torch.zeros(2, dtype=p.dtype))
        assert (fn(p, q) >= 0).all()


@given(histograms)
def test_cyclic_w1_triangle_inequality(params):
    k, seed, sparsity = params
    p, q, r = (_hists(2, k, seed + i, sparsity) for i in range(3))
    assert (cyclic_w1(p, r) <= cyclic_w1(p, q) + cyclic_w1(q, r) + 1e-12).all()


@given(histograms, st.integers(-60, 60))
def test_cyclic_losses_ignore_where_the_circle_starts(params, shift):
    k, seed, sparsity = params
    p, q = _hists(2, k, seed, sparsity), _hists(2, k, seed + 1, sparsity)
    rolled = (p.roll(shift, -1), q.roll(shift, -1))
    torch.testing.assert_close(emd_loss(*rolled, reduction="none"), emd_loss(p, q, reduction="none"))
    torch.testing.assert_close(cyclic_w1(*rolled), cyclic_w1(p, q))


def test_hue_rotation_is_not_free():
    """Rolling only the output's histogram must cost (the paper's Eq. 14 read literally would not)."""
    p = _hists(1, 32, 0)
    for s in (1, 8, 16):
        assert emd_loss(p.roll(s, -1), p, reduction="none").item() > 1e-4
        assert cyclic_w1(p.roll(s, -1), p).item() > 1e-3


def test_relative_mi_of_an_image_with_itself_is_one():
    x = torch.rand(1, 4096, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    hard = torch.diag(soft_histogram(x, 32, kernel_width_ratio=1e4)[0])[None]
    torch.testing.assert_close(relative_mi(hard), torch.ones(1, dtype=hard.dtype))
    soft = [relative_mi(joint_histogram(x, x, 32, cyclic=True, kernel_width_ratio=r)).item() for r in (2.5, 25, 250)]
    assert soft[0] < soft[1] < soft[2] and soft[2] > 0.97, soft


def test_relative_mi_of_independent_noise_is_close_to_zero():
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(2, 1, 65536, generator=g)
    assert relative_mi(joint_histogram(x, y, 16, cyclic=True)).item() < 0.005


def test_relative_mi_bounds():
    j = torch.rand(4, 8, 8, dtype=torch.float64)
    j = j / j.sum((1, 2), keepdim=True)
    mi = relative_mi(j)
    assert ((mi >= 0) & (mi <= 1)).all()
    torch.testing.assert_close(mi_loss(j, reduction="none"), 1 - mi)


@pytest.mark.parametrize("kind", ["one_hot", "empty_rows"])
def test_mi_has_no_nan_on_degenerate_joints(kind):
    j = torch.zeros(1, 6, 6, dtype=torch.float64)
    if kind == "one_hot":
        j[0, 2, 3] = 1
    else:
        j[0, 1:3, 1:4] = 1 / 6
    j.requires_grad_(True)
    value = mi_loss(j, reduction="none")
    (grad,) = torch.autograd.grad(value.sum(), j)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    if kind == "one_hot":
        assert value.item() == 1.0  # a constant pair carries no information


# ------------------------------------------------------------ gradients


@given(histograms, st.booleans())
def test_root_emd_is_the_square_root_of_the_squared_form(case, cyclic):
    k, seed, sparsity = case
    p, q = _hists(3, k, seed, sparsity), _hists(3, k, seed + 1, sparsity)
    squared = emd_loss(p, q, cyclic=cyclic, form="squared", reduction="none")
    root = emd_loss(p, q, cyclic=cyclic, form="root", reduction="none")
    far = squared > 1e-10
    torch.testing.assert_close(root[far], squared[far].sqrt(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("cyclic", [True, False])
def test_root_emd_gradient_is_finite_at_identical_histograms(cyclic):
    p = _hists(2, 16, 21).requires_grad_(True)
    loss = emd_loss(p, p.detach().clone(), cyclic=cyclic, form="root", reduction="none")
    loss.sum().backward()
    assert loss.detach().max().item() <= 1e-6 and torch.isfinite(p.grad).all()


@pytest.mark.parametrize("fn", [lambda p, q: emd_loss(p, q, reduction="none"),
                                lambda p, q: emd_loss(p, q, cyclic=False, reduction="none"), cyclic_w1,
                                lambda p, q: emd_loss(p, q, form="root", reduction="none"),
                                lambda p, q: emd_loss(p, q, cyclic=False, form="root", reduction="none"),
                                lambda p, q: emd_loss(p, q, form="root", over_bins="sum", reduction="none")])
def test_gradcheck_histogram_distances(fn):
    p, q = _hists(2, 6, 11).requires_grad_(True), _hists(2, 6, 12).requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (p, q))


def test_gradcheck_mi_loss():
    j = _hists(2, 16, 13).view(2, 4, 4).requires_grad_(True)
    assert torch.autograd.gradcheck(mi_loss, (j,))


@pytest.mark.parametrize("impl", ["fast", "dense"])
def test_gradcheck_losses_through_the_layers(impl):
    g = torch.Generator().manual_seed(14)
    x = torch.rand(2, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 6, generator=g, dtype=torch.float64, requires_grad=True)
    target = _hists(2, 5, 15)

    def total(a, b):
        hist = soft_histogram(a, 5, cyclic=True, impl=impl)
        return emd_loss(hist, target) + mi_loss(joint_histogram(a, b, 5, cyclic=True, impl=impl))

    assert torch.autograd.gradcheck(total, (x, y))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: emd_loss(torch.rand(2, 4), torch.rand(2, 5)), "same shape"),
        (lambda: emd_loss(torch.rand(4), torch.rand(4)), r"\(B, K\)"),
        (lambda: emd_loss(torch.rand(2, 4), torch.rand(2, 4), form="cubed"), "form must be one of root, squared"),
        (lambda: emd_loss(torch.rand(2, 4), torch.rand(2, 4), over_bins="max"), "over_bins must be one of mean, sum"),
        (lambda: emd_loss(torch.rand(2, 4), torch.rand(2, 4), reduction="max"), "reduction must be one of mean, sum"),
        (lambda: mi_loss(torch.rand(2, 4, 4), reduction="all"), "reduction must be one of mean, sum, none"),
        (lambda: cyclic_w1(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long)), r"\(B, K\)"),
        (lambda: relative_mi(torch.rand(4, 4)), r"\(B, K, K\)"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_modules_are_the_functions_and_reduce_the_batch_as_torch_nn_does(reduction: str) -> None:
    g = torch.Generator().manual_seed(0)
    p, q = (torch.softmax(torch.randn(3, 16, generator=g), -1) for _ in range(2))
    joint = torch.softmax(torch.randn(3, 256, generator=g), -1).view(3, 16, 16)
    per_sample = emd_loss(p, q, form="root", reduction="none"), mi_loss(joint, reduction="none")
    reduce = {"mean": torch.mean, "sum": torch.sum, "none": lambda x: x}[reduction]
    torch.testing.assert_close(EMDLoss(form="root", reduction=reduction)(p, q), reduce(per_sample[0]))
    torch.testing.assert_close(MILoss(reduction=reduction)(joint), reduce(per_sample[1]))
    x = torch.rand(3, 1, 8, 8, generator=g)
    torch.testing.assert_close(SoftHistogram(16)(x), soft_histogram(x, 16))
    torch.testing.assert_close(JointHistogram(16, cyclic=False)(x, x.flip(-1)), joint_histogram(x, x.flip(-1), 16,
                                                                                                 cyclic=False))


def test_the_training_loop_of_docs_library_md_runs() -> None:
    """The example of docs/library.md, as printed, trains someone else's network with the losses."""
    import re
    from pathlib import Path

    code = re.findall(r"```python\n(.*?)```", (Path(__file__).parents[1] / "docs" / "library.md").read_text(), re.S)[1]
    torch.manual_seed(0)
    scope: dict = {}
    exec(code, scope)
    assert scope["step"] == 19 and torch.isfinite(scope["loss"]) and scope["loss"].requires_grad
