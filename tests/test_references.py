"""Every reference to a module of the package, wherever it is written, names one that exists.

Files move between subpackages; the names of the old places linger in docs, notebooks, ``dvc.yaml``, scripts and
tests. This reads every tracked text file but ``reports/`` (which records what ran at the time and is rewritten by
the stage or benchmark that wrote it) for dotted names (``huenet.eval.metrics.hue_emd``) and paths
(``huenet/core/losses.py``): a path must exist, and a dotted name must be a module followed by at most attributes
it has.
"""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".py", ".md", ".ipynb", ".yaml", ".sh", ".toml", ".txt"}
DOTTED = re.compile(r"(?<![\w./-])huenet(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])huenet/[\w./-]*\w")


# files that name the old places on purpose: the migration maps each old module to its new one
OLD_NAMES_ON_PURPOSE = {"tools/migrate_identities.py"}


def _files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return [ROOT / f for f in listed if Path(f).suffix in SUFFIXES and not f.startswith(("reports/", "requirements/"))
            and f not in OLD_NAMES_ON_PURPOSE and (ROOT / f).is_file()]


def unresolved(name: str) -> str | None:
    """Why the dotted ``name`` does not resolve, or None: the longest prefix that imports, then attributes."""
    parts = name.split(".")
    if parts[-1] == "__main__":  # running it is its only use: only its file is checked
        return None if (ROOT / Path(*parts)).with_suffix(".py").is_file() else "no such file"
    for i in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[i:]:
            if not hasattr(target, attribute):
                return f"{'.'.join(parts[:i])} has no {attribute!r}"
            target = getattr(target, attribute)
        return None
    return "no such module"


def test_an_old_name_is_caught() -> None:
    old = ".".join(("huenet", "histograms", "soft_histogram"))  # spelled so that this file passes its own test
    assert unresolved(old) == "huenet has no 'histograms'"
    assert unresolved("huenet.core.histograms.soft_histogram") is None
    assert unresolved("huenet.transfer") is None  # the lazy attribute


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_reference_names_a_module_that_exists(path: Path) -> None:
    text = path.read_text()
    dotted = {m.rstrip(".") for m in DOTTED.findall(text)}
    problems = [f"{name}: {why}" for name in sorted(dotted) if (why := unresolved(name))]
    problems += [f"{p}: no such file" for p in sorted(set(PATH.findall(text)))
                 if not (ROOT / p).exists() and not (ROOT / p).with_suffix(".py").exists()]
    assert not problems, "\n".join(problems)
