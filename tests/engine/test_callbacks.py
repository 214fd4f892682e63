"""Each callback through a real Trainer: history, progress, early stopping, checkpoints,
schedules, the NaN guard, gradient clipping, and the dispatch order itself."""

import io
import math
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rnnlab.engine import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientClipping,
    History,
    LRScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
    load_checkpoint,
)
from rnnlab.engine import checkpoint as checkpoint_module
from tests.engine.engine_helpers import InjectLogs, Recorder, Trainer, blobs, mlp, same_weights

X, Y = blobs(n=16)


def fit(callbacks, epochs=2, batch_size=8, model=None, **trainer_kwargs):
    trainer_kwargs.setdefault("verbose", 0)
    trainer = Trainer(model or mlp(), seed=0, callbacks=callbacks, **trainer_kwargs)
    history = trainer.fit(
        (X, Y), epochs=epochs, batch_size=batch_size, shuffle=False, validation_data=(X[:4], Y[:4])
    )
    return trainer, history


# ------------------------------------------------------------------ dispatch


def test_hooks_run_in_this_order_once_each():
    rec = Recorder()
    fit([rec], epochs=2, batch_size=8)

    def batch(i):
        return [("batch_begin", i), ("after_backward", i), ("batch_end", i)]

    def epoch(e):
        return [("epoch_begin", e), *batch(0), *batch(1), ("epoch_end", e)]

    assert rec.calls == [("fit_begin",), *epoch(0), *epoch(1), ("fit_end",)]


def test_callbacks_are_dispatched_by_their_order_attribute():
    seen = []

    class Named(Callback):
        def __init__(self, name, order):
            self.name, self.order = name, order

        def on_epoch_end(self, trainer, epoch, logs):
            seen.append(self.name)

    fit([Named("late", 5), Named("early", -5), Named("middle", 0)], epochs=1)
    assert seen == ["early", "middle", "late"]


def test_base_callback_does_nothing():
    _, history = fit([Callback()], epochs=1)
    assert len(history.epoch) == 1 and Callback().state_dict() == {}


# ------------------------------------------------------------------- history


def test_history_holds_every_epoch_with_val_prefix_and_matches_evaluate():
    trainer, history = fit([], epochs=3)
    assert history is trainer.history and isinstance(history, History)
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert all(len(v) == 3 for v in history.history.values())
    final = trainer.evaluate((X[:4], Y[:4]), batch_size=8)
    assert history.history["val_loss"][-1] == final["loss"]
    assert history.history["val_accuracy"][-1] == final["accuracy"]
    assert all(a in (0.0, 0.25, 0.5, 0.75, 1.0) for a in history.history["val_accuracy"])


def test_a_given_history_is_used_and_reset_per_fit():
    hist = History()
    trainer = Trainer(mlp(), callbacks=[hist], verbose=0)
    assert trainer.fit((X, Y), epochs=2) is hist
    trainer.fit((X, Y), epochs=1)
    assert hist.epoch == [0] and len(hist.history["loss"]) == 1


# -------------------------------------------------------------- progress bar


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_is_quiet_when_stderr_is_not_a_terminal(capsys):
    fit([ProgressBar(verbose=1)])
    fit([], verbose=2)  # the default bar, added by the trainer
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_verbose_0_writes_nothing_even_when_forced():
    out = io.StringIO()
    fit([ProgressBar(verbose=0, file=out, only_tty=False)])
    assert out.getvalue() == ""


def test_progress_bar_per_batch_shows_epochs_batches_loss_and_validation():
    out = io.StringIO()
    fit([ProgressBar(verbose=1, file=out, only_tty=False)], epochs=2, batch_size=4)
    text = out.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "4/4" in text and "batch" in text
    assert "loss=" in text and "accuracy=" in text and "val_loss=" in text


def test_progress_bar_per_epoch_lines_with_time_and_eta_on_a_terminal():
    out = FakeTerminal()
    fit([ProgressBar(verbose=2, file=out)], epochs=3)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"Epoch {i + 1}/3 - ") for i, line in enumerate(lines))
    assert "loss: " in lines[0] and "val_accuracy: " in lines[0]
    assert "ETA" in lines[0] and "ETA" not in lines[2]


def test_progress_bar_reports_why_training_stopped():
    out = FakeTerminal()
    fit(
        [
            ProgressBar(verbose=2, file=out),
            InjectLogs("score", [1.0, 2.0, 3.0]),
            EarlyStopping("score", mode="min", patience=1),
        ],
        epochs=3,
    )
    assert "Stopped: EarlyStopping: `score` did not improve for 1 epochs" in out.getvalue()


