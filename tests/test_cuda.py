"""The core on a GPU: the histograms and losses on CUDA agree with the CPU, have float64 gradients that pass
gradcheck, and a training step runs under bf16 autocast. Skipped where there is no CUDA device (CI has none)."""

from __future__ import annotations

import pytest
import torch

from huenet.core.histograms import joint_histogram, soft_histogram
from huenet.core.losses import emd_loss, mi_loss

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def _hues(b: int = 2, n: int = 4096, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(b, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("impl", ["fast", "torch", "dense"])
@pytest.mark.parametrize("bins", [32, 256])
def test_histograms_and_losses_on_cuda_agree_with_the_cpu(impl: str, bins: int) -> None:
    x, y = _hues(seed=1), _hues(seed=2)
    on_cpu = (soft_histogram(x, bins, impl="dense"), joint_histogram(x, y, bins, impl="dense"))
    on_gpu = (soft_histogram(x.cuda(), bins, impl=impl), joint_histogram(x.cuda(), y.cuda(), bins, impl=impl))
    for cpu, gpu in zip(on_cpu, on_gpu):
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-6, rtol=0)
    loss = emd_loss(on_gpu[0], on_gpu[0].roll(3, -1), form="root") + mi_loss(on_gpu[1])
    assert loss.device.type == "cuda" and torch.isfinite(loss)


@pytest.mark.parametrize("impl", ["fast", "torch"])
def test_gradcheck_on_cuda_in_float64(impl: str) -> None:
    x = _hues(2, 6, seed=3, dtype=torch.float64).cuda().requires_grad_(True)
    y = _hues(2, 6, seed=4, dtype=torch.float64).cuda().requires_grad_(True)
    target = soft_histogram(_hues(2, 6, seed=5, dtype=torch.float64).cuda(), 5)

    def losses(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return emd_loss(soft_histogram(a, 5, impl=impl), target, form="root") + mi_loss(
            joint_histogram(a, b, 5, impl=impl))

    assert torch.autograd.gradcheck(losses, (x, y))


def test_a_training_step_under_bf16_autocast_on_cuda() -> None:
    from huenet.training.train import TrainConfig, TrainingRun

    config = TrainConfig(width=8, depth=5, disc_layers=2, batch_size=4, bins=64, mi_bins=16, amp=True, device="cuda")
    run = TrainingRun(config, torch.device("cuda"))
    hsv = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)).cuda()
    losses = run.train_step(hsv[:4], hsv[4:])
    assert run.step == 1 and all(torch.isfinite(torch.tensor(v)) for v in losses.values())
