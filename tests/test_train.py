import dataclasses
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

import huenet.training.loop as loop_module
import huenet.training.train as train_module
from huenet.baselines.color_gan import ColorGANConfig
from huenet.nets.hue_net import load_generator
from huenet.training.loop import CheckpointError, run_defining
from huenet.training.train import TrainConfig, TrainingDiverged, TrainingRun, train
from tests.helpers import synthetic_pairs

TINY = dict(width=4, depth=4, disc_width=4, disc_layers=2, batch_size=4, bins=32, checkpoint_every=5)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.mark.parametrize("config", [TrainConfig, ColorGANConfig])
def test_every_config_field_is_marked_defining_or_not(config):
    # run_defining raises on a field marked neither way, so a new field must say whether it defines the run
    assert set(run_defining(config)) == {f.name for f in dataclasses.fields(config)} - {
        "steps", "checkpoint_every", "device"}


def test_an_unmarked_config_field_is_refused():
    @dataclasses.dataclass
    class Config:
        width: int = 1

    with pytest.raises(TypeError, match="Config fields not marked defining or not_defining: width"):
        run_defining(Config)


def test_one_step_reduces_the_emd_term():
    cfg = TrainConfig(**{**TINY, "dropout": 0.0, "lr": 1e-3, "lambda_mi": 0.0})
    run = TrainingRun(cfg, torch.device("cpu"))
    batch = synthetic_pairs().batch(torch.arange(4))
    src, tar = batch["source"], batch["target"]

    def emd() -> float:
        return run.train_step(src, tar)["loss_emd"]  # measured before that step's update

    first = emd()
    for _ in range(3):
        last = emd()
    assert last < first


def test_training_writes_generator_log_and_checkpoint(tmp_path):
    cfg = TrainConfig(**TINY, steps=7)
    final = train(cfg, synthetic_pairs(), tmp_path, progress=False)
    g = load_generator(final)
    assert g.config() == {"width": 4, "depth": 4, "dropout": 0.5}
    lines = (tmp_path / "losses.csv").read_text().splitlines()
    assert lines[0].startswith("step,loss_d") and len(lines) == 8
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 7


