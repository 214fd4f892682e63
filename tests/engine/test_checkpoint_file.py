"""Checkpoint files: exact round trip, nothing unpicklable in or out, clear errors."""

import math
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from rnnlab.engine import load_checkpoint, save_checkpoint
from rnnlab.engine.checkpoint import CHECKPOINT_FILE, checkpoint_path
from rnnlab.errors import ModelFileError


def test_round_trip_keeps_types_keys_and_bits(tmp_path):
    weight = torch.randn(3, 4)
    state = {
        "tensor": weight,
        "view": weight[1],  # a view: stored as its own copy
        "same": weight,  # the same tensor twice
        "scalar": torch.tensor(3.0),
        "bytes": torch.ByteTensor([1, 2, 255]),
        "ints": {0: {"step": torch.tensor(2.0)}, 1: {}},  # optimiser-style int keys
        "tuple": (0.9, 0.999),
        "list": [1, None, True, "x", 1e-7],
        "floats": [float("inf"), -0.0, 0.1 + 0.2],
        "$odd": 1,  # a key that looks like a tag
    }
    back = load_checkpoint(save_checkpoint(state, tmp_path))
    assert torch.equal(back["tensor"], weight) and torch.equal(back["same"], weight)
    assert torch.equal(back["view"], weight[1]) and back["scalar"].shape == ()
    assert back["bytes"].dtype == torch.uint8 and back["bytes"].tolist() == [1, 2, 255]
    assert set(back["ints"]) == {0, 1} and back["ints"][0]["step"].item() == 2.0
    assert back["tuple"] == (0.9, 0.999) and isinstance(back["tuple"], tuple)
    assert back["list"] == [1, None, True, "x", 1e-7] and back["list"][2] is True
    assert back["floats"][0] == math.inf and math.copysign(1, back["floats"][1]) == -1
    assert back["floats"][2] == 0.1 + 0.2 and back["$odd"] == 1


def test_objects_that_would_need_pickle_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match=r"cannot checkpoint `state.callbacks.x` of type object"):
        save_checkpoint({"callbacks": {"x": object()}}, tmp_path)
    assert not os.listdir(tmp_path)


def test_foreign_or_damaged_files_are_refused(tmp_path):
    with pytest.raises(ModelFileError, match="no checkpoint"):
        load_checkpoint(tmp_path)
    pickled = tmp_path / "pickled" / CHECKPOINT_FILE
    pickled.parent.mkdir()
    pickled.write_bytes(pickle.dumps({"evil": print}))
    with pytest.raises(ModelFileError, match="damaged"):
        load_checkpoint(pickled)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ModelFileError, match="not an rnnlab training checkpoint"):
        load_checkpoint(plain)
    good = save_checkpoint({"w": torch.zeros(100)}, tmp_path / "good")
    good.write_bytes(good.read_bytes()[:-40])  # truncated
    with pytest.raises(ModelFileError, match="damaged"):
        load_checkpoint(good)


def test_paths_without_suffix_are_directories(tmp_path):
    assert checkpoint_path(tmp_path / "run") == tmp_path / "run" / CHECKPOINT_FILE
    assert checkpoint_path(tmp_path / "x.safetensors") == tmp_path / "x.safetensors"
    # A checkpoint may name a directory that does not exist yet.
    written = save_checkpoint({"w": torch.ones(2)}, tmp_path / "new" / "deeper")
    assert written == tmp_path / "new" / "deeper" / CHECKPOINT_FILE
    assert load_checkpoint(written)["w"].tolist() == [1.0, 1.0]
