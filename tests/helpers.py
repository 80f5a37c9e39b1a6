"""Small synthetic data for tests that must not depend on the real dataset, the committed version of a file, and
the faults of a disk: a flipped byte, a full disk."""

import errno
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import torch

from huenet.data.cache import ImageCache
from huenet.data.pairs import PairDataset


def synthetic_cache(n: int = 12, size: int = 24, seed: int = 0) -> ImageCache:
    """``n`` smooth colourful images: a random colour per quadrant plus a gradient."""
    g = torch.Generator().manual_seed(seed)
    corners = torch.rand(n, 3, 2, 2, generator=g)
    images = torch.nn.functional.interpolate(corners, size=(size, size), mode="bilinear", align_corners=True)
    images = (images * 255).round().to(torch.uint8)
    return ImageCache(images=images, names=tuple(f"img_{i:03d}" for i in range(n)), labels=torch.arange(n) % 3)


def synthetic_pairs(crop_size: int = 16, seed: int = 0, **kwargs) -> PairDataset:
    cache = synthetic_cache(**kwargs)
    return PairDataset(cache, cache.names, crop_size=crop_size, mode="train", seed=seed)


def committed(root: Path, path: str) -> str | None:
    """``path`` as committed at ``HEAD`` of ``root``; None if ``root`` is not the top of a git checkout."""
    if shutil.which("git") is None:
        return None
    top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
        return None  # a tarball, or a folder inside some other repository
    return subprocess.run(["git", "-C", str(root), "show", f"HEAD:{path}"], capture_output=True, text=True,
                          check=True).stdout


def flip_tensor_byte(path: Path, record: str = "data/0", at: int = 10) -> None:
    """Flip one bit of a tensor's bytes inside a ``torch.save`` archive, as a bad disk or copy would.

    The archive stores its records uncompressed and torch's reader checks no CRC, so the file still loads.
    """
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(f"/{record}"))
    header = info.header_offset
    name_length, extra_length = (int.from_bytes(data[header + k: header + k + 2], "little") for k in (26, 28))
    data[header + 30 + name_length + extra_length + at] ^= 0x01
    path.write_bytes(bytes(data))


class FillingDisk:
    """A file that takes ``room`` bytes, then fails as a full disk does (``OSError(ENOSPC)``)."""

    def __init__(self, file, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data) -> int:
        if len(data) > self.room:
            self.file.write(bytes(data[: self.room]))
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name: str):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


def full_disk(monkeypatch, room: int = 1000) -> None:
    """Make :mod:`huenet.files`' binary writes hit a full disk after ``room`` bytes."""
    from huenet import files

    monkeypatch.setattr(files, "open", lambda path, mode="r", *a, **k: FillingDisk(open(path, mode, *a, **k), room),
                        raising=False)