def test_same_seed_same_weights(tmp_path):
    # Bit-identical on one machine, which is the property (seeded runs); another CPU gives other last bits.
    cfg = TrainConfig(**TINY, steps=6)
    a = train(cfg, synthetic_pairs(), tmp_path / "a", progress=False)
    b = train(cfg, synthetic_pairs(), tmp_path / "b", progress=False)
    for k, v in _weights(a).items():
        torch.testing.assert_close(_weights(b)[k], v, rtol=0, atol=0)
    # and the same files: a retrain that changes nothing leaves DVC's hashes of them as they were
    for name in ("generator.pt", "checkpoint.pt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


_KILLABLE = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {root!r})
    torch.set_num_threads(2)
    from huenet.training.train import TrainConfig, train
    from tests.helpers import synthetic_pairs
    train(TrainConfig(**{cfg!r}), synthetic_pairs(), {out!r}, progress=False)
    """
)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path):
    # Both runs on this machine: a resumed run equals an uninterrupted one bit for bit (per machine).
    cfg = {**TINY, "steps": 60}
    root = str(Path(__file__).resolve().parents[1])
    script = _KILLABLE.format(root=root, cfg=cfg, out=str(tmp_path / "killed"))
    proc = subprocess.Popen([sys.executable, "-c", script])
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it run past the checkpoint, so the log holds rows to be redone
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step_at_kill = torch.load(checkpoint, weights_only=False)["step"]
    assert 0 < step_at_kill < 60, "the run must be killed part-way"

    torch.set_num_threads(2)
    resumed = train(TrainConfig(**cfg), synthetic_pairs(), tmp_path / "killed", progress=False)
    straight = train(TrainConfig(**cfg), synthetic_pairs(), tmp_path / "straight", progress=False)
    for k, v in _weights(straight).items():
        torch.testing.assert_close(_weights(resumed)[k], v, rtol=0, atol=0)
    steps = [int(line.split(",")[0]) for line in (tmp_path / "killed" / "losses.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 61))


@pytest.mark.slow
def test_a_finished_checkpoint_of_other_code_is_trained_again(tmp_path, monkeypatch, capsys):
    # A stage rerun after a code change finds its persisted checkpoint: same config, other code.
    cfg = TrainConfig(**TINY, steps=5)
    train(cfg, synthetic_pairs(), tmp_path, progress=False)
    train(cfg, synthetic_pairs(), tmp_path, progress=False)
    assert "starting afresh" not in capsys.readouterr().out  # same code: the finished run is kept
    log_before = (tmp_path / "losses.csv").read_text()
    monkeypatch.setattr(loop_module, "code_fingerprint", lambda module: "0123456789abcdef")
    train(cfg, synthetic_pairs(), tmp_path, progress=False)
    assert "(its code differ); starting afresh" in capsys.readouterr().out
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["identity"]["code"] == "0123456789abcdef" and state["step"] == 5
    assert (tmp_path / "losses.csv").read_text().count("\n") == log_before.count("\n")  # 5 rows again, not 10


@pytest.mark.parametrize("changed", [
    dict(crop_size=32),  # train.crop_size
    dict(n=11),  # another split: one image fewer
    dict(size=40),  # other pixels under the same names (a cache at another load size)
])
@pytest.mark.slow
def test_a_finished_checkpoint_of_other_data_is_trained_again(tmp_path, capsys, changed):
    cfg, base = TrainConfig(**TINY, steps=5), dict(size=32)
    train(cfg, synthetic_pairs(**base), tmp_path, progress=False)
    train(cfg, synthetic_pairs(**base), tmp_path, progress=False)
    assert "starting afresh" not in capsys.readouterr().out
    train(cfg, synthetic_pairs(**{**base, **changed}), tmp_path, progress=False)
    said = capsys.readouterr().out
    assert "belongs to another run" in said and "data" in said, said


@pytest.mark.slow
def test_more_steps_continue_the_run_and_other_threads_do_not(tmp_path, capsys):
    train(TrainConfig(**TINY, steps=5), synthetic_pairs(), tmp_path, progress=False)
    train(TrainConfig(**{**TINY, "checkpoint_every": 2}, steps=7), synthetic_pairs(), tmp_path, progress=False)
    assert "starting afresh" not in capsys.readouterr().out
    threads = torch.get_num_threads()
    torch.set_num_threads(threads % 2 + 1)
    try:
        train(TrainConfig(**TINY, steps=7), synthetic_pairs(), tmp_path, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert "(its threads differ); starting afresh" in capsys.readouterr().out


@pytest.mark.slow
def test_checkpoint_is_never_half_written(tmp_path, monkeypatch):
    cfg = TrainConfig(**TINY, steps=5)
    train(cfg, synthetic_pairs(), tmp_path, progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def crash_mid_write(obj, f, *args, **kwargs):
        f.write(b"partial")  # the archive goes to an open file (huenet.files.atomic_write_binary)
        raise OSError("disk full")

    monkeypatch.setattr(train_module.torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        train(TrainConfig(**{**TINY, "steps": 10}), synthetic_pairs(), tmp_path, progress=False)
    monkeypatch.setattr(train_module.torch, "save", real_save)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 5


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    real_emd = train_module.emd_loss
    calls = {"n": 0}

    def emd_that_breaks(p, q, **kwargs):
        calls["n"] += 1
        out = real_emd(p, q, **kwargs)
        return out * float("nan") if calls["n"] == 8 else out

    monkeypatch.setattr(train_module, "emd_loss", emd_that_breaks)
    with pytest.raises(TrainingDiverged, match="loss_emd became nan at step 8"):
        train(TrainConfig(**TINY, steps=20), synthetic_pairs(), tmp_path, progress=False)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=False)["step"] == 5
    assert not (tmp_path / "generator.pt").exists()


def test_bad_generator_files(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_generator(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot read"):
        load_generator(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a huenet generator"):
        load_generator(tmp_path / "other.pt")


def test_bad_config():
    with pytest.raises(ValueError, match="unknown training parameters: colour"):
        TrainConfig.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_huenet_train_refuses_a_bad_setting_in_one_line(tmp_path, capsys):
    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    params["train"]["config"]["lambda_mi"] = "abc"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert train_module.main(["--params", str(tmp_path / "params.yaml"), "--variant", "full",
                              "--out-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == "huenet train: error: lambda_mi must be a number >= 0, got 'abc'\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "not a checkpoint"])
def test_a_damaged_checkpoint_is_one_line_naming_the_file_and_the_fix(tmp_path, damage):
    cfg = TrainConfig(**TINY, steps=5)
    train(cfg, synthetic_pairs(), tmp_path, progress=False)
    checkpoint = tmp_path / "checkpoint.pt"
    if damage == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    elif damage == "garbage":
        checkpoint.write_bytes(b"\x00not a zip file" * 10)
    else:
        torch.save([1, 2, 3], checkpoint)
    with pytest.raises(CheckpointError) as caught:
        train(dataclasses.replace(cfg, steps=8), synthetic_pairs(), tmp_path, progress=False)
    message = str(caught.value)
    assert "\n" not in message and str(checkpoint) in message and "delete it" in message, message
    checkpoint.unlink()  # the fix the message gives
    train(dataclasses.replace(cfg, steps=8), synthetic_pairs(), tmp_path, progress=False)
