"""Model folders and checkpoints: safetensors + JSON only, round-trip exactly, refuse anything else."""

import json

import pytest
import torch

from waestyle.core.config import ModelConfig
from waestyle.core.errors import WaestyleError
from waestyle.models.io import load_model, save_model
from waestyle.stylize.stylizer import Stylizer
from waestyle.training import checkpoints
from waestyle.training.checkpoints import (
    TrainingCheckpoint,
    checkpoint_files,
    checkpoint_paths,
    latest_checkpoint,
    save_checkpoint,
)

CONFIG = ModelConfig(image_size=32, content_dim=8, style_dim=4)


def test_model_round_trip(tmp_path):
    weights = {"a.weight": torch.randn(3, 4), "b.bias": torch.arange(5.0)}
    save_model(tmp_path, CONFIG, weights, step=7)
    config, loaded = load_model(tmp_path)
    assert config == CONFIG
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())
    assert json.loads((tmp_path / "config.json").read_text())["step"] == 7


def test_checkpoint_round_trip_keeps_optimizer_state_and_only_the_newest(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    for step in (1, 2, 3):
        save_checkpoint(
            tmp_path,
            TrainingCheckpoint(step, CONFIG.to_dict(), {"seed": 1}, model.state_dict(), optimizer.state_dict()),
        )
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["step-00000002.safetensors", "step-00000003.safetensors"]
    restored = latest_checkpoint(tmp_path)
    assert restored.step == 3 and restored.train_config == {"seed": 1}
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    fresh.load_state_dict(restored.optimizer)
    assert fresh.param_groups[0]["lr"] == 0.01
    original = optimizer.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], original)


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in (1, 2):
        save_checkpoint(
            tmp_path, TrainingCheckpoint(step, CONFIG.to_dict(), {}, model.state_dict(), optimizer.state_dict())
        )
    newest = checkpoint_paths(tmp_path)[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    assert latest_checkpoint(tmp_path).step == 1


def test_a_large_checkpoint_is_split_into_small_files_that_round_trip(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MAX_FILE_BYTES", 4_000)
    model = torch.nn.Sequential(torch.nn.Linear(20, 20), torch.nn.Linear(20, 20), torch.nn.Linear(20, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 20)).sum().backward()
    optimizer.step()
    for step in (1, 2, 3):
        state = TrainingCheckpoint(step, CONFIG.to_dict(), {"seed": 1}, model.state_dict(), optimizer.state_dict())
        path = save_checkpoint(tmp_path, state)
    files = checkpoint_files(path)
    assert len(files) >= 3 and all(f.stat().st_size < 4_000 + 2_000 for f in files)
    # Only the newest two checkpoints stay, each with all of its parts.
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == sorted(
        f.name for step_path in checkpoint_paths(tmp_path) for f in checkpoint_files(step_path)
    )
    restored = latest_checkpoint(tmp_path)
    assert all(torch.equal(restored.model[k], v) for k, v in model.state_dict().items())
    assert torch.equal(restored.optimizer["state"][4]["exp_avg_sq"], optimizer.state_dict()["state"][4]["exp_avg_sq"])
    files[-1].unlink()  # a lost part: the checkpoint before it is used
    assert latest_checkpoint(tmp_path).step == 2


@pytest.fixture
def saved(tmp_path):
    save_model(tmp_path, CONFIG, {"w": torch.ones(2)}, step=1)
    return tmp_path


def test_corrupt_weights_are_refused(saved):
    (saved / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(WaestyleError, match="corrupt"):
        load_model(saved)


def test_a_pickle_in_place_of_weights_is_refused(saved):
    torch.save({"w": torch.ones(2)}, saved / "model.safetensors")
    with pytest.raises(WaestyleError, match="corrupt or not a safetensors"):
        load_model(saved)


def test_other_format_version_is_refused(saved):
    document = json.loads((saved / "config.json").read_text())
    document["format_version"] = 99
    (saved / "config.json").write_text(json.dumps(document))
    with pytest.raises(WaestyleError, match="format 99"):
        load_model(saved)


def test_broken_or_foreign_config_is_refused(saved):
    (saved / "config.json").write_text("{not json")
    with pytest.raises(WaestyleError, match="corrupt config"):
        load_model(saved)
    (saved / "config.json").write_text(json.dumps({"format": "waestyle", "format_version": 1, "model": {"layers": 3}}))
    with pytest.raises(WaestyleError, match="unknown fields"):
        load_model(saved)


def test_nan_weights_are_refused(tmp_path):
    save_model(tmp_path, CONFIG, {"w": torch.tensor([1.0, float("nan")])}, step=1)
    with pytest.raises(WaestyleError, match="NaN"):
        load_model(tmp_path)


def test_weights_that_do_not_fit_the_config_are_refused(tiny_model, tmp_path):
    config, weights = load_model(tiny_model)
    bigger = ModelConfig(**{**config.to_dict(), "content_dim": config.content_dim * 2})
    save_model(tmp_path, bigger, weights, step=1)
    with pytest.raises(WaestyleError, match="do not match config.json"):
        Stylizer.load(tmp_path)
    weights.pop(next(iter(weights)))
    save_model(tmp_path, config, weights, step=1)
    with pytest.raises(WaestyleError, match="missing"):
        Stylizer.load(tmp_path)
