"""Files that a crash never leaves half-written: a temporary file beside the destination, then ``os.replace``.

No heavy imports here: the CLI writes its outputs with :func:`atomic_write` and
should not pay for torchvision to start.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_write_binary"]


def _create_temporary(folder: Path, name: str) -> Path:
    """A new, empty file in ``folder`` with the mode ``open(path, "w")`` would give it.

    The kernel applies the process's umask to the 0o666 asked for here, so the
    umask is never read or changed: reading it with ``os.umask`` means setting
    it, a window in which another thread would create files with the wrong mode.
    """
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk; a no-op where the platform cannot."""
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # a file system without fsync
        pass
    finally:
        os.close(fd)


def _write_error(err: BaseException, tmp: Path) -> OSError | None:
    """The operating system's error behind ``err`` when it is about writing ``tmp`` (a full disk, a quota...).

    Some writers hide it: torch's archive writer turns a failed ``write`` into ``RuntimeError("unexpected pos
    ...")``, with the ``OSError`` only as its context.
    """
    while err is not None:
        if isinstance(err, OSError):
            return err if err.errno is not None and err.filename in (None, str(tmp), tmp) else None
        err = err.__cause__ if err.__cause__ is not None or err.__suppress_context__ else err.__context__
    return None


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder, then rename it to ``path``.

    Readers see the old file or the new one, never a part of it; if ``write``
    raises, the temporary file is removed and ``path`` is untouched. The file is
    flushed to the disk before the rename and the folder after it, so a power
    loss leaves the old file or the whole new one. The new file gets the mode
    that ``open(path, "w")`` gives (0o666 less the umask), or the mode of the
    file it replaces.

    Raises:
        OSError: writing failed (``No space left on device``, ...); its ``filename`` is ``path``, not the
            temporary file's, whatever error the writer wrapped it in.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(path.parent, path.name)
    try:
        try:
            write(tmp)
        except Exception as err:
            cause = _write_error(err, tmp)
            if cause is None:
                raise
            raise OSError(cause.errno, cause.strerror, str(path)) from None
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_binary(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """:func:`atomic_write` through an open binary file: ``write(f)`` writes to ``f``.

    For writers that would record the file's name in its content: given a path, ``torch.save`` names the
    archive's inner folder after the (random) temporary file, so the same tensors would give other bytes on
    every write, and DVC a new hash.
    """
    def to_file(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)

    atomic_write(path, to_file)
