"""huenet.files.atomic_write: the user's file mode, durable across a power loss, and a full disk said as such."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from huenet import files
from huenet.files import atomic_write, atomic_write_binary
from tests.helpers import full_disk


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """Set the process's umask for one test, then restore it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_open_would_give(tmp_path, umask, mask, expected):
    umask(mask)
    atomic_write(tmp_path / "new.txt", lambda tmp: tmp.write_text("hello"))
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("hello")
    assert mode(tmp_path / "new.txt") == expected == mode(tmp_path / "plain.txt")


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "shared.pt"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new" and mode(path) == 0o640


def test_the_file_and_then_its_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                        real_fsync(fd)))
    monkeypatch.setattr(files.os, "replace", lambda a, b: (synced.append("replace"), real_replace(a, b)))
    atomic_write(tmp_path / "out.txt", lambda tmp: tmp.write_text("data"))
    assert len(synced) == 3 and synced[1] == "replace", synced
    assert Path(synced[0]).parent == tmp_path and Path(synced[0]).name.startswith(".out.txt.")  # the temporary file
    assert Path(synced[2]) == tmp_path  # the folder, after the rename


def test_a_platform_without_fsync_still_writes(tmp_path, monkeypatch):
    def no_fsync(fd: int) -> None:
        raise OSError("fsync not supported")

    monkeypatch.setattr(files.os, "fsync", no_fsync)
    atomic_write(tmp_path / "out.txt", lambda tmp: tmp.write_text("data"))
    assert (tmp_path / "out.txt").read_text() == "data"


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    (tmp_path / "keep.txt").write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "keep.txt", fail)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"] and (tmp_path / "keep.txt").read_text() == "old"


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path):
    (tmp_path / "keep.txt").write_text("old")

    def fill(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what the kernel's write returns, without a name

    with pytest.raises(OSError) as err:
        atomic_write(tmp_path / "keep.txt", fill)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "keep.txt")
    assert str(err.value) == f"[Errno 28] No space left on device: '{tmp_path / 'keep.txt'}'"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"] and (tmp_path / "keep.txt").read_text() == "old"


def test_a_full_disk_under_torch_save_is_a_full_disk_not_an_archive_error(tmp_path, monkeypatch):
    """torch's archive writer turns the failed write into ``RuntimeError("unexpected pos ...")``."""
    (tmp_path / "w.pt").write_bytes(b"old")
    full_disk(monkeypatch, room=1000)
    with pytest.raises(OSError, match="No space left on device") as err:
        atomic_write_binary(tmp_path / "w.pt", lambda f: torch.save({"w": torch.zeros(10_000)}, f))
    assert err.value.filename == str(tmp_path / "w.pt") and "unexpected pos" not in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"] and (tmp_path / "w.pt").read_bytes() == b"old"


def test_an_error_about_another_file_is_left_as_it_is(tmp_path):
    def copy_missing(tmp: Path) -> None:
        tmp.write_bytes((tmp_path / "missing.bin").read_bytes())

    with pytest.raises(FileNotFoundError) as err:
        atomic_write(tmp_path / "out.bin", copy_missing)
    assert err.value.filename == str(tmp_path / "missing.bin")  # the input is named, not the output
    assert list(tmp_path.iterdir()) == []


def test_torch_archives_hold_no_name_of_the_temporary_file(tmp_path):
    for name in ("a.pt", "b.pt"):
        atomic_write_binary(tmp_path / name, lambda f: torch.save({"w": torch.arange(5)}, f))
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
