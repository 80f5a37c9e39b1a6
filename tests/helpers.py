"""Small synthetic data for tests that must not depend on the real dataset, the committed version of a file, and
the faults of a disk: a flipped byte, a full disk."""

import errno
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from PIL import Image

from huenet.data.cache import ImageCache
from huenet.data.pairs import PairDataset
from huenet.data.release import ImageRecord

ROOT = Path(__file__).resolve().parents[1]


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


def synthetic_release(folder: Path, n: int) -> list[ImageRecord]:
    """``n`` JPEGs of 256 x 300 px (the shape of the data mirror's images): smooth colours with some texture."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    records = []
    for i in range(n):
        corners = torch.rand(1, 3, 2, 2, generator=g)
        image = torch.nn.functional.interpolate(corners, size=(256, 300), mode="bilinear", align_corners=True)[0]
        image = (image + 0.05 * torch.rand(image.shape, generator=g)).clamp(0, 1)
        path = folder / f"image_{i + 1:05d}.jpg"
        Image.fromarray((image * 255).round().byte().permute(1, 2, 0).numpy()).save(path, quality=90)
        records.append(ImageRecord(path.name, path, i % 3))
    return records


def edited_params(folder: Path, name: str, change: Callable[[dict], None]) -> Path:
    """The repository's params file ``name``, changed by ``change`` (in place), written into ``folder``."""
    params = yaml.safe_load((ROOT / name).read_text())
    change(params)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(params))
    return path
