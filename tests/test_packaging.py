"""The package installs anywhere, and the repository's set-up reproduces: lower bounds in the wheel, exact pins in the
lock that the README's set-up command and CI install from."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.test_pipeline import readme_command

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_set_up_and_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    set_up = readme_command("set up").split("&&")[-1].strip()
    assert set_up.startswith("pip install -c requirements/lock.txt") and set_up in ci
    assert re.search(rf"^{re.escape(readme_command('test everything'))}$", ci, re.M)
    assert re.search(r"^lint-imports\b", ci, re.M) and re.search(r"^ruff check \.", ci, re.M)


def test_the_lock_pins_every_package_and_the_torch_of_the_committed_results() -> None:
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, re.M))
    requirements = [line for line in lock.splitlines() if line and not line.startswith((" ", "#"))]
    assert len(pins) == len(requirements) > 100  # every line an exact pin
    wanted = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements" / "pins.txt").read_text(), re.M))
    assert wanted and all(pins[name] == version for name, version in wanted.items())


@pytest.mark.slow
def test_the_wheel_pins_nothing_and_installs_beside_the_torch_already_there(tmp_path: Path) -> None:
    """Built, its metadata holds lower bounds only; installed with no index into a new environment that sees this
    one's packages (so torch is not downloaded again), it imports the core from itself."""
    source = tmp_path / "source"  # built from a copy: setuptools writes build/ beside the sources
    shutil.copytree(ROOT / "huenet", source / "huenet", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("huenet-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.message_from_bytes(archive.read(next(n for n in archive.namelist()
                                                             if n.endswith(".dist-info/METADATA"))))
        names = archive.namelist()
    requires = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    assert requires and all(s.operator == ">=" for r in requires for s in r.specifier), requires
    assert {"huenet/py.typed", "huenet/paint/weights/huenet-full-fp16.pt"} <= set(names)

    # No pip or setuptools of its own: this environment's (torch needs a newer setuptools than ensurepip's) are used
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([python, "-m", "pip", "install", "--no-index", "-q", str(wheel)], capture_output=True,
                               text=True)
    assert installed.returncode == 0, installed.stderr
    code = ("import huenet, torch; assert huenet.__file__.startswith(%r), huenet.__file__; "
            "h = huenet.soft_histogram(torch.rand(2, 100), bins=8); print(round(float(h.sum()), 4))" % site)
    imported = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert imported.returncode == 0 and imported.stdout.split() == ["2.0"], imported.stderr
