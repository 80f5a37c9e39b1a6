"""``huenet check``: whether this workspace is fit to run, in seconds, before anything runs on it.

1. ``params.yaml``: every value's type and range and the relations between them
   (:mod:`huenet.pipeline.settings`), each problem one line naming its key path.
2. Every file that DVC tracks and the workspace holds, hashed and compared with DVC's record
   (:mod:`huenet.data.tracked`): the data by its ``.dvc`` file and its manifest in the DVC cache, and every cached
   output of the stages of ``dvc.yaml`` by ``dvc.lock``. A file whose bytes differ is named with its repair; a
   file absent is counted (a fresh clone has no models yet). Outputs with ``cache: false`` are files in git, whose
   own hashes say when they change, and which a run in progress rewrites before ``dvc.lock``.

Run it from the repository root. Exit status: 0 all well, 1 a problem (listed), 2 not a huenet repository.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from huenet.data import DataError
from huenet.data.tracked import Tracked, Verdict, dvc_file_outputs, repair, verify
from huenet.pipeline.settings import ParamsError, problems, read_params

__all__ = ["lock_outputs", "tracked_outputs", "main"]

# libyaml's parser where PyYAML has it: dvc.lock is some 70 kB, half a second for the pure-Python one
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_LOADER)


def _cached_paths(stages: Mapping[str, Any]) -> dict[str, tuple[bool, list[re.Pattern]]]:
    """Each stage of ``dvc.yaml``: whether it is a ``foreach`` stage, and its cached outputs' paths as patterns (an
    interpolated ``${...}`` matches any name)."""
    found = {}
    for name, spec in stages.items():
        body = spec.get("do", spec)
        patterns = []
        for kind in ("outs", "metrics", "plots"):
            for entry in body.get(kind) or []:
                path, options = (entry, None) if isinstance(entry, str) else next(iter(entry.items()))
                if (options or {}).get("cache", True):
                    patterns.append(re.compile("[^/]+".join(map(re.escape, re.split(r"\$\{[^}]*\}", path)))))
        found[name] = ("foreach" in spec, patterns)
    return found


def lock_outputs(root: Path) -> Iterator[Tracked]:
    """The cached outputs that ``dvc.lock`` records of the stages ``dvc.yaml`` has now (a stage since removed or
    renamed may linger in the lock)."""
    if not (root / "dvc.lock").is_file():
        return
    cached = _cached_paths((_read(root / "dvc.yaml") or {}).get("stages") or {})
    for stage, entry in ((_read(root / "dvc.lock") or {}).get("stages") or {}).items():
        name, _, key = stage.partition("@")
        foreach, patterns = cached.get(name, (None, []))
        if foreach is None or foreach != bool(key):
            continue
        for out in entry.get("outs") or []:
            if any(p.fullmatch(out["path"]) for p in patterns):
                yield Tracked(Path(out["path"]), out["md5"], f"dvc.lock (stage {stage})",
                              f"`dvc pull {out['path']}` from a remote that holds it, or `dvc repro {stage}`")


def tracked_outputs(root: Path) -> list[Tracked]:
    """Everything DVC tracks in ``root``: the outputs of its ``.dvc`` files, then the cached outputs of ``dvc.lock``."""
    added = [t for dvc_file in sorted(root.glob("*.dvc")) if dvc_file.is_file() for t in dvc_file_outputs(dvc_file)]
    return added + list(lock_outputs(root))


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="huenet check",
        description="Check params.yaml's settings, and the bytes of every file DVC tracks in this workspace against "
                    "DVC's records (data.dvc and its manifest in the DVC cache, dvc.lock). Run it from the "
                    "repository root.",
        epilog="Exit status: 0 all well, 1 a problem (each one listed), 2 not a huenet repository.")


def main(argv: Sequence[str] | None = None) -> int:
    """``huenet check``: list every problem of the settings and the tracked files; 1 if there is one."""
    _parser().parse_args(argv)
    root = Path(".")
    if not (root / "params.yaml").is_file() or not (root / "dvc.yaml").is_file():
        print("huenet check: error: no params.yaml and dvc.yaml here; run it from the repository root",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        lines = [f"params.yaml: {line}" for line in problems(read_params(root / "params.yaml"))]
    except ParamsError as err:  # not YAML
        lines = err.problems
    try:
        outputs = tracked_outputs(root)
    except (OSError, yaml.YAMLError, KeyError, AttributeError) as err:  # a DVC file edited by hand
        outputs, lines = [], [*lines, f"cannot read DVC's records (dvc.yaml, dvc.lock, *.dvc): {type(err).__name__}"]
    total = Verdict()
    for tracked in outputs:
        try:
            verdict = verify(root, tracked)
        except (DataError, OSError) as err:  # a damaged manifest in the cache, an unreadable file
            lines.append(str(err))
            continue
        total.matched, total.absent = total.matched + verdict.matched, total.absent + verdict.absent
        total.damaged += verdict.damaged
        lines += [f"{path}: differs from {tracked.source}; {repair(path, tracked, cached)}"
                  for path, cached in verdict.damaged]
        if verdict.unchecked:
            print(f"huenet check: {verdict.unchecked}")
    for line in lines:
        print(line)
    files = (f"tracked files: {total.matched} match DVC's records, {len(total.damaged)} differ, {total.absent} absent "
             f"({time.perf_counter() - started:.1f} s)")
    counted = f"{len(lines)} problem{'s' if len(lines) > 1 else ''}"
    print(f"huenet check: {counted}; {files}" if lines else f"huenet check: all well; {files}")
    return 1 if lines else 0
