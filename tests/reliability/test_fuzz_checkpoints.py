"""Fuzzing training checkpoints: every load gives the identical state or a ModelFileError.

- **damage** (a flipped byte anywhere, a cut at every offset class, a header
  length claiming gigabytes): `load_checkpoint` returns a state equal to the
  saved one, tensor for tensor and bit for bit, or raises `ModelFileError`;
- **edits with a consistent checksum** (the structure JSON with wrong types or
  values, written back with a matching digest, as a buggy writer would):
  loading raises `ModelFileError` or returns a state, and resuming a fit from it
  either runs or raises an `RnnlabError`. Never another exception.

Nothing is unpickled: a checkpoint is safetensors (tensors) plus JSON.
"""

import json
import math
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save as save_tensors

from rnnlab.engine import Checkpoint, EarlyStopping, ReduceLROnPlateau, load_checkpoint
from rnnlab.engine.checkpoint import checkpoint_bytes
from rnnlab.errors import ModelFileError, RnnlabError
from tests.engine.engine_helpers import Trainer, blobs, mlp
from tests.reliability import corrupt
from tests.reliability.fuzzing import bounded

X, Y = blobs(n=48)  # 36 training samples: 5 batches of 8 per epoch


def _trainer(directory):
    return Trainer(
        mlp(0),
        seed=1,
        verbose=0,
        callbacks=[
            EarlyStopping("val_loss", patience=5, restore_best_weights=True),
            ReduceLROnPlateau("loss", patience=1),
            Checkpoint(directory, every_n_epochs=None, every_n_batches=2),
        ],
    )


def _fit(trainer, resume_from=None, epochs=2):
    return trainer.fit(
        (X, Y), epochs=epochs, batch_size=8, validation_split=0.25, resume_from=resume_from
    )


def same(a, b):
    """Equal structures: same types and keys, tensors equal in dtype, shape and bits."""
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(_bits(a), _bits(b))
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _bits(t):
    return t.contiguous().reshape(-1).view(torch.uint8) if t.numel() else t.reshape(-1)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """(checkpoint bytes of a run stopped mid-epoch, the state they hold)."""
    d = tmp_path_factory.mktemp("ckpt")
    _fit(_trainer(d), epochs=2)  # the last checkpoint: after step 8, mid-epoch, sums running
    data = (d / "checkpoint.safetensors").read_bytes()
    return data, load_checkpoint(d)


@bounded(400)
@given(data=st.data())
def test_a_damaged_checkpoint_loads_identically_or_is_refused(pristine, data):
    raw, state = pristine
    kind = data.draw(st.sampled_from(["flip", "flip", "flip", "truncate", "header"]))
    if kind == "flip":
        damaged = data.draw(corrupt.byte_flip(raw))
    elif kind == "truncate":
        damaged = data.draw(corrupt.truncation(raw, safetensors=True))
    else:
        claimed = data.draw(st.sampled_from([2**31, 2**40, 2**63 - 1, 0, 1, len(raw)]))
        damaged = corrupt.with_header_length(raw, claimed)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "checkpoint.safetensors"
        path.write_bytes(damaged)
        try:
            back = load_checkpoint(path)
        except ModelFileError:
            return
    assert same(back, state), f"{kind}: a damaged checkpoint loaded as a different state"


def _structure(raw):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.safetensors"
        path.write_bytes(raw)
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata()
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    return json.loads(meta["state"]), tensors


@bounded(250, deadline_ms=5000)
@given(data=st.data())
def test_an_edited_checkpoint_with_a_consistent_checksum_loads_or_is_refused(pristine, data):
    raw, _ = pristine
    structure, tensors = _structure(raw)
    edited = data.draw(corrupt.json_edit(structure))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "checkpoint.safetensors"
        path.write_bytes(checkpoint_bytes(edited, tensors))
        try:
            load_checkpoint(path)
        except ModelFileError:
            return
        trainer = _trainer(Path(d) / "out")
        try:
            _fit(trainer, resume_from=path)
        except RnnlabError:
            return


# Regressions: what the fuzzers found.


def test_regression_a_flipped_bit_in_the_weights_or_the_structure_is_refused(tmp_path, pristine):
    raw, _ = pristine
    n = corrupt.header_length(raw)
    path = tmp_path / "checkpoint.safetensors"
    # Both loaded silently as a different state before the checksum (format 2).
    path.write_bytes(raw[: 8 + n + 5] + bytes([raw[8 + n + 5] ^ 0x40]) + raw[8 + n + 6 :])
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        load_checkpoint(path)
    at = raw.index(b'\\"step\\": ') + len(b'\\"step\\": ')
    path.write_bytes(raw[:at] + (b"9" if raw[at : at + 1] != b"9" else b"8") + raw[at + 1 :])
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        load_checkpoint(path)


def test_regression_a_format_1_checkpoint_without_a_checksum_still_loads(tmp_path, pristine):
    structure, tensors = _structure(pristine[0])
    meta = {"format": "rnnlab.training-state", "format_version": "1"}
    meta["state"] = json.dumps(structure)
    (tmp_path / "checkpoint.safetensors").write_bytes(save_tensors(tensors, metadata=meta))
    assert same(load_checkpoint(tmp_path), pristine[1])


def _edited(tmp_path, pristine, change):
    structure, tensors = _structure(pristine[0])
    change(structure)
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(checkpoint_bytes(structure, tensors))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        # Each ran into the optimiser step or a callback with a TypeError / KeyError.
        (
            lambda s: s["optimizer"]["param_groups"][0].__setitem__("betas", {"$tuple": []}),
            "betas` has 0 items, not 2",
        ),
        (
            lambda s: s["optimizer"]["param_groups"][0].pop("lr"),
            "optimiser state does not work with this optimiser \\('lr'\\)",
        ),
        (
            lambda s: s["optimizer"]["state"]["$items"][0][1].pop("exp_avg"),
            "optimiser state does not work with this optimiser \\('exp_avg'\\)",
        ),
        (lambda s: s["callbacks"]["EarlyStopping"].__setitem__("best", [1]), "`best` = \\[1\\]"),
        (lambda s: s["sums"].__setitem__("loss", None), "running sums are not numbers"),
        (lambda s: s["position"].__setitem__("batch", -1), "position `batch` is not a count"),
        (lambda s: s["rng"]["numpy"].__setitem__("pos", "x"), "rng.numpy.pos` is not a number"),
    ],
)
def test_regression_a_consistent_but_wrong_state_is_refused_on_resume(
    tmp_path, pristine, change, message
):
    path = _edited(tmp_path, pristine, change)
    with pytest.raises(RnnlabError, match=message):
        _fit(_trainer(tmp_path / "out"), resume_from=path)
