"""Data-parallel training (huenet.training.distributed, `huenet train` under torchrun) on CPU, gloo; bf16 autocast."""

import csv
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import huenet.training.train as train_module
from huenet.core.histograms import joint_histogram, soft_histogram
from huenet.core.losses import emd_loss, mi_loss
from huenet.training.distributed import Ranks, from_environment, shard
from huenet.training.train import TrainConfig, TrainingDiverged, TrainingRun, main, train
from tests.helpers import synthetic_pairs

# Dropout off: with it, each rank draws its own masks, which no one-process run reproduces.
TINY = dict(width=4, depth=4, disc_width=4, disc_layers=2, batch_size=4, bins=32, dropout=0.0, lr=1e-3)


class _TwinHalves:
    """Pairs whose global batch is one half-batch twice, ``[a, b, a, b]``.

    With 2 ranks each rank's share is ``[a, b]``: its batch statistics (BatchNorm's mean and
    variance, the losses' batch means) are those of the global batch, so a 2-process run must
    follow the 1-process run up to rounding.
    """

    def __init__(self) -> None:
        self.pairs = synthetic_pairs()
        self.crop_size = self.pairs.crop_size

    def fingerprint(self) -> str:  # a checkpoint records what the run trained on (huenet.training.loop.run_identity)
        return "twin halves " + self.pairs.fingerprint()

    def batches(self, batch_size: int, start: int = 0):
        for half in self.pairs.batches(batch_size // 2, start):
            yield {key: torch.cat((value, value)) for key, value in half.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world_size: int, port: int, config: dict, out_dir: str, nan_on_rank: int | None) -> None:
    """One torchrun worker: the environment torchrun would set, then the same train() call as every rank.

    On rank ``nan_on_rank`` the EMD loss is NaN; each rank then writes what stopped it to ``rank<r>.txt``.
    """
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    if rank == nan_on_rank:
        train_module.emd_loss = lambda p, q, **kwargs: torch.full((), float("nan"))  # a reduced loss, as emd_loss gives
    try:
        train(TrainConfig(**config), _TwinHalves(), out_dir, progress=False)
    except TrainingDiverged as err:
        (Path(out_dir) / f"rank{rank}.txt").write_text(str(err))


def _train_on_two_ranks(config: dict, out_dir: Path, nan_on_rank: int | None = None) -> None:
    mp.start_processes(_rank, args=(2, _free_port(), config, str(out_dir), nan_on_rank), nprocs=2,
                       start_method="spawn")


def _log(out_dir: Path) -> list[dict[str, float]]:
    with (out_dir / "losses.csv").open() as f:
        return [{k: float(v) for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_distributed_two_ranks_train_checkpoint_resume_and_match_one_process(tmp_path):
    ddp = tmp_path / "ddp"
    _train_on_two_ranks({**TINY, "steps": 3, "checkpoint_every": 3}, ddp)
    assert torch.load(ddp / "checkpoint.pt", weights_only=True)["step"] == 3
    assert sorted(p.name for p in ddp.iterdir()) == ["checkpoint.pt", "generator.pt", "losses.csv"]
    first_rows = (ddp / "losses.csv").read_text().splitlines()

    _train_on_two_ranks({**TINY, "steps": 6, "checkpoint_every": 3}, ddp)  # resumes at step 3
    assert torch.load(ddp / "checkpoint.pt", weights_only=True)["step"] == 6
    rows = (ddp / "losses.csv").read_text().splitlines()
    assert rows[:4] == first_rows and len(rows) == 7  # steps 1-3 kept, timings included: not run again

    torch.set_num_threads(1)
    one = tmp_path / "one"
    train(TrainConfig(**TINY, steps=6, checkpoint_every=3), _TwinHalves(), one, progress=False)

    # The logged losses are the mean over ranks, i.e. the global batch's; rank-wise batch means
    # and a sum of two gradients instead of one batch reduction differ only by float32 rounding.
    for ddp_row, one_row in zip(_log(ddp), _log(one), strict=True):
        for name, value in one_row.items():
            assert ddp_row[name] == pytest.approx(value, rel=1e-4, abs=1e-6), (name, ddp_row["step"])
    # The weights: after 6 Adam steps of lr 1e-3 they differ by at most 2e-6 on this machine; Adam
    # divides by sqrt(v), which can amplify rounding on parameters with near-zero gradients, hence
    # the margin (still 10x below one step's size). BatchNorm's running variance is left out: each
    # rank corrects it with its own sample count (n / (n - 1)), so it must differ.
    got = torch.load(ddp / "generator.pt", weights_only=True)["state_dict"]
    want = torch.load(one / "generator.pt", weights_only=True)["state_dict"]
    for name, value in want.items():
        if not name.endswith(("running_var", "num_batches_tracked")):
            torch.testing.assert_close(got[name], value, rtol=1e-3, atol=1e-4, msg=name)


@pytest.mark.slow
def test_distributed_a_nan_on_one_rank_stops_both_at_that_step(tmp_path):
    _train_on_two_ranks({**TINY, "steps": 3}, tmp_path, nan_on_rank=1)
    for rank in (0, 1):
        assert (tmp_path / f"rank{rank}.txt").read_text() == "loss_emd became nan at step 1"
    assert not (tmp_path / "checkpoint.pt").exists()


def test_the_entry_point_refuses_bad_settings_in_one_line(tmp_path, capsys):
    params = Path(__file__).resolve().parents[1] / "params.yaml"
    assert main(["--params", str(params), "--variant", "nope", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"huenet train: error: params group 'train' in {params} has no variant 'nope'\n"


def test_a_batch_that_does_not_split_evenly_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ValueError, match="batch_size 4 cannot be split evenly over 3 processes"):
        from_environment(torch.device("cpu"), 4)


def test_each_rank_takes_its_contiguous_share():
    batch = {"source": torch.arange(6).view(6, 1), "target": torch.arange(6, 12).view(6, 1)}
    shares = [shard(batch, Ranks(rank, rank, 3)) for rank in range(3)]
    assert [s["source"].flatten().tolist() for s in shares] == [[0, 1], [2, 3], [4, 5]]
    assert torch.cat([s["target"] for s in shares]).equal(batch["target"])


def test_histograms_and_losses_stay_float32_under_bf16_autocast():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 1, 16, 16, generator=g), torch.rand(2, 1, 16, 16, generator=g)

    def outputs() -> list[torch.Tensor]:
        out = []
        for impl in ("fast", "dense"):
            p, q = soft_histogram(x, 64, cyclic=True, impl=impl), soft_histogram(y, 64, cyclic=True, impl=impl)
            joint = joint_histogram(x, y, 32, cyclic=True, impl=impl)
            out += [p, joint, emd_loss(p, q), mi_loss(joint)]
        return out

    want = outputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = outputs()
        bf16_hist = soft_histogram(x.bfloat16(), 64, cyclic=True)  # a network's output under autocast
    for g_, w in zip(got, want, strict=True):
        assert g_.dtype == torch.float32
        torch.testing.assert_close(g_, w)  # float32 tolerances: same ops, same precision
    assert bf16_hist.dtype == torch.float32


def test_a_bf16_autocast_step_trains():
    run = TrainingRun(TrainConfig(**TINY, amp=True), torch.device("cpu"))
    batch = synthetic_pairs().batch(torch.arange(4))
    losses = run.train_step(batch["source"], batch["target"])
    assert run.step == 1 and all(torch.isfinite(torch.tensor(v)) for v in losses.values())