# ------------------------------------------------------------ early stopping


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    rec = Recorder()
    stopper = EarlyStopping("score", mode="min", patience=2, restore_best_weights=True)
    trainer, history = fit(
        [InjectLogs("score", [3.0, 2.0, 2.5, 2.4, 2.6, 1.0]), stopper, rec], epochs=6
    )
    # best 2.0 in epoch 1; epochs 2 and 3 do not improve: stop after epoch 3.
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best == 2.0 and stopper.best_epoch == 1
    assert trainer.stop_reason.startswith("EarlyStopping: `score` did not improve for 2 epochs")
    assert not same_weights_dict(trainer.model.state_dict(), rec.weights[3])
    assert same_weights_dict(trainer.model.state_dict(), rec.weights[1])


def same_weights_dict(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_needs_a_mode_for_names_it_cannot_read():
    with pytest.raises(ValueError, match="pass mode='min' or mode='max'"):
        EarlyStopping("score")


def test_early_stopping_min_delta():
    stopper = EarlyStopping("score", mode="min", min_delta=0.1, patience=1)
    _, history = fit([InjectLogs("score", [1.0, 0.95, 0.9, 0.85]), stopper], epochs=4)
    assert history.epoch == [0, 1]  # 0.95 is not better than 1.0 by more than 0.1


def test_early_stopping_on_accuracy_maximises():
    stopper = EarlyStopping("val_accuracy", patience=0)
    assert stopper.mode == "max"
    _, history = fit([InjectLogs("val_accuracy", [0.5, 0.6, 0.6, 0.9]), stopper], epochs=4)
    assert history.epoch == [0, 1, 2]


def test_early_stopping_warns_about_a_missing_monitor():
    with pytest.warns(UserWarning, match="did you mean `val_loss`"):
        fit([EarlyStopping("val_los", mode="min")], epochs=1)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_saves_every_n_batches_and_every_epoch_keeping_the_last_two(tmp_path):
    ckpt = Checkpoint(tmp_path / "run", every_n_batches=3)
    trainer, _ = fit([ckpt], epochs=2, batch_size=4)  # 4 batches per epoch, 8 steps
    assert ckpt.saves == 2 + 2  # steps 3 and 6, and the two epoch ends
    assert sorted(os.listdir(tmp_path / "run")) == [
        "checkpoint.previous.safetensors",  # step 6
        "checkpoint.safetensors",
    ]
    assert (
        load_checkpoint(tmp_path / "run" / "checkpoint.previous.safetensors")["position"]["step"]
        == 6
    )
    only = Checkpoint(tmp_path / "one", every_n_batches=3, keep=1)
    fit([only], epochs=2, batch_size=4)
    assert os.listdir(tmp_path / "one") == ["checkpoint.safetensors"]
    state = load_checkpoint(tmp_path / "run")
    assert state["position"] == {
        "epoch": 2,
        "batch": 0,
        "step": 8,
        "stop_training": False,
        "stop_reason": None,
    }
    assert set(state["callbacks"]) == {"History"}
    assert all(torch.equal(state["model"][k], v) for k, v in trainer.model.state_dict().items())


def test_checkpoint_writes_atomically_with_fsync_then_rename_in_the_same_directory(
    tmp_path, monkeypatch
):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(
        checkpoint_module.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1]
    )

    def replace(src, dst):
        events.append(
            ("replace", os.path.dirname(src) == os.path.dirname(dst), os.path.basename(dst))
        )
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", replace)
    fit([Checkpoint(tmp_path)], epochs=1)
    # file data fsync'ed, renamed within the directory, then the directory fsync'ed
    assert events == ["fsync", ("replace", True, "checkpoint.safetensors"), "fsync"]


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    fit([Checkpoint(tmp_path)], epochs=1)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()

    def crash(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(checkpoint_module.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        fit([Checkpoint(tmp_path)], epochs=1, model=mlp(seed=5))
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.safetensors"]  # the temporary file is gone


def test_model_checkpoint_saves_only_improving_epochs(tmp_path):
    rec = Recorder()
    pattern = str(tmp_path / "w-{epoch}-{score:.1f}.safetensors")
    saver = ModelCheckpoint(pattern, monitor="score", mode="min", save_best_only=True)
    fit([InjectLogs("score", [1.0, 2.0, 0.5]), saver, rec], epochs=3)
    assert sorted(os.listdir(tmp_path)) == ["w-1-1.0.safetensors", "w-3-0.5.safetensors"]
    saved = load_file(str(tmp_path / "w-3-0.5.safetensors"))
    assert same_weights_dict(saved, rec.weights[2])


# ----------------------------------------------------------------- schedules


def step_lr(optimizer):
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)


def test_lr_scheduler_per_epoch_halves_the_rate_after_each_epoch():
    trainer, history = fit([LRScheduler(step_lr)], epochs=3, optimizer="sgd", lr=0.1)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025], rel=1e-12)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0125, rel=1e-12)


def test_lr_scheduler_per_batch_steps_after_every_batch():
    _, history = fit(
        [LRScheduler(step_lr, step_every="batch")], epochs=2, batch_size=4, optimizer="sgd", lr=0.1
    )
    # 4 batches per epoch; an epoch logs the rate in force when it ends (after 4 and 8 steps).
    assert history.history["learning_rate"] == pytest.approx(
        [0.1 * 0.5**4, 0.1 * 0.5**8], rel=1e-12
    )


