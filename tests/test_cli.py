"""``huenet transfer`` as a user runs it: ``python -m huenet ...`` in a subprocess.

Each subprocess pays torch's start-up (seconds), so the fixture ``commands``
starts every command of this module at once, each in its own folder, and each
test waits for its own.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from huenet.cli import TASKS, main
from huenet.nets.hue_net import UNetGenerator, save_generator
from huenet.paint.api import DEFAULT_MAX_MEGAPIXELS, FEATURE_MATCHING_MAX_MEGAPIXELS, MIN_SIDE
from tests.helpers import flip_tensor_byte


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _one_file(work: Path) -> list[str]:
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees
    Image.fromarray(noise(37, 53)).save(work / "photo.jpg", exif=exif)
    return ["transfer", "photo.jpg", "target.jpg", "-o", "out.png", "--model", "g.pt"]


def _folder(work: Path) -> list[str]:
    photos = work / "photos"
    photos.mkdir()
    Image.fromarray(noise(20, 24)).save(photos / "rgb.png")
    Image.fromarray(noise(20, 24)).convert("L").save(photos / "grey.png")
    Image.fromarray(noise(20, 24)).convert("P").save(photos / "palette.png")
    Image.fromarray(np.dstack([noise(20, 24), np.full((20, 24), 128, np.uint8)])).save(photos / "alpha.png")
    Image.fromarray(np.full((20, 24), 40000, dtype=np.uint16)).save(photos / "sixteen.png")
    Image.fromarray(noise(20, 24)).convert("CMYK").save(photos / "cmyk.jpg")
    (photos / "notes.txt").write_text("not an image, and not named like one: ignored")
    (photos / "text.png").write_text("named like an image")
    Image.new("RGB", (1, 1)).save(photos / "dot.png")
    buf = io.BytesIO()
    Image.fromarray(noise(40, 56)).save(buf, "JPEG")
    (photos / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 6 // 10])  # header intact, data cut
    return ["transfer", "photos", "target.jpg", "-o", "out/painted", "--model", "g.pt"]


def _incompatible_model(work: Path) -> list[str]:
    torch.save({"format": "huenet-generator-1", "config": {"width": 4, "depth": 3}, "state_dict": {}}, work / "old.pt")
    return ["transfer", "source.png", "target.jpg", "-o", "out.png", "--model", "old.pt"]


def _damaged_model(work: Path) -> list[str]:
    flip_tensor_byte(work / "g.pt")  # one bit of the weights: torch's reader would load it
    return ["transfer", "source.png", "target.jpg", "-o", "out.png", "--model", "g.pt", "--lut", "look.cube"]


def _color(work: Path) -> list[str]:
    return ["transfer", "source.png", "--color", "#3366cc", "--method", "feature-matching", "-o", "out.png"]


# bad case: (set-up returning the arguments, expected message)
BAD: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "missing source": (lambda work: ["transfer", "nope.png", "target.jpg", "-o", "out.png", "--method", "reinhard"],
                       "nope.png: no such file"),
    "output is an input": (lambda work: ["transfer", "source.png", "target.jpg", "-o", "./target.jpg",
                                         "--method", "reinhard"], "is the input target.jpg"),
    "unwritable output": (lambda work: ["transfer", "source.png", "target.jpg", "-o", "missing/out.png",
                                        "--method", "reinhard"], "no folder missing"),
    # (no --model paints with the shipped weights: tests/test_shipped.py)
    "missing model": (lambda work: ["transfer", "source.png", "target.jpg", "-o", "out.png", "--model",
                                    "nowhere/generator.pt"], "model file not found: nowhere/generator.pt"),
    "incompatible model": (_incompatible_model, "does not match this version"),
    "damaged model": (_damaged_model, "g.pt is damaged: its contents do not match the digest saved with them"),
    "unwritable LUT": (lambda work: ["transfer", "source.png", "target.jpg", "-o", "out.png", "--model", "g.pt",
                                     "--lut", "missing/look.cube"],
                       "cannot write missing/look.cube: no folder missing"),
    "colour for huenet": (lambda work: ["transfer", "source.png", "--color", "#3366cc", "-o", "out.png"],
                          "takes its colours from a target image"),
    "no target, no colour": (lambda work: ["transfer", "source.png", "-o", "out.png", "--method", "feature-matching"],
                             "needs a target image or a colour"),
    "bad colour": (lambda work: ["transfer", "source.png", "--color", "blue", "--method", "feature-matching",
                                 "-o", "out.png"], "6 hex digits"),
}


@dataclass
class Command:
    """A ``huenet`` command running in its own folder."""

    cwd: Path
    files_before: dict[Path, bytes]
    process: subprocess.Popen

    def result(self) -> tuple[int, str]:
        _, stderr = self.process.communicate(timeout=300)
        return self.process.returncode, stderr


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Command]]:
    setups = {"one file": _one_file, "folder": _folder, "colour": _color,
              **{case: setup for case, (setup, _) in BAD.items()}}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the commands run side by side
    started = {}
    for name, setup in setups.items():
        work = tmp_path_factory.mktemp(name.replace(" ", "_"))
        save_generator(UNetGenerator(width=4, depth=3), work / "g.pt")
        Image.fromarray(noise(37, 53)).save(work / "source.png")
        Image.fromarray(noise(30, 30, 1)).save(work / "target.jpg")
        args = setup(work)
        process = subprocess.Popen([sys.executable, "-m", "huenet", *args], cwd=work, env=env, text=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started[name] = Command(work, _files(work), process)
    yield started
    for command in started.values():
        command.process.kill()
        command.process.communicate()


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def leftovers(folder: Path) -> list[str]:
    """Temporary files a write left behind."""
    return [p.name for p in folder.rglob(".*.tmp")]


def test_help_explains_methods_model_limits_and_exit_codes(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "huenet TASK --help" in listed and all(f"  {task} " in listed for task in TASKS)
    assert main(["paint"]) == 2 and capsys.readouterr().err.startswith("huenet: error: unknown task 'paint'")
    with pytest.raises(SystemExit):
        main(["transfer", "--help"])
    text = capsys.readouterr().out
    for needle in ("huenet ", "reinhard ", "histmatch ", "feature-matching ", "color-gan ", "--color",
                   "models/huenet/full/generator.pt", "models/color_gan/generator.pt", f"at least {MIN_SIDE} pixels",
                   f"--max-megapixels (default\n  {DEFAULT_MAX_MEGAPIXELS:g};",
                   f"feature-matching {FEATURE_MATCHING_MAX_MEGAPIXELS:g},", "composited over white", "exit status",
                   "130"):
        assert needle in text, needle


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_answers_help_and_writes_nothing(task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        status = main([task, "--help"])
    except SystemExit as stop:  # the tasks built on argparse
        status = stop.code
    assert status == 0 and f"huenet {task}" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_console_script_is_declared() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts", name="huenet")
    assert [script.value for script in scripts] == ["huenet.cli:main"]


@pytest.mark.slow
def test_one_file_at_its_own_size_and_orientation(commands: dict[str, Command]) -> None:
    command = commands["one file"]
    status, stderr = command.result()
    assert status == 0 and stderr == "", stderr
    assert size_of(command.cwd / "out.png") == (37, 53)  # 53 x 37 stored, EXIF-rotated
    assert not leftovers(command.cwd)


def test_folder_writes_the_good_images_and_reports_the_bad(commands: dict[str, Command]) -> None:
    command = commands["folder"]
    status, stderr = command.result()
    assert status == 2 and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("huenet: error: ")]
    assert len(errors) == 4 and "3 of 9 images failed" in errors[-1], stderr
    for name, message in [("text.png", "not an image file"), ("dot.png", "too small"), ("cut.jpg", "truncated")]:
        assert any(name in line and message in line for line in errors), (name, stderr)
    out = command.cwd / "out/painted"
    written = sorted(p.name for p in out.iterdir())
    assert written == ["alpha.png", "cmyk.jpg", "grey.png", "palette.png", "rgb.png", "sixteen.png"]
    assert all(size_of(out / name) == (24, 20) for name in written)
    umask = os.umask(0)  # the subprocess inherited this process's umask
    os.umask(umask)
    assert {oct(stat.S_IMODE((out / name).stat().st_mode)) for name in written} == {oct(0o666 & ~umask)}


@pytest.mark.slow
def test_a_colour_instead_of_a_target(commands: dict[str, Command]) -> None:
    command = commands["colour"]
    status, stderr = command.result()
    assert status == 0 and stderr == "", stderr
    with Image.open(command.cwd / "out.png") as image:
        mean = np.asarray(image.convert("RGB")).reshape(-1, 3).mean(0)
    np.testing.assert_allclose(mean, [0x33, 0x66, 0xCC], atol=6)


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_status_2_and_no_output(commands: dict[str, Command], case: str) -> None:
    _, message = BAD[case]
    command = commands[case]
    status, stderr = command.result()
    assert status == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("huenet: error: ") and message in stderr, stderr
    assert _files(command.cwd) == command.files_before  # nothing written, no input touched, no temporary file
