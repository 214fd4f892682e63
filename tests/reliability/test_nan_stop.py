"""A NaN or inf loss at step k: training stops with the last good state, and nothing after it.

What is implemented and checked here:

- without a checkpoint directory, the model keeps the weights of step k - 1
  (the bad step is skipped): equal, bit for bit, to a run stopped cleanly
  after step k - 1;
- with one, the checkpoint left behind is the state before step k (weights,
  optimiser, running sums, every generator, the position), never replaced later
  in that fit: resuming it on repaired data ends bit-identical to a run that
  never met the bad batch; resuming it on the same data meets the batch again
  and stops again with the same reason.
"""

import numpy as np
import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.engine import Callback, Checkpoint, EarlyStopping, TerminateOnNaN, load_checkpoint
from tests.engine.engine_helpers import Trainer, blobs, mlp, same_weights

X, Y = blobs(n=40)  # 32 training samples (validation_split 0.2): 4 batches of 8
BAD_ROW = 8 * 2 + 3  # in the third batch of every epoch (no shuffle)


class StopAfter(Callback):
    """Stops the fit after global step ``step`` (the clean way to end a reference run there)."""

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, trainer, batch, logs):
        if trainer.step == self.at:
            trainer.stop("reference")


def fit(x, directory=None, extra=(), model_seed=0, shuffle=True, epochs=3):
    callbacks = [TerminateOnNaN(), EarlyStopping("val_loss", patience=9), *extra]
    if directory is not None:
        callbacks.append(Checkpoint(directory, every_n_batches=1))
    trainer = Trainer(mlp(model_seed), seed=3, verbose=0, callbacks=callbacks)
    history = trainer.fit(
        (x, Y),
        epochs=epochs,
        batch_size=8,
        shuffle=shuffle,
        validation_split=0.2,
        checkpoint_dir=directory,
    )
    return trainer, history


def poisoned(value=np.nan):
    x = X.copy()
    x[BAD_ROW, 1] = value
    return x


def test_without_checkpoints_the_weights_are_those_of_the_last_good_step():
    stopped, history = fit(poisoned(), shuffle=False)
    assert stopped.stop_reason.startswith("TerminateOnNaN: the loss is nan in epoch 1, batch 3")
    assert stopped.step == 3 and np.isnan(history.history["loss"][0])
    reference, _ = fit(X, extra=[StopAfter(2)], shuffle=False)  # clean, stopped after step 2
    assert same_weights(stopped.model, reference.model)
    assert all(torch.isfinite(p).all() for p in stopped.model.parameters())


def test_the_checkpoint_is_the_state_before_the_bad_step_and_resumes_exactly(tmp_path):
    clean, clean_history = fit(X, tmp_path / "clean", shuffle=False)

    bad, _ = fit(poisoned(), tmp_path / "run", shuffle=False)
    assert bad.stop_reason.endswith("(saved in the checkpoint, which a resumed run continues from)")
    state = load_checkpoint(tmp_path / "run")
    assert state["position"] == {
        "epoch": 0,
        "batch": 2,  # batches 0 and 1 done, batch 2 (the bad one) not
        "step": 2,
        "stop_training": False,
        "stop_reason": None,
    }
    assert state["count"] == 16 and np.isfinite(state["sums"]["loss"])
    assert state["callbacks"]["TerminateOnNaN"]["reason"] is None
    # The epoch still ended (validation, on_epoch_end), but the held checkpoint stayed.
    previous = load_checkpoint(tmp_path / "run" / "checkpoint.previous.safetensors")
    assert previous["position"]["step"] == 2 and previous["position"]["batch"] == 2

    # The same data again: the same batch, the same stop.
    again, again_history = fit(poisoned(), tmp_path / "run", shuffle=False, model_seed=5)
    assert again.stop_reason == bad.stop_reason and np.isnan(again_history.history["loss"][0])
    # Repaired data (same size): the run continues as if the bad batch had been clean.
    fixed, history = fit(X, tmp_path / "run", shuffle=False, model_seed=9)
    assert fixed.stop_reason is None
    assert same_weights(fixed.model, clean.model) and history.history == clean_history.history


