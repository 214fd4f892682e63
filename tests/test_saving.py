"""Saved-model directories: exact round trip, tamper/truncation/version checks, atomic writes."""

import json

import pytest
import torch

from rnnlab import saving
from rnnlab.errors import ModelFileError
from rnnlab.saving import load_model_dir, save_model_dir


def _state():
    g = torch.Generator().manual_seed(0)
    return {"w": torch.randn(3, 4, generator=g), "b": torch.arange(4, dtype=torch.int64)}


def test_round_trip_is_exact(tmp_path):
    state = _state()
    save_model_dir(tmp_path / "m", state, {"config": {"units": [3]}, "classes": ["a", "b"]})
    loaded, parts = load_model_dir(tmp_path / "m")
    assert set(loaded) == {"w", "b"}
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert parts["config"] == {"units": [3]} and parts["classes"] == ["a", "b"]
    manifest = parts["manifest"]
    assert manifest["format_version"] == saving.FORMAT_VERSION
    assert set(manifest["files"]) == {"model.safetensors", "config.json", "classes.json"}


def test_tampered_truncated_and_missing_files_are_refused(tmp_path):
    d = save_model_dir(tmp_path / "m", _state(), {"config": {"a": 1}})
    text = (d / "config.json").read_text()
    (d / "config.json").write_text(text.replace("1", "2"))  # same length, different bytes
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        load_model_dir(d)
    d = save_model_dir(tmp_path / "m", _state(), {"config": {"a": 1}})
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model_dir(d)
    (d / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="model.safetensors is missing"):
        load_model_dir(d)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model_dir(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="manifest.json is missing"):
        load_model_dir(tmp_path / "empty")


def test_incompatible_format_version_is_refused(tmp_path):
    d = save_model_dir(tmp_path / "m", _state(), {})
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["format_version"] = 99
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="format 99"):
        load_model_dir(d)


def test_crash_while_saving_keeps_the_old_model(tmp_path, monkeypatch):
    d = save_model_dir(tmp_path / "m", _state(), {"config": {"v": "old"}})

    def explode(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(saving, "_write_json", explode)
    with pytest.raises(OSError, match="disk full"):
        save_model_dir(d, {"w": torch.zeros(1)}, {"config": {"v": "new"}})
    monkeypatch.undo()
    _, parts = load_model_dir(d)
    assert parts["config"] == {"v": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging leftovers


def test_reserved_part_names(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        save_model_dir(tmp_path / "m", _state(), {"manifest": {}})
