"""Model files prove themselves: each carries a digest of its contents that loading checks, the same weights give
the same bytes, and a full disk leaves the old file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from huenet.baselines.color_gan import ColorGANConfig, ColorGenerator, load_color_gan, save_color_gan
from huenet.nets.hue_net import GENERATOR_FORMAT, UNetGenerator, load_generator, save_generator
from tests.helpers import flip_tensor_byte, full_disk


def _generator(seed: int = 0) -> UNetGenerator:
    torch.manual_seed(seed)
    return UNetGenerator(width=4, depth=3)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_the_same_weights_give_the_same_bytes_wherever_they_are_written(tmp_path: Path) -> None:
    save_generator(_generator(), tmp_path / "generator.pt", step=5, train_config={"lambda_mi": 80.0, "seed": 0})
    save_generator(_generator(), tmp_path / "again" / "other.pt", step=5, train_config={"lambda_mi": 80.0, "seed": 0})
    assert (tmp_path / "generator.pt").read_bytes() == (tmp_path / "again" / "other.pt").read_bytes()
    save_generator(_generator(1), tmp_path / "seed1.pt", step=5, train_config={"lambda_mi": 80.0, "seed": 0})
    assert (tmp_path / "seed1.pt").read_bytes() != (tmp_path / "generator.pt").read_bytes()


@pytest.mark.parametrize("record", ["data/0", "data/7"])
def test_a_flipped_byte_in_the_weights_is_refused_naming_the_file(tmp_path: Path, record: str) -> None:
    path = tmp_path / "generator.pt"
    save_generator(_generator(), path, step=5)
    flip_tensor_byte(path, record)
    torch.load(path, weights_only=True)  # torch's reader does not notice
    with pytest.raises(ValueError) as err:
        load_generator(path)
    assert str(err.value) == (f"generator file {path} is damaged: its contents do not match the digest saved with "
                              "them (restore the file or retrain it)")


def test_a_changed_record_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "generator.pt"
    save_generator(_generator(), path, step=5)
    blob = torch.load(path, weights_only=True)
    torch.save({**blob, "step": 6}, path)  # what a flipped byte in the pickled step would load as
    with pytest.raises(ValueError, match="is damaged"):
        load_generator(path)


def test_a_damaged_colour_gan_file_is_refused(tmp_path: Path) -> None:
    config = ColorGANConfig(noise_dim=3, gen_width=4, gen_layers=1)
    torch.manual_seed(0)
    generator = ColorGenerator(noise_dim=3, width=4, layers=1, residual=False)
    save_color_gan(generator, config, tmp_path / "gan.pt", step=2)
    assert _same_weights(load_color_gan(tmp_path / "gan.pt"), generator)
    flip_tensor_byte(tmp_path / "gan.pt")
    with pytest.raises(ValueError, match=f"colour-GAN generator file {tmp_path / 'gan.pt'} is damaged"):
        load_color_gan(tmp_path / "gan.pt")


def test_a_file_written_before_digests_still_loads(tmp_path: Path) -> None:
    generator = _generator()
    torch.save({"format": GENERATOR_FORMAT, "config": generator.config(), "state_dict": generator.state_dict()},
               tmp_path / "old.pt")
    assert _same_weights(load_generator(tmp_path / "old.pt"), generator)  # as the shipped weights until a new ship


def test_a_full_disk_while_saving_names_the_file_and_keeps_the_old_model(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "generator.pt"
    save_generator(_generator(), path, step=5)
    before = path.read_bytes()
    full_disk(monkeypatch, room=4096)
    with pytest.raises(OSError) as err:
        save_generator(_generator(1), path, step=6)
    assert str(err.value) == f"[Errno 28] No space left on device: '{path}'"
    assert [p.name for p in tmp_path.iterdir()] == ["generator.pt"] and path.read_bytes() == before
