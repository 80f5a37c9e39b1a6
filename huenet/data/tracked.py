"""Files that DVC tracks, checked byte for byte against what DVC recorded of them.

DVC's md5 of a file is the md5 of its bytes; a tracked folder's is the md5 of its manifest, a JSON list of
``{"md5", "relpath"}`` that the local cache keeps as ``.dvc/cache/files/md5/ab/cdef....dir``. DVC re-hashes
neither what it pulls (unless the remote says ``verify = true``) nor what ``dvc checkout`` copies out of its cache,
and ``dvc status`` trusts the times it recorded, so a flipped byte in the cache or the workspace goes unnoticed.
:func:`verify` hashes the bytes. ``huenet check`` runs it over every tracked output
(:mod:`huenet.pipeline.check`), and :func:`huenet.data.release.list_images` over the data set before any image is
decoded (:func:`verify_folder`).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from huenet.data import DataError

__all__ = ["Tracked", "Verdict", "cache_object", "dvc_file_outputs", "md5_of", "repair", "tracked_by", "verify",
           "verify_folder"]


def md5_of(path: str | os.PathLike) -> str:
    """The md5 of a file's bytes: DVC's hash of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def _cache_dir(repo: Path) -> Path:
    """The local DVC cache: ``cache.dir`` of ``.dvc/config.local`` or ``.dvc/config`` (relative to ``.dvc/``),
    else ``.dvc/cache``."""
    for name in ("config.local", "config"):
        config = configparser.ConfigParser()
        config.read(repo / ".dvc" / name)
        if config.has_option("cache", "dir"):
            return repo / ".dvc" / config.get("cache", "dir")
    return repo / ".dvc" / "cache"


def cache_object(repo: Path, md5: str) -> Path:
    """Where DVC's local cache in ``repo`` keeps the object of ``md5`` (``<md5>.dir`` for a folder's manifest)."""
    return _cache_dir(repo) / "files" / "md5" / md5[:2] / md5[2:]


@dataclass(frozen=True)
class Tracked:
    """A file or folder that DVC tracks, as a ``.dvc`` file or ``dvc.lock`` records it.

    Attributes:
        path: relative to the repository.
        md5: DVC's hash: the file's md5, or ``<md5>.dir``, its manifest's, for a folder.
        source: the record, for messages: ``data.dvc``, ``dvc.lock (stage train)``.
        restore: what brings a removed file back: ``dvc pull data.dvc``.
    """

    path: Path
    md5: str
    source: str
    restore: str


def dvc_file_outputs(dvc_file: Path) -> list[Tracked]:
    """What a ``.dvc`` file tracks (``dvc add``), its paths relative to the file's folder."""
    outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs") or []
    return [Tracked(Path(out["path"]), out["md5"], dvc_file.name, f"`dvc pull {dvc_file.name}`") for out in outs]


@dataclass
class Verdict:
    """What :func:`verify` found of one tracked output: files that match, are absent or differ.

    ``unchecked`` says why a folder present in the workspace could not be checked (its manifest is not in the
    cache); ``damaged`` lists files whose bytes differ from the record (relative to the repository), each with
    its cache object.
    """

    matched: int = 0
    absent: int = 0
    damaged: list[tuple[Path, Path]] = field(default_factory=list)
    unchecked: str | None = None


def _manifest(repo: Path, tracked: Tracked) -> dict[str, str] | None:
    """A folder's ``relpath -> md5`` from its manifest in the cache; None when the cache lacks it.

    Raises:
        DataError: the manifest itself is damaged (its md5 is not its name).
    """
    path = cache_object(repo, tracked.md5)
    if not path.is_file():
        return None
    if md5_of(path) + ".dir" != tracked.md5:
        raise DataError(f"{path}, the DVC manifest of {tracked.path}, is damaged; {repair(path, tracked)}")
    return {entry["relpath"]: entry["md5"] for entry in json.loads(path.read_bytes())}


def repair(path: Path, tracked: Tracked, cached: Path | None = None) -> str:
    """How to replace a damaged ``path`` of ``tracked``: remove it and its cache object (which ``dvc checkout``
    would copy back), then bring both back."""
    removed = " ".join(str(p) for p in (path, cached) if p is not None)
    return f"remove it (rm {removed}), then {tracked.restore}"


def verify(repo: Path, tracked: Tracked) -> Verdict:
    """Hash every file of ``tracked`` present under ``repo`` and compare it with DVC's record.

    Raises:
        DataError: a folder's manifest in the cache is damaged.
    """
    verdict = Verdict()
    if tracked.md5.endswith(".dir"):
        manifest = _manifest(repo, tracked)
        if manifest is None:
            if (repo / tracked.path).is_dir():
                verdict.unchecked = (f"{tracked.path}: not checked, its manifest {cache_object(repo, tracked.md5)} "
                                     "is not in the DVC cache")
            return verdict
        files = {tracked.path / relpath: md5 for relpath, md5 in manifest.items()}
    else:
        files = {tracked.path: tracked.md5}
    for path, md5 in files.items():
        if not (repo / path).is_file():
            verdict.absent += 1
        elif md5_of(repo / path) == md5:
            verdict.matched += 1
        else:
            verdict.damaged.append((path, cache_object(repo, md5)))
    return verdict


def tracked_by(folder: Path) -> tuple[Path, Tracked] | None:
    """The repository and DVC record of ``folder`` when a ``.dvc`` file beside it tracks it (``data.dvc`` for
    ``data/``); None otherwise."""
    folder = Path(folder).resolve()
    dvc_file = folder.parent / f"{folder.name}.dvc"
    if not dvc_file.is_file():
        return None
    return next(((folder.parent, t) for t in dvc_file_outputs(dvc_file) if t.path == Path(folder.name)), None)


def verify_folder(folder: Path) -> None:
    """Check every file of ``folder`` against its ``.dvc`` file's record; nothing to do when none tracks it.

    Raises:
        DataError: naming the first damaged file (and how many), and how to restore it.
    """
    found = tracked_by(folder)
    if found is None:
        return
    repo, tracked = found
    verdict = verify(repo, tracked)
    if verdict.unchecked:
        raise DataError(f"cannot check {folder}: its DVC manifest is not in the cache; run {tracked.restore}")
    if verdict.damaged:
        (path, cached), more = verdict.damaged[0], len(verdict.damaged) - 1
        others = f" (and {more} more files: `huenet check` lists them)" if more else ""
        raise DataError(f"{repo / path} differs from the copy {tracked.source} records{others}; "
                        f"{repair(repo / path, tracked, cached)}")
