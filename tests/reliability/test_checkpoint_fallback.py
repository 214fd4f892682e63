"""The latest checkpoint corrupted: resume falls back to the one before it, says so, loses nothing.

`Checkpoint` keeps the last two states (``checkpoint.safetensors`` and
``checkpoint.previous.safetensors``). Each case below interrupts a run, damages
the latest file, reruns the same fit, and checks that it warned, resumed from
the previous state, and ended bit-identical to a run never interrupted.
"""

import pytest

from rnnlab.engine import Checkpoint, CheckpointFallbackWarning, EarlyStopping, load_checkpoint
from rnnlab.errors import ModelFileError
from tests.engine.engine_helpers import RaiseAt, Trainer, blobs, mlp, same_weights
from tests.reliability import corrupt

X, Y = blobs(n=40)  # validation_split 0.2 -> 32 training samples, 4 batches of 8


def run(directory, extra=(), model_seed=0):
    trainer = Trainer(
        mlp(model_seed),
        seed=1,
        verbose=0,
        callbacks=[
            EarlyStopping("val_loss", patience=20, restore_best_weights=True),
            Checkpoint(directory, every_n_batches=1),
            *extra,
        ],
    )
    history = trainer.fit(
        (X, Y), epochs=3, batch_size=8, validation_split=0.2, checkpoint_dir=directory
    )
    return trainer, history


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run(tmp_path_factory.mktemp("reference"))


DAMAGE = {
    "flipped byte": lambda raw: raw[:100] + bytes([raw[100] ^ 1]) + raw[101:],
    "cut in the header": lambda raw: raw[: corrupt.offset_classes(raw, True)["header"]],
    "cut in the data": lambda raw: raw[: corrupt.offset_classes(raw, True)["data"]],
    "empty": lambda raw: b"",
    "header length of 1 TB": lambda raw: corrupt.with_header_length(raw, 2**40),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, reference, damage):
    with pytest.raises(RuntimeError, match="interrupted by the test"):
        run(tmp_path, extra=[RaiseAt(1, 2)])  # at step 7, before its checkpoint
    latest = tmp_path / "checkpoint.safetensors"
    assert load_checkpoint(latest)["position"]["step"] == 6
    assert load_checkpoint(tmp_path / "checkpoint.previous.safetensors")["position"]["step"] == 5
    latest.write_bytes(DAMAGE[damage](latest.read_bytes()))

    with pytest.warns(CheckpointFallbackWarning, match="resuming from the checkpoint before it"):
        resumed, history = run(tmp_path, model_seed=7)
    trainer, ref_history = reference
    assert same_weights(trainer.model, resumed.model)
    assert history.history == ref_history.history
    # The damaged file is set aside, never rotated into the place of the previous one.
    assert (tmp_path / "checkpoint.safetensors.damaged").is_file()
    assert load_checkpoint(tmp_path / "checkpoint.previous.safetensors")["position"]["step"] > 5


def test_a_missing_latest_checkpoint_falls_back_too(tmp_path, reference):
    with pytest.raises(RuntimeError):
        run(tmp_path, extra=[RaiseAt(0, 3)])
    (tmp_path / "checkpoint.safetensors").unlink()
    with pytest.warns(CheckpointFallbackWarning, match="no checkpoint at"):
        resumed, history = run(tmp_path, model_seed=3)
    assert same_weights(reference[0].model, resumed.model)
    assert history.history == reference[1].history


def test_both_checkpoints_damaged_is_one_clear_error(tmp_path):
    with pytest.raises(RuntimeError):
        run(tmp_path, extra=[RaiseAt(0, 2)])
    for name in ("checkpoint.safetensors", "checkpoint.previous.safetensors"):
        raw = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="checkpoint.safetensors' is damaged"):
        run(tmp_path)