def test_lr_scheduler_accepts_a_built_scheduler_and_torch_plateau():
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    _, history = fit(
        [InjectLogs("score", [1.0, 1.0, 1.0]), LRScheduler(plateau, monitor="score")],
        epochs=3,
        model=model,
        optimizer=optimizer,
    )
    # torch semantics: patience 0, so the first flat epoch (1) already halves the rate.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05])


def test_lr_scheduler_refuses_a_scheduler_of_another_optimizer():
    other = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="another optimiser"):
        fit([LRScheduler(step_lr(other))], epochs=1)


def test_keras_reduce_lr_on_plateau_with_cooldown_and_floor():
    # Flat score, patience 1, cooldown 2, floor 0.03: reduce after epoch 1, skip epoch 2
    # (cooldown), reduce after epoch 3 to max(0.025, 0.03).
    reducer = ReduceLROnPlateau(
        "score", factor=0.5, patience=1, cooldown=2, min_lr=0.03, mode="min"
    )
    _, history = fit([InjectLogs("score", [1.0] * 5), reducer], epochs=5, optimizer="sgd", lr=0.1)
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.03])
    with pytest.raises(ValueError, match=r"`factor` must be in \(0, 1\)"):
        ReduceLROnPlateau(factor=1.5)


# ----------------------------------------------------------------- guards


def test_terminate_on_nan_stops_cleanly_and_keeps_the_last_good_weights():
    x = X.copy()
    x[9] = np.nan  # in the third batch of 4 (shuffle off)
    rec, guard = Recorder(), TerminateOnNaN()
    trainer = Trainer(mlp(), seed=0, callbacks=[guard, rec], verbose=0)
    history = trainer.fit((x, Y), epochs=3, batch_size=4, shuffle=False)
    assert guard.stopped_at == (0, 2)
    assert trainer.stop_reason == guard.reason
    assert "the loss is nan in epoch 1, batch 3" in guard.reason
    assert ("batch_end", 2) in rec.calls and ("batch_begin", 3) not in rec.calls
    assert rec.calls[-2:] == [("epoch_end", 0), ("fit_end",)]
    assert history.epoch == [0] and math.isnan(history.history["loss"][0])
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    # The weights are exactly those after the two good batches.
    reference = Trainer(mlp(), seed=0, verbose=0)
    reference.fit((X[:8], Y[:8]), epochs=1, batch_size=4, shuffle=False)
    assert same_weights(trainer.model, reference.model)


def test_terminate_on_nan_can_check_gradients():
    class InfGrad(Callback):
        def on_after_backward(self, trainer, batch, loss):
            next(trainer.model.parameters()).grad[0, 0] = float("inf")

    class Check(TerminateOnNaN):
        order = 1  # after the injection

    guard = Check(check_gradients=True)
    trainer, _ = fit([InfGrad(), guard], epochs=2)
    assert guard.stopped_at == (0, 0) and "gradient of `hidden.weight`" in guard.reason
    assert same_weights(trainer.model, mlp())  # the only step was skipped


class TwoWeights(nn.Module):
    """out = a * x0 + b * x1, two separate parameters starting at 0."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(1))
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return (self.a * x[:, 0] + self.b * x[:, 1])[:, None]


@pytest.mark.parametrize(
    "clip, expected",
    [
        # loss (a*1.5 + b*2 - 1)^2 at 0: gradients (-3, -4), joint norm 5; SGD lr 1.
        ({"global_clipnorm": 1.0}, (0.6, 0.8)),  # scaled together to norm 1
        ({"clipnorm": 1.0}, (1.0, 1.0)),  # each clipped to norm 1 on its own (Keras)
        ({"clipvalue": 2.0}, (2.0, 2.0)),  # each element clamped to [-2, 2]
        ({"clipnorm": 10.0}, (3.0, 4.0)),  # under the bound: untouched
    ],
)
def test_gradient_clipping_bounds_the_step(clip, expected):
    clipper = GradientClipping(**clip)
    trainer = Trainer(
        TwoWeights(),
        loss="mse",
        optimizer="sgd",
        lr=1.0,
        metrics=[],
        callbacks=[clipper],
        verbose=0,
    )
    trainer.fit((np.array([[1.5, 2.0]]), np.array([[1.0]])), epochs=1, batch_size=1)
    model = trainer.model
    assert (model.a.item(), model.b.item()) == pytest.approx(expected, rel=1e-6)
    assert clipper.last_norm == pytest.approx(5.0, rel=1e-6)


def test_gradient_clipping_needs_exactly_one_option():
    with pytest.raises(ValueError, match="exactly one of"):
        GradientClipping()
    with pytest.raises(ValueError, match="exactly one of"):
        GradientClipping(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="`clipnorm` must be positive, got 0"):
        GradientClipping(clipnorm=0)
