"""huenet.pipeline.gpu's job: the runs side by side, the chunked scoring, what comes back, and the dry run.

The last test is the dry run: the whole job, toy pass and all, on the CPU at a toy size, in a subprocess as the lent
machine runs it, so the GPU's minutes are not spent finding typos.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from huenet.data.cache import save_cache
from huenet.data.pairs import PairDataset
from huenet.data.split import make_split
from huenet.eval.evaluate import score
from huenet.pipeline.gpu.job import RETURNED, check_returned
from huenet.pipeline.gpu.pack import build_pack
from huenet.pipeline.gpu.profile import PassSettings, Run, read_profile
from huenet.pipeline.gpu.scoring import concat_scores
from huenet.pipeline.gpu.trainer import DevicePairs, PassFiles, train_runs
from huenet.training.train import TrainConfig
from tests.helpers import ROOT, edited_params, synthetic_cache, synthetic_release


def test_batches_made_on_the_device_are_the_hosts_and_the_run_keeps_its_identity():
    pairs = PairDataset(synthetic_cache(n=10, size=20), synthetic_cache(n=10).names, crop_size=16, seed=4,
                        flips="vertical")
    on_device = DevicePairs(pairs, "cpu")
    assert on_device.fingerprint() == pairs.fingerprint()
    for ours, theirs in zip(on_device.batches(3, start=2), pairs.batches(3, start=2)):
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
        break
    other = DevicePairs(PairDataset(pairs.cache, pairs.cache.names, crop_size=16, seed=5), "cpu")
    assert other.fingerprint() != pairs.fingerprint()


def test_scores_of_chunks_joined_are_the_scores_of_all_the_pairs():
    g = torch.Generator().manual_seed(1)
    source, target, out = (torch.rand(6, 3, 24, 24, generator=g) for _ in range(3))
    whole = score(source, target, {"m": out})
    joined = concat_scores([score(source[a:b], target[a:b], {"m": out[a:b]}) for a, b in ((0, 2), (2, 3), (3, 6))])

    def leaves(d, prefix=""):
        for k, v in d.items():
            yield from (leaves(v, prefix + k + "/") if isinstance(v, dict) else [(prefix + k, v)])

    assert dict(leaves(whole)).keys() == dict(leaves(joined)).keys()
    for (key, a), (_, b) in zip(leaves(whole), leaves(joined)):
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=key)


def test_what_cannot_come_back_from_the_machine_is_named(tmp_path):
    ok = tmp_path / "ok"
    (ok / "a" / "b").mkdir(parents=True)
    (ok / "a" / "b" / "results.json").write_text("{}")
    check_returned(ok)
    bad = tmp_path / "bad"
    (bad / "a" / "b" / "c").mkdir(parents=True)
    for i in range(8):
        (bad / f"f{i}.txt").write_text("x")
    (bad / "a" / "b" / "c" / "deep.txt").write_text("x")  # a/b/file comes back, a/b/c/file does not
    (bad / "a" / "b c.txt").write_text("x")
    with open(bad / "big.bin", "wb") as f:
        f.truncate(17 * 2**20)  # sparse: no disk spent
    with pytest.raises(ValueError) as err:
        check_returned(bad)
    for words in ("11 files", "big.bin is over 16 MiB", "a/b/c/deep.txt is more than 2 folders down", "'b c.txt'"):
        assert words in str(err.value)


@pytest.mark.slow
def test_a_run_that_diverges_is_left_out_and_the_others_train_to_the_planned_step(tmp_path):
    cache = synthetic_cache(n=12, size=32)
    split = make_split(list(cache.names), seed=0)
    files = PassFiles(tmp_path)
    save_cache(cache, files.cache)
    test = cache.images[cache.indices(split.test)]
    torch.save({"source": test, "target": test.flip(0)}, files.pairs)
    config = TrainConfig(width=4, depth=5, disc_layers=2, batch_size=2, steps=5, bins=16, mi_bins=8,
                         checkpoint_every=100, device="cpu")
    runs = (Run("steady", "steady", config), Run("blows", "blows", dataclasses.replace(config, lr=1e30)))
    settings = PassSettings(runs=runs, crop_size=32, threads=1, probe_steps=2, train_images=len(split.train),
                            test_pairs=len(split.test), n_boot=10, seed=0, figure_rows=1)
    now = time.time()
    results = train_runs(settings, files, split, deadline=now + 600, give_up_at=now + 600, log=lambda _: None)
    assert results["blows"] == {"diverged": "loss_adv became nan at step 1"}
    assert results["steady"]["steps"] == 5 and results["steady"]["probe_seconds_per_step"] > 0
    assert torch.load(files.outputs("steady")).shape == (len(split.test), 3, 32, 32)
    assert not files.outputs("blows").exists()


@pytest.mark.slow
def test_the_job_dry_run_on_the_cpu(tmp_path):
    """The lent machine's command, toy pass and real pass, at a toy size on the CPU.

    Toy size: 64 px images (depth 6), width 4, tens of steps, a few pairs; the GPU's own toy pass runs the real
    sizes first. The histograms take their torch path, the one CUDA runs (on the CPU "fast" would take numba's
    kernels), and the networks run under bf16 autocast as on the GPU.
    """
    records = synthetic_release(tmp_path / "release", 24)
    split = make_split([r.name for r in records], seed=0)
    pack = tmp_path / "pack"

    def tiny(params):
        params["pack"] |= {"dir": str(pack), "load_size": 64, "train_images": 12, "test_pairs": 4}
        params["train"]["config"] |= {"width": 4, "depth": 6, "batch_size": 2, "steps": 20, "device": "cpu",
                                      "histogram_impl": "torch"}
        params["train"] |= {"crop_size": 64, "probe_steps": 5, "threads": 1}
        params["score"] |= {"n_boot": 100, "figure_rows": 3}
        params["toy"] |= {"train_images": 4, "test_pairs": 2}

    params_gpu = edited_params(tmp_path, "params_gpu.yaml", tiny)
    build_pack(records, split, read_profile(params_gpu, ROOT / "params.yaml").pack, pack)
    out = tmp_path / "out"
    env = os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    job = subprocess.run([sys.executable, "-m", "huenet.pipeline.gpu.job", "--params-gpu", str(params_gpu),
                          "--out", str(out), "--work-dir", str(tmp_path / "work")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    assert job.returncode == 0, job.stdout + job.stderr
    assert "toy pass done" in job.stdout and "real pass done" in job.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(RETURNED)
    results = json.loads((out / "results.json").read_text())
    runs = results["runs"]
    assert list(runs) == ["huenet", "huenet-literal", "huenet-no-mi"]
    assert {run["steps"] for run in runs.values()} == {20}  # the deadline is far: every run to its most
    assert runs["huenet-literal"]["config"]["emd_reduction"] == "sum" and runs["huenet"]["config"]["amp"] is True
    assert all(len(run["weights"]["weights_digest_fp16"]) == 16 for run in runs.values())
    summary = results["summary"]
    assert summary["pairs"] == 4
    assert list(summary["methods"]) == ["huenet", "huenet-literal", "huenet-no-mi", "reinhard", "histmatch"]
    assert all(m["emd_tar_out"]["mean"] is not None for m in summary["methods"].values())
    table = (out / "table.md").read_text()
    assert "| huenet-literal | 4 |" in table and "EMD TAR-OUT" in table and "KID x 1000" not in table
    losses = (out / "losses.csv").read_text().splitlines()
    assert losses[0].startswith("run,step,loss_d") and len(losses) == 1 + 3 * 20
    scores = json.loads((out / "scores.json").read_text())
    assert len(scores["methods"]["reinhard"]["ssim"]) == 4
    print(f"dry run: {seconds:.0f} s")