@pytest.mark.parametrize("epoch", [0, 1])
def test_with_shuffling_and_dropout_the_resumed_run_is_bit_identical(tmp_path, epoch):
    """The generators must be those before the bad batch (its dropout masks, its shuffle)."""
    clean, clean_history = fit(X, tmp_path / "clean")

    class Poison(Callback):  # NaN into the inputs of one batch: the data itself stays clean
        order = -100
        armed = False

        def on_batch_begin(self, trainer, batch):
            self.armed = (trainer.epoch, batch) == (epoch, 1 + epoch)

    poison = Poison()
    model = mlp(0)
    forward = model.forward

    def poisoned_forward(x):
        return forward(x * torch.nan if poison.armed else x)

    model.forward = poisoned_forward
    trainer = Trainer(
        model,
        seed=3,
        verbose=0,
        callbacks=[
            TerminateOnNaN(),
            EarlyStopping("val_loss", patience=9),
            Checkpoint(tmp_path / "run", every_n_batches=1),
            poison,
        ],
    )
    trainer.fit(
        (X, Y), epochs=3, batch_size=8, validation_split=0.2, checkpoint_dir=tmp_path / "run"
    )
    assert trainer.stop_reason.startswith(f"TerminateOnNaN: the loss is nan in epoch {epoch + 1}")
    resumed, history = fit(X, tmp_path / "run", model_seed=11)
    assert same_weights(resumed.model, clean.model) and history.history == clean_history.history


def test_an_infinite_loss_stops_the_same_way(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    x = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(Y, dtype=torch.float32)[:, None]
    y[20] = 1e30  # (out - 1e30)**2 overflows float32: inf, not nan
    trainer = Trainer(model, loss="mse", seed=0, verbose=0, callbacks=[TerminateOnNaN()])
    trainer.fit((x, y), epochs=2, batch_size=8, shuffle=False, checkpoint_dir=tmp_path)
    assert trainer.stop_reason.startswith("TerminateOnNaN: the loss is inf in epoch 1, batch 3")
    state = load_checkpoint(tmp_path)
    assert (state["position"]["batch"], state["position"]["step"]) == (2, 2)
    assert all(torch.equal(state["model"][k], v) for k, v in model.state_dict().items())


class Overflow(Callback):
    """Sets a learning rate of 1e39 for global step ``step``: a finite loss, then inf weights."""

    order = -100

    def __init__(self, step):
        self.at = step

    def on_batch_begin(self, trainer, batch):
        if trainer.step + 1 == self.at:
            for group in trainer.optimizer.param_groups:
                group["lr"] = 1e39  # past float32: the update is inf


def test_check_weights_undoes_a_step_that_overflows_the_weights(tmp_path):
    trainer = Trainer(
        mlp(0), seed=3, verbose=0, callbacks=[TerminateOnNaN(check_weights=True), Overflow(6)]
    )
    trainer.fit((X, Y), epochs=3, batch_size=8, shuffle=False, validation_split=0.2)
    assert trainer.stop_reason.startswith("TerminateOnNaN: the step made `")
    assert "in epoch 2, batch 2; that step was undone" in trainer.stop_reason
    reference, _ = fit(X, extra=[StopAfter(5)], shuffle=False)
    assert same_weights(trainer.model, reference.model)
    # Without check_weights the same step leaves inf weights behind (and NaN follows).
    unchecked = Trainer(mlp(0), seed=3, verbose=0, callbacks=[TerminateOnNaN(), Overflow(6)])
    unchecked.fit((X, Y), epochs=3, batch_size=8, shuffle=False, validation_split=0.2)
    assert not all(torch.isfinite(p).all() for p in unchecked.model.parameters())


def test_rnnlab_train_stops_on_overflowing_weights_and_keeps_the_checkpoint_of_the_last_good_state(
    tmp_path,
):
    from rnnlab.experiments import train_one

    rows = ["text,label"] + [
        f"{'good fun great' if i % 2 else 'bad dull awful'} film {i},{'pos' if i % 2 else 'neg'}"
        for i in range(60)
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    overrides = [
        "data.source=csv", f"data.path={tmp_path / 'data.csv'}", "train.lr=1.0e+38",
        "train.epochs=3", "train.early_stopping_patience=null", "model.units=[4]",
        "model.embedding_dim=4",
    ]  # fmt: skip
    with pytest.warns(
        RuntimeWarning, match="training stopped early: TerminateOnNaN: the step made"
    ):
        result = train_one("text/gru", overrides, out_dir=tmp_path / "run", verbose=0)
    assert result["stop_reason"].startswith("TerminateOnNaN")
    model_weights = rnnlab.load(tmp_path / "run" / "model").module.state_dict()
    assert all(torch.isfinite(v).all() for v in model_weights.values())  # the last good weights
    state = load_checkpoint(tmp_path / "run" / "checkpoints")  # kept: it is the resume point
    assert all(torch.equal(state["model"][k], v) for k, v in model_weights.items())
