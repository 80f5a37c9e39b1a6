"""Histogram losses (paper Eq. 8-18, 26-27), as functions and as ``nn.Module`` s.

The losses take normalised histograms (each row sums to 1, e.g. from
:func:`huenet.core.histograms.soft_histogram`) and reduce over the batch as
``torch.nn`` losses do: ``reduction="mean"`` (the default), ``"sum"`` or
``"none"`` (one value per batch element, ``(B,)``). The distances
(``cyclic_w1``, ``linear_w1``, ``relative_mi``) return ``(B,)``.

**Devices, dtypes, determinism.** Pure tensor operations on the histograms'
device, no host sync; float32 or float64 (half-precision inputs are computed in
float32, :func:`~huenet.core.histograms.in_float32`). Deterministic on every
device: nothing here scatters or accumulates atomically. ``cyclic=True`` (hue)
is the default of every function of the core.

* ``emd_loss``: L2 distance between CDFs (Hou et al., paper Eq. 13), the mean
  over the K bins of the squared CDF difference (``form="squared"``, the
  Cramer distance; its scale does not depend on K) or that mean's square root
  (``form="root"``, Hou et al.'s l2 EMD as the authors' released code computes
  it). ``over_bins="sum"`` sums over the bins instead, the paper's literal
  Eq. 13 with the normalisation dropped: K times the mean for the squared
  form, sqrt(K) times it for the root (``over_bins="sum"``; ``train.config.emd_reduction`` in ``params.yaml``).
  The root's gradient does not fade as the histograms meet, which decides
  how the loss weighs against the MI term (``reports/calibration.csv``). Its cyclic
  version (Eq. 14-15) follows Werman et al.: cut the circle at each of the K
  bin boundaries, which shifts *both* histograms by the same offset, and keep
  the cheapest cut. Shifting only one of them would make every hue rotation
  free. The paper builds the K cuts as a ``(K, K)`` circulant; the cheapest cut
  has a closed form in ``O(K)`` instead (see :func:`emd_loss`), and
  :func:`circulant` stays as the paper's construction, for reference.
* ``cyclic_w1`` / ``linear_w1``: the exact Wasserstein-1 distance on the hue
  circle / on the interval [0, 1] (hue cut at red), for evaluation.
* ``relative_mi`` / ``mi_loss``: I(X;Y) / H(X,Y) of a joint histogram
  (Kraskov et al., Eq. 17) and one minus it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from huenet.core.histograms import in_float32

__all__ = ["EMD_FORMS", "EMD_REDUCTIONS", "REDUCTIONS", "emd_loss", "EMDLoss", "mi_loss", "MILoss", "relative_mi",
           "cyclic_w1", "linear_w1", "circulant"]


EMD_FORMS = ("root", "squared")
EMD_REDUCTIONS = ("mean", "sum")  # over the K bins: over_bins
REDUCTIONS = ("mean", "sum", "none")  # over the batch, as torch.nn's losses
# Below this squared distance (CDFs equal to about 1e-6) the root form is flat: its
# gradient would otherwise be 1 / (2 sqrt(0)) at identical histograms.
_ROOT_FLOOR = 1e-12


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    """``(B,)`` per-sample losses reduced over the batch as ``torch.nn`` losses do."""
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")


def _check_pair(p: Tensor, q: Tensor) -> None:
    for name, h in (("p", p), ("q", q)):
        if not isinstance(h, Tensor) or h.ndim != 2 or not h.is_floating_point():
            raise ValueError(f"{name} must be a (B, K) floating tensor, got {getattr(h, 'shape', type(h))}")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {tuple(p.shape)} and {tuple(q.shape)}")


def circulant(h: Tensor) -> Tensor:
    """All cyclic shifts of each histogram: ``(B, K)`` -> ``(B, K, K)``.

    Row ``s`` is ``h`` shifted negatively by ``s`` (paper Eq. 15): row s, column k
    holds ``h[(k + s) mod K]``. This is the circulant matrix of the paper's
    section 2.4.1, gathered by index rather than multiplied by K permutation
    matrices (same values, O(K^2) instead of O(K^3) work). :func:`emd_loss` no
    longer builds it; it is the reference its closed form is tested against.
    """
    k = h.shape[-1]
    idx = torch.arange(k, device=h.device)
    return h[:, torch.remainder(idx.view(k, 1) + idx.view(1, k), k)]


@in_float32
def emd_loss(p: Tensor, q: Tensor, *, cyclic: bool = True, form: str = "squared", over_bins: str = "mean",
             reduction: str = "mean") -> Tensor:
    """L2 EMD loss between histograms: the squared CDF difference, or its root.

    Cutting the circle at bin boundary ``s`` subtracts ``D_s`` from every
    cumulative difference ``D = cumsum(p - q)`` (``D_(K-1) = 0``: both sum to 1),
    so the cyclic squared loss is, with ``m = mean_k D_k``,
    ``min_s mean_k (D_k - D_s)^2 = mean_k (D_k - m)^2 + min_s (D_s - m)^2``:
    ``O(K)`` where the circulant of all K cuts is ``O(K^2)``, and the same value
    and (sub)gradient, the one of the cheapest cut.

    Args:
        p, q: ``(B, K)`` normalised histograms.
        cyclic: minimise over the K cyclic cuts (hue) instead of cutting at 0.
        form: ``"squared"``: ``mean_k (F_p[k] - F_q[k])^2`` (min over cuts when
            cyclic); ``"root"``: its square root, taken as ``sqrt(max(d, 1e-12))``
            so that the gradient is finite (zero) at identical histograms.
        over_bins: ``"mean"`` over the K bins, or ``"sum"`` (the paper's
            Eq. 13 without its ``1/K``): K times the mean, before any root.
        reduction: over the batch: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        A scalar, or ``(B,)`` losses with ``reduction="none"``; ``p``'s dtype
        (float32 for half precision) and device.

    >>> p = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    >>> q = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    >>> emd_loss(p, q, cyclic=False)
    tensor(0.2500)
    >>> emd_loss(p, q, cyclic=False, form="root")
    tensor(0.5000)
    >>> last = torch.tensor([[0.0, 0.0, 0.0, 1.0]])  # on the hue circle, the first bin's other neighbour
    >>> emd_loss(p, last, cyclic=False), emd_loss(p, last)
    (tensor(0.7500), tensor(0.2500))
    >>> emd_loss(p, q, cyclic=False, over_bins="sum"), emd_loss(p, q, cyclic=False, form="root", over_bins="sum")
    (tensor(1.), tensor(1.))
    >>> emd_loss(torch.cat((p, p)), torch.cat((q, last)), reduction="none")  # one per pair
    tensor([0.2500, 0.2500])
    """
    _check_pair(p, q)
    if form not in EMD_FORMS:
        raise ValueError(f"form must be one of {', '.join(EMD_FORMS)}, got {form!r}")
    if over_bins not in EMD_REDUCTIONS:
        raise ValueError(f"over_bins must be one of {', '.join(EMD_REDUCTIONS)}, got {over_bins!r}")
    d = torch.cumsum(p - q, -1)
    if not cyclic:
        squared = d.pow(2).mean(-1)
    else:
        spread = (d - d.mean(-1, keepdim=True)).pow(2)
        squared = spread.mean(-1) + spread.min(-1).values
    if over_bins == "sum":  # the cheapest cut is the same for the sum and the mean
        squared = squared * p.shape[-1]
    return _reduce(squared if form == "squared" else squared.clamp_min(_ROOT_FLOOR).sqrt(), reduction)


class EMDLoss(nn.Module):
    """:func:`emd_loss` as a module: ``forward(p, q)`` on ``(B, K)`` normalised histograms.

    >>> loss = EMDLoss(form="root")
    >>> loss(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    tensor(0.5000)
    """

    def __init__(self, *, cyclic: bool = True, form: str = "squared", over_bins: str = "mean",
                 reduction: str = "mean") -> None:
        super().__init__()
        self.cyclic, self.form, self.over_bins, self.reduction = cyclic, form, over_bins, reduction

    def forward(self, p: Tensor, q: Tensor) -> Tensor:
        return emd_loss(p, q, cyclic=self.cyclic, form=self.form, over_bins=self.over_bins, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"cyclic={self.cyclic}, form={self.form!r}, over_bins={self.over_bins!r}, reduction={self.reduction!r}"


def cyclic_w1(p: Tensor, q: Tensor) -> Tensor:
    """Exact Wasserstein-1 distance on a circle of circumference 1.

    Bin ``k``'s mass sits at ``(k + 1/2) / K``. With ``D = F_p - F_q``,
    ``W1 = (1/K) sum_k |D_k - median(D)|`` (Werman et al.; Rabin et al.).

    Args:
        p, q: ``(B, K)`` normalised histograms.

    Returns:
        ``(B,)`` distances in [0, 1/2].
    """
    _check_pair(p, q)
    d = torch.cumsum(p - q, -1)
    return (d - d.median(-1, keepdim=True).values).abs().mean(-1)


def linear_w1(p: Tensor, q: Tensor) -> Tensor:
    """Exact Wasserstein-1 distance on [0, 1] (no wrap-around), bin ``k``'s mass at ``(k + 1/2) / K``.

    ``W1 = (1/K) sum_k |F_p[k] - F_q[k]|``. For hue this is the distance of a
    histogram cut at red, as a non-cyclic EMD sees it: at least :func:`cyclic_w1`.

    Args:
        p, q: ``(B, K)`` normalised histograms.

    Returns:
        ``(B,)`` distances in [0, 1].

    >>> linear_w1(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0, 1.0]]))
    tensor([0.7500])
    """
    _check_pair(p, q)
    return torch.cumsum(p - q, -1).abs().mean(-1)


def _xlogx(p: Tensor) -> Tensor:
    """``p log p`` with ``0 log 0 = 0`` and a zero (not NaN) gradient at 0."""
    positive = p > 0
    return torch.where(positive, p * torch.log(torch.where(positive, p, torch.ones_like(p))), torch.zeros_like(p))


def relative_mi(joint: Tensor, eps: float = 1e-12) -> Tensor:
    """Relative mutual information ``I(X;Y) / H(X,Y)`` (paper Eq. 17).

    Natural logarithms (the ratio does not depend on the base). A joint
    histogram with zero entropy (all mass in one bin) carries no information
    and gets 0; empty bins contribute nothing and no NaN.

    Args:
        joint: ``(B, K, K)`` non-negative joint histogram summing to 1.

    Returns:
        ``(B,)`` values in [0, 1].
    """
    if not isinstance(joint, Tensor) or joint.ndim != 3 or not joint.is_floating_point():
        raise ValueError(f"joint must be a (B, K, K) floating tensor, got {getattr(joint, 'shape', type(joint))}")
    h_xy = -_xlogx(joint).sum((1, 2))
    h_x = -_xlogx(joint.sum(2)).sum(-1)
    h_y = -_xlogx(joint.sum(1)).sum(-1)
    return (h_x + h_y - h_xy) / h_xy.clamp_min(eps)


@in_float32
def mi_loss(joint: Tensor, *, reduction: str = "mean") -> Tensor:
    """Semantic loss ``1 - I(X;Y) / H(X,Y)`` (paper Eq. 17, 27).

    Args:
        joint: ``(B, K, K)`` normalised joint histogram, e.g. from
            :func:`huenet.core.histograms.joint_histogram`.
        reduction: over the batch: ``"mean"``, ``"sum"`` or ``"none"`` (``(B,)``).

    >>> x = torch.rand(2, 500, generator=torch.Generator().manual_seed(0))
    >>> from huenet.core.histograms import joint_histogram
    >>> copy, unrelated = joint_histogram(x, x, 16), joint_histogram(x, x.flip(0), 16)
    >>> bool(mi_loss(copy) < mi_loss(unrelated))  # a copy keeps the most information
    True
    """
    return _reduce(1.0 - relative_mi(joint), reduction)


class MILoss(nn.Module):
    """:func:`mi_loss` as a module: ``forward(joint)`` on a ``(B, K, K)`` normalised joint histogram.

    >>> MILoss(reduction="none")(torch.full((1, 2, 2), 0.25))  # independent: no information kept
    tensor([1.])
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, joint: Tensor) -> Tensor:
        return mi_loss(joint, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
