"""An interrupted run, resumed from its last checkpoint, ends exactly like an uninterrupted one."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader, TensorDataset

import rnnlab
from rnnlab.engine import (
    Checkpoint,
    EarlyStopping,
    LRScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
    load_checkpoint,
)
from rnnlab.errors import ModelFileError
from tests.engine.engine_helpers import RaiseAt, Trainer, blobs, mlp, same_weights

X, Y = blobs(n=40)  # validation_split 0.2 -> 32 training samples, 4 batches of 8


def callbacks(directory):
    """Stateful callbacks of every kind, so resume must restore each one."""
    return [
        EarlyStopping("val_loss", patience=20, restore_best_weights=True),
        LRScheduler(
            lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9), step_every="batch"
        ),
        ReduceLROnPlateau("loss", factor=0.5, patience=0, min_delta=0.0),
        Checkpoint(directory, every_n_batches=3),
    ]


def run(directory, extra=(), resume=False, model_seed=0, epochs=4, data=(X, Y)):
    trainer = Trainer(
        mlp(model_seed), seed=1, verbose=0, callbacks=callbacks(directory) + list(extra)
    )
    history = trainer.fit(
        data,
        epochs=epochs,
        batch_size=8,
        validation_split=0.2,
        resume_from=directory if resume else None,
    )
    return trainer, history


def assert_same_run(a, ha, b, hb):
    for (name, p), q in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(p, q), name
    assert ha.history == hb.history and ha.epoch == hb.epoch
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert all(
        torch.equal(sa["state"][i][k], sb["state"][i][k])
        for i in sa["state"]
        for k in sa["state"][i]
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run(tmp_path_factory.mktemp("reference"))


@pytest.mark.parametrize(
    "epoch, batch, position",
    [
        (0, 3, (0, 3)),  # first epoch: the checkpoint after step 3 is mid-epoch
        (1, 2, (1, 2)),  # step 7 interrupted; the checkpoint from step 6 is in epoch 1, batch 2
        (2, 0, (2, 0)),  # step 9 interrupted: the last checkpoint is the end of epoch 1
        (3, 3, (3, 3)),  # last epoch, after the last batch's checkpoint, before validation
    ],
)
def test_resume_after_an_exception_in_a_callback_mid_epoch(
    tmp_path, reference, epoch, batch, position
):
    with pytest.raises(RuntimeError, match="interrupted by the test"):
        run(tmp_path, extra=[RaiseAt(epoch, batch)])
    pos = load_checkpoint(tmp_path)["position"]
    assert (pos["epoch"], pos["batch"]) == position
    # A fresh process would build the model from scratch: other initial weights on purpose.
    resumed, history = run(tmp_path, resume=True, model_seed=123)
    assert_same_run(*reference, resumed, history)


def test_resume_with_a_shuffling_dataloader_mid_epoch(tmp_path):
    dataset = TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(Y))

    def go(directory, extra=(), resume=False, model_seed=0):
        trainer = Trainer(
            mlp(model_seed),
            seed=1,
            verbose=0,
            callbacks=[Checkpoint(directory, every_n_batches=2), *extra],
        )
        history = trainer.fit(
            DataLoader(dataset, batch_size=8, shuffle=True),
            epochs=3,
            resume_from=directory if resume else None,
        )
        return trainer, history

    a, ha = go(tmp_path / "a")
    with pytest.raises(RuntimeError):
        go(tmp_path / "b", extra=[RaiseAt(1, 3)])
    assert load_checkpoint(tmp_path / "b")["position"]["batch"] == 3
    b, hb = go(tmp_path / "b", resume=True, model_seed=5)
    assert same_weights(a.model, b.model) and ha.history == hb.history


def test_resuming_a_finished_or_stopped_run_changes_nothing(tmp_path):
    def go(resume):
        stopper = EarlyStopping("score", mode="min", patience=1, restore_best_weights=True)

        class Score(ReduceLROnPlateau):  # any callback writing the logs would do
            order = -100

            def on_epoch_end(self, trainer, epoch, logs):
                logs["score"] = [1.0, 0.5, 0.7, 0.8, 0.9][epoch]

        trainer = Trainer(
            mlp(), seed=1, verbose=0, callbacks=[Score(), stopper, Checkpoint(tmp_path)]
        )
        return trainer, trainer.fit(
            (X, Y), epochs=5, batch_size=8, resume_from=tmp_path if resume else None
        )

    a, ha = go(resume=False)
    assert ha.epoch == [0, 1, 2] and a.stop_reason.startswith("EarlyStopping")
    b, hb = go(resume=True)
    assert same_weights(a.model, b.model) and ha.history == hb.history
    assert b.stop_reason == a.stop_reason


def test_resume_after_a_nan_stop_mid_epoch(tmp_path):
    x = X.copy()
    x[13] = np.nan  # second batch of the first epoch (no shuffle)

    def go(resume, model_seed=0):
        trainer = Trainer(
            mlp(model_seed),
            seed=1,
            verbose=0,
            callbacks=[TerminateOnNaN(), Checkpoint(tmp_path, every_n_batches=1)],
        )
        return trainer, trainer.fit(
            (x, Y), epochs=3, batch_size=8, shuffle=False, resume_from=tmp_path if resume else None
        )

    a, ha = go(False)
    b, hb = go(True, model_seed=3)
    assert same_weights(a.model, b.model) and b.stop_reason == a.stop_reason
    assert ha.epoch == hb.epoch == [0] and np.isnan(hb.history["loss"][0])


def test_checkpoint_dir_resumes_automatically(tmp_path, reference):
    def go(extra=(), model_seed=0):
        trainer = Trainer(
            mlp(model_seed), seed=1, verbose=0, callbacks=callbacks(tmp_path) + list(extra)
        )
        return trainer, trainer.fit(
            (X, Y), epochs=4, batch_size=8, validation_split=0.2, checkpoint_dir=tmp_path
        )

    with pytest.raises(RuntimeError):
        go(extra=[RaiseAt(2, 2)])
    assert_same_run(*reference, *go(model_seed=9))
    assert_same_run(*reference, *go(model_seed=10))  # rerunning a finished run: a no-op


def test_resume_refuses_other_data_or_callbacks(tmp_path):
    run(tmp_path, epochs=1)
    trainer = Trainer(mlp(), verbose=0, callbacks=callbacks(tmp_path))
    with pytest.raises(
        ValueError, match="written by a run with batch_size=8, .*this fit has batch_size=4"
    ):
        trainer.fit((X, Y), epochs=2, batch_size=4, validation_split=0.2, resume_from=tmp_path)
    with pytest.raises(ValueError, match="num_samples=32, this fit has num_samples=30"):
        trainer.fit(
            (X[:-2], Y[:-2]), epochs=2, batch_size=8, validation_split=0.2, resume_from=tmp_path
        )
    bare = Trainer(mlp(), verbose=0)
    with pytest.raises(ValueError, match="state for callbacks"):
        bare.fit((X, Y), epochs=2, batch_size=8, validation_split=0.2, resume_from=tmp_path)
    with pytest.raises(ModelFileError, match="no checkpoint"):
        bare.fit((X, Y), resume_from=tmp_path / "missing")


SCRIPT = """
import json, sys, time
import numpy as np
import torch
from torch import nn
from safetensors.torch import save_file
from rnnlab.engine import Callback, Checkpoint, EarlyStopping, Trainer, seed_everything

