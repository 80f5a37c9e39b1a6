"""huenet.data.tracked: the files DVC tracks, hashed and compared with DVC's record, and the data stage that
checks every image before it decodes one."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml

from huenet.data import DataError
from huenet.data.release import N_IMAGES, list_images
from huenet.data.tracked import cache_object, tracked_by, verify, verify_folder

ROOT = Path(__file__).resolve().parents[1]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # the oracle: DVC's md5 of a file is the md5 of its bytes


def _tracked_folder(repo: Path, files: dict[str, bytes]) -> Path:
    """``repo/data`` holding ``files``, recorded as ``dvc add data`` records it: ``data.dvc`` and the folder's
    manifest in the cache (tests/test_check.py checks this layout against DVC itself)."""
    manifest = json.dumps([{"md5": _md5(data), "relpath": name} for name, data in sorted(files.items())]).encode()
    (repo / "data.dvc").write_text(yaml.safe_dump({"outs": [{"md5": f"{_md5(manifest)}.dir", "path": "data"}]}))
    object_path = cache_object(repo, f"{_md5(manifest)}.dir")
    object_path.parent.mkdir(parents=True)
    object_path.write_bytes(manifest)
    for name, data in files.items():
        (repo / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / "data" / name).write_bytes(data)
    return repo / "data"


FILES = {"a.jpg": b"first image", "jpg/b.jpg": b"second image", "c.mat": b"labels"}


def test_an_intact_folder_passes_and_an_absent_file_is_counted(tmp_path: Path) -> None:
    folder = _tracked_folder(tmp_path, FILES)
    verify_folder(folder)
    (folder / "c.mat").unlink()
    repo, tracked = tracked_by(folder)
    verdict = verify(repo, tracked)
    assert (verdict.matched, verdict.absent, verdict.damaged, verdict.unchecked) == (2, 1, [], None)


def test_a_flipped_byte_names_the_file_its_cache_object_and_the_repair(tmp_path: Path) -> None:
    folder = _tracked_folder(tmp_path, FILES)
    (folder / "jpg" / "b.jpg").write_bytes(b"secund image")
    with pytest.raises(DataError) as err:
        verify_folder(folder)
    cached = cache_object(tmp_path, _md5(FILES["jpg/b.jpg"]))
    assert str(err.value) == (f"{folder / 'jpg' / 'b.jpg'} differs from the copy data.dvc records; remove it "
                              f"(rm {folder / 'jpg' / 'b.jpg'} {cached}), then `dvc pull data.dvc`")


def test_several_damaged_files_are_counted(tmp_path: Path) -> None:
    folder = _tracked_folder(tmp_path, FILES)
    for name in ("a.jpg", "jpg/b.jpg"):
        (folder / name).write_bytes(b"x")
    with pytest.raises(DataError, match=r"a.jpg differs .*\(and 1 more files: `huenet check` lists them\)"):
        verify_folder(folder)


def test_a_damaged_or_missing_manifest_is_refused(tmp_path: Path) -> None:
    folder = _tracked_folder(tmp_path, FILES)
    manifest = next((tmp_path / ".dvc" / "cache").rglob("*.dir"))
    manifest.write_bytes(manifest.read_bytes().replace(b"a.jpg", b"A.jpg"))
    with pytest.raises(DataError, match=f"{manifest}, the DVC manifest of data, is damaged"):
        verify_folder(folder)
    manifest.unlink()
    with pytest.raises(DataError, match="its DVC manifest is not in the cache; run `dvc pull data.dvc`"):
        verify_folder(folder)


def test_a_folder_no_dvc_file_tracks_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    assert tracked_by(tmp_path / "data") is None
    verify_folder(tmp_path / "data")


def test_the_cache_dir_of_dvcs_config_is_read(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = r\n[cache]\n    dir = ../../shared-cache\n")
    assert cache_object(tmp_path, "ab" + "c" * 30) == tmp_path / ".dvc" / "../../shared-cache/files/md5/ab" / ("c" * 30)


_MANIFEST = ROOT / "data.dvc"


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "data" / "flowers-102" / "setid.mat").is_file(), reason="data/ not pulled")
def test_the_data_stage_refuses_a_flipped_byte_in_an_image_before_decoding(tmp_path: Path) -> None:
    """A copy of the real data set with a flipped byte in one image: list_images, notebook 01's first call, names it."""
    tracked = tracked_by(ROOT / "data")[1]
    if not cache_object(ROOT, tracked.md5).is_file():
        pytest.skip("the data's manifest is not in this checkout's DVC cache")
    (tmp_path / ".dvc" / "cache").mkdir(parents=True)
    (tmp_path / "data.dvc").write_bytes(_MANIFEST.read_bytes())
    object_path = cache_object(tmp_path, tracked.md5)
    object_path.parent.mkdir(parents=True)
    object_path.write_bytes(cache_object(ROOT, tracked.md5).read_bytes())
    for source in (ROOT / "data").rglob("*"):
        if source.is_file():
            (tmp_path / source.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(source, tmp_path / source.relative_to(ROOT))
    assert len(list_images(tmp_path / "data")) == N_IMAGES  # the copy as it is passes
    image = tmp_path / "data" / "flowers-102" / "jpg" / "image_00042.jpg"
    data = bytearray(image.read_bytes())
    data[len(data) // 2] ^= 0x01  # in the middle of the scan: the JPEG still decodes
    image.unlink()
    image.write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"{image} differs from the copy data.dvc records.*dvc pull data.dvc"):
        list_images(tmp_path / "data")
