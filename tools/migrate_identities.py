"""Carry finished training runs across a change of the training code that does not change what it trains.

A checkpoint records a digest of the code that trained it (``huenet.training.code.code_fingerprint``), so an edit to
the training's import closure retrains the run. A change that only moves files, renames or re-exports (the layout of
version 0.2.0 moved the training module into ``huenet/training/``) changes that digest without changing one
weight. This script proves that for a given change and then rewrites the recorded digest:

1. in a folder holding the package as committed at ``--before`` and in the working tree, it trains the same tiny
   run of each trained model (Hue-Net and the colour GAN, from the pipeline's own data: ``artifacts/``) with each
   version of the code, and compares the weights bit for bit; any difference refuses the migration;
2. for every checkpoint of the pipeline whose recorded digest is the ``--before`` code's, it writes the working
   tree's digest in its place (atomically). Nothing else in the file changes, and no other file is touched.

Afterwards ``dvc repro`` finds the runs finished (``huenet launch`` and the colour GAN's resume end at once) and
``dvc commit`` records the rewritten checkpoints. Run it from the repository root, once, with the commit the models
were trained at::

    python tools/migrate_identities.py --before 29a8271

Exit status: 0 migrated (or nothing to do), 1 the tiny runs differ, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import torch

from huenet.files import atomic_write_binary
from huenet.pipeline.stage_deps import TRAINED_BY
from huenet.training.code import code_fingerprint

# Where the trained modules were before the layout of 0.2.0 (the only move this script has been used for).
BEFORE = {"huenet.training.train": "huenet.train", "huenet.baselines.color_gan": "huenet.baselines.color_gan"}
CHECKPOINTS = {"train": sorted(Path("models/huenet").glob("*/checkpoint.pt")),
               "color_gan": [Path("models/color_gan/checkpoint.pt")]}

# A tiny run of each model on the pipeline's data, printing its digest, the weights' float32 bytes, and the code
# digest the run recorded; {train} and {loop} name the modules of the version of the code that runs it.
_TINY = """
import hashlib, json, sys, tempfile, torch
from huenet.data.artifacts import ensure_data
from huenet.data.pairs import PairDataset
from {train} import TrainConfig, train
from huenet.baselines.color_gan import ColorGANConfig, train_color_gan
torch.manual_seed(0); torch.set_num_threads(1)
split, cache = ensure_data("artifacts/splits.json", "artifacts/cache_72.pt")
def digest(path):
    state = torch.load(path, weights_only=True)
    blob = hashlib.sha256()
    for name, value in sorted(state["state_dict"].items()):
        blob.update(name.encode() + value.float().numpy().tobytes())
    return blob.hexdigest()[:16]
out = {{}}
with tempfile.TemporaryDirectory() as folder:
    config = TrainConfig(width=8, depth=5, disc_layers=2, batch_size=4, steps=6, bins=64, mi_bins=16,
                         checkpoint_every=3)
    pairs = PairDataset(cache, split.train[:64], crop_size=32, mode="train", seed=0)
    out["train"] = [digest(train(config, pairs, folder + "/h", progress=False)),
                    torch.load(folder + "/h/checkpoint.pt", weights_only=True)["identity"]["code"]]
    config = ColorGANConfig(gen_width=4, critic_widths=(4, 4, 8), critic_fc=(16, 8), crop_size=16, batch_size=4,
                            steps=2, checkpoint_every=1)
    pairs = PairDataset(cache, split.train[:64], crop_size=16, mode="train", seed=0)
    out["color_gan"] = [digest(train_color_gan(config, pairs, folder + "/c", progress=False)),
                        torch.load(folder + "/c/checkpoint.pt", weights_only=True)["identity"]["code"]]
print(json.dumps(out))
"""


def tiny_runs(package_root: Path, train_module: str) -> dict[str, list[str]]:
    """``{stage: [weights digest, recorded code digest]}`` of the tiny runs, with the package in ``package_root``."""
    # -P: the package in package_root, not the one in the working directory, is the one imported
    done = subprocess.run([sys.executable, "-P", "-c", _TINY.format(train=train_module)], capture_output=True,
                          text=True, env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin"}, cwd=Path.cwd())
    if done.returncode != 0:
        raise RuntimeError(f"the tiny run with {package_root} failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def package_at(commit: str, folder: Path) -> Path:
    """The ``huenet/`` folder as committed at ``commit``, unpacked under ``folder``."""
    archive = subprocess.run(["git", "archive", "--format=tar", commit, "huenet"], capture_output=True, check=True)
    with tempfile.TemporaryFile() as tar:
        tar.write(archive.stdout)
        tar.seek(0)
        tarfile.open(fileobj=tar).extractall(folder, filter="data")
    return folder


def migrate(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Rewrite each checkpoint whose recorded code digest is ``before[stage]`` to ``after[stage]``; what was done."""
    lines = []
    for stage, paths in CHECKPOINTS.items():
        for path in paths:
            if not path.is_file():
                continue
            state = torch.load(path, map_location="cpu", weights_only=True)
            recorded = state["identity"]["code"]
            if recorded == after[stage]:
                lines.append(f"{path}: already {after[stage]}")
            elif recorded != before[stage]:
                lines.append(f"{path}: trained by other code ({recorded}), left as it is")
            else:
                state["identity"]["code"] = after[stage]
                atomic_write_binary(path, lambda f, state=state: torch.save(state, f))
                lines.append(f"{path}: {before[stage]} -> {after[stage]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the commit whose code trained the models")
    args = parser.parse_args(argv)
    if subprocess.run(["git", "cat-file", "-e", f"{args.before}^{{commit}}"]).returncode != 0:
        print(f"migrate_identities: no commit {args.before}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        old = tiny_runs(package_at(args.before, Path(folder)), BEFORE["huenet.training.train"])
    new = tiny_runs(Path.cwd(), "huenet.training.train")
    after = {stage: code_fingerprint(module) for stage, module in TRAINED_BY.items()}
    for stage in TRAINED_BY:
        print(f"{stage}: tiny run's weights {old[stage][0]} at {args.before}, {new[stage][0]} now; "
              f"code digest {old[stage][1]} -> {new[stage][1]}")
    if any(old[stage][0] != new[stage][0] for stage in TRAINED_BY):
        print("migrate_identities: the two versions of the code train different weights; retrain instead",
              file=sys.stderr)
        return 1
    assert all(new[stage][1] == after[stage] for stage in TRAINED_BY)
    print("\n".join(migrate({stage: old[stage][1] for stage in TRAINED_BY}, after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