out, ckpt, stall = sys.argv[1], sys.argv[2], sys.argv[3]

class Stall(Callback):
    order = 200  # after this batch's checkpoint is on disk

    def on_batch_end(self, trainer, batch, logs):
        if f"{trainer.epoch},{batch}" == stall:
            print("stalling", flush=True)
            time.sleep(300)

seed_everything(0)
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 3))
rs = np.random.RandomState(0)
x, y = rs.randn(64, 4), rs.randint(0, 3, 64)
trainer = Trainer(model, seed=1, verbose=0, device="cpu", callbacks=[
    Stall(), EarlyStopping("val_loss", patience=20, restore_best_weights=True),
    Checkpoint(ckpt, every_n_batches=2)])
history = trainer.fit((x, y), epochs=3, batch_size=8, validation_split=0.25, checkpoint_dir=ckpt)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out + "/weights.safetensors")
with open(out + "/history.json", "w") as fh:
    json.dump(history.history, fh)
"""


def test_resume_after_sigkill_in_a_new_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    src = str(Path(rnnlab.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["OMP_NUM_THREADS"] = "1"  # tiny model: threads only add contention; same in all three runs
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    ref.mkdir(), killed.mkdir()

    def run_script(out, ckpt, stall="-"):
        return subprocess.run(
            [sys.executable, str(script), str(out), str(ckpt), stall],
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = run_script(ref, tmp_path / "ref_ckpt")
    assert done.returncode == 0, done.stderr

    # Stall after step 6 + 4 = 10 (epoch 1, batch index 3), once its checkpoint is written;
    # then SIGKILL.
    proc = subprocess.Popen(
        [sys.executable, str(script), str(killed), str(tmp_path / "ckpt"), "1,3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # blocks until the script stalls (or ends: then it failed)
        assert line.strip() == "stalling", proc.stderr.read()
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    position = load_checkpoint(tmp_path / "ckpt")["position"]
    assert (position["epoch"], position["batch"], position["step"]) == (1, 4, 10)  # mid-epoch
    assert not (killed / "weights.safetensors").exists()

    resumed = run_script(killed, tmp_path / "ckpt")  # same command: checkpoint_dir resumes it
    assert resumed.returncode == 0, resumed.stderr
    a, b = (
        load_file(str(ref / "weights.safetensors")),
        load_file(str(killed / "weights.safetensors")),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (ref / "history.json").read_text() == (killed / "history.json").read_text()


def test_min_interval_skips_scheduled_saves_that_come_too_soon(tmp_path, monkeypatch):
    clock = iter(np.arange(0.0, 1000.0, 4.0))  # each call to the clock moves it 4 s on
    monkeypatch.setattr("rnnlab.engine.callbacks.checkpoint.time.monotonic", lambda: next(clock))
    every_epoch = Checkpoint(tmp_path / "a")
    throttled = Checkpoint(tmp_path / "b", min_interval_s=10.0)
    trainer = Trainer(mlp(0), seed=1, verbose=0, callbacks=[every_epoch, throttled])
    trainer.fit((X, Y), epochs=8, batch_size=8)
    assert every_epoch.saves == 8
    # The first epoch always saves; then only once 10 s have passed since the last write
    # (the clock is read once per due-check and once per write).
    assert 1 < throttled.saves < 8
    state = load_checkpoint(tmp_path / "b")
    assert state["position"]["epoch"] < 8  # the latest saved epoch, not necessarily the last


def test_a_direct_save_is_never_throttled(tmp_path):
    # What the SIGTERM / Ctrl-C handler calls: it writes at once, whatever the interval.
    cb = Checkpoint(tmp_path, min_interval_s=1e9)

    class SaveNow(rnnlab.engine.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:
                cb.save(trainer)

    trainer = Trainer(mlp(0), seed=1, verbose=0, callbacks=[SaveNow(), cb])
    trainer.fit((X, Y), epochs=4, batch_size=8)
    assert cb.saves == 2  # the first epoch's, then the direct one; the others were too soon
    assert load_checkpoint(tmp_path)["position"]["epoch"] == 3
