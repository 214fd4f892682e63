"""SIGTERM and Ctrl-C (SIGINT) during training: a checkpoint, a clear line, a non-zero exit, a resume.

Two drivers, each in a subprocess: a small script using `Trainer` with
``checkpoint_dir`` (catching `TrainingInterrupted` as a user would), and the
command line, ``rnnlab train ... --out DIR``. Each is signalled mid-run, after
its first checkpointed batches; the same command then resumes, and must end
with the weights and history of a run never interrupted.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnlab
from rnnlab.engine import Callback, TrainingInterrupted, load_checkpoint
from tests.engine.engine_helpers import Trainer, blobs, mlp

SRC = str(Path(rnnlab.__file__).resolve().parents[1])
ENV = {
    **os.environ,
    "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    "OMP_NUM_THREADS": "1",
}

SCRIPT = """
import json, sys, time
import numpy as np
from torch import nn
from safetensors.torch import save_file
from rnnlab.engine import Callback, EarlyStopping, Trainer, TrainingInterrupted, seed_everything

out, ckpt, ready_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Pace(Callback):
    order = 200  # after the checkpoint of the batch

    def on_batch_end(self, trainer, batch, logs):
        if trainer.step == ready_at:
            print("ready", flush=True)  # the parent signals now
        if ready_at and trainer.step >= ready_at:
            time.sleep(0.5)  # the signal lands while this batch is still running

seed_everything(0)
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 3))
rs = np.random.RandomState(0)
x, y = rs.randn(96, 4), rs.randint(0, 3, 96)
trainer = Trainer(model, seed=1, verbose=0, device="cpu", callbacks=[
    Pace(), EarlyStopping("val_loss", patience=20, restore_best_weights=True)])
try:
    history = trainer.fit((x, y), epochs=4, batch_size=8, validation_split=0.25,
                          checkpoint_dir=ckpt)
except TrainingInterrupted as exc:
    print(exc, file=sys.stderr)
    sys.exit(exc.exit_code)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out + "/weights.safetensors")
with open(out + "/history.json", "w") as fh:
    json.dump(history.history, fh)
"""


def _weights(path):
    return load_file(str(path))


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _signal_when_ready(cmd, signum, ready, timeout=120):
    """Run ``cmd``; once ``ready()`` is true, send ``signum``; return (returncode, stderr)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready(proc):
            assert proc.poll() is None, f"ended before the signal: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "never became ready"
            time.sleep(0.01)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    d = tmp_path_factory.mktemp("signals")
    path = d / "train.py"
    path.write_text(textwrap.dedent(SCRIPT))
    ref = d / "ref"
    ref.mkdir()
    done = subprocess.run(
        [sys.executable, str(path), str(ref), str(d / "ref_ckpt"), "0"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return path, ref


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_trainer_script_checkpoints_exits_and_resumes_exactly(tmp_path, script, signum):
    path, ref = script
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    out.mkdir()
    cmd = [sys.executable, str(path), str(out), str(ckpt), "5"]  # ready after step 5

    def ready(proc):
        return proc.stdout.readline().strip() == "ready"

    code, err = _signal_when_ready(cmd, signum, ready)
    name = signal.Signals(signum).name
    assert code == 128 + signum, err
    assert f"{name} received: finishing this batch and saving a checkpoint" in err
    assert f"interrupted by {name} after batch " in err and "run the same command again" in err
    assert not (out / "weights.safetensors").exists()
    position = load_checkpoint(ckpt)["position"]
    assert position["step"] >= 5 and position["batch"] > 0  # mid-epoch, not an epoch end

    resumed = subprocess.run(
        [sys.executable, str(path), str(out), str(ckpt), "0"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _same(_weights(ref / "weights.safetensors"), _weights(out / "weights.safetensors"))
    assert (ref / "history.json").read_text() == (out / "history.json").read_text()


def test_a_second_signal_stops_at_once_and_the_checkpoint_on_disk_still_loads(tmp_path, script):
    path, _ = script
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    out.mkdir()
    proc = subprocess.Popen(  # ready after step 11: epoch 1 (9 batches) is checkpointed
        [sys.executable, str(path), str(out), str(ckpt), "11"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)  # well inside the 0.5 s the batch still takes
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGTERM, err  # the default action: terminated
    assert load_checkpoint(ckpt)["position"]["step"] == 9  # the end of epoch 1, intact


def _csv(path, n=320):
    words = ["good", "bad", "fine", "dull", "great", "awful", "plot", "film", "fun", "slow"]
    rows = ["text,label"]
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        text = " ".join(words[(i * 7 + j * (3 if label == "pos" else 5)) % 10] for j in range(12))
        rows.append(f"{text},{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _train_cmd(data, out):
    return [
        sys.executable, "-m", "rnnlab", "train", "--config", "text/gru", "--data", str(data),
        "--out", str(out), "--quiet", "--seed", "3",
        "train.epochs=6", "train.batch_size=4", "train.early_stopping_patience=null",
        "model.units=[8]", "model.embedding_dim=8", "data.maxlen=16",
    ]  # fmt: skip


def test_rnnlab_train_on_sigterm_checkpoints_exits_143_and_the_same_command_resumes(tmp_path):
    data = _csv(tmp_path / "reviews.csv")
    ref, out = tmp_path / "ref", tmp_path / "run"
    done = subprocess.run(
        _train_cmd(data, ref), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert not (ref / "checkpoints").exists()  # a finished run keeps no checkpoints

    # After the first epoch's checkpoint (the fit is running), mid-epoch 2 or later.
    first = out / "checkpoints" / "checkpoint.safetensors"
    code, err = _signal_when_ready(_train_cmd(data, out), signal.SIGTERM, lambda p: first.exists())
    assert code == 143, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("rnnlab: interrupted by SIGTERM ") and "run the same command" in line
    assert not (out / "model").exists()

    again = subprocess.run(
        _train_cmd(data, out), env=ENV, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    a, b = (
        _weights(ref / "model" / "model.safetensors"),
        _weights(out / "model" / "model.safetensors"),
    )
    assert _same(a, b)
    assert json.loads((ref / "history.json").read_text()) == json.loads(
        (out / "history.json").read_text()
    )
    assert not (out / "checkpoints").exists()


def test_rnnlab_train_refuses_checkpoints_of_another_run(tmp_path):
    from rnnlab.errors import ConfigError
    from rnnlab.experiments.runner import _claim_checkpoints

    _claim_checkpoints(tmp_path / "checkpoints", {"config": {"a": 1}, "seed": 0, "quick": False})
    _claim_checkpoints(tmp_path / "checkpoints", {"config": {"a": 1}, "seed": 0, "quick": False})
    with pytest.raises(ConfigError, match="holds checkpoints of another run"):
        _claim_checkpoints(
            tmp_path / "checkpoints", {"config": {"a": 1}, "seed": 1, "quick": False}
        )


# In-process checks of the signal handling itself (no subprocess: fast).


class SendAt(Callback):
    """Sends ``signum`` to this process at the end of global step ``step``."""

    def __init__(self, signum, step, hook="on_batch_end"):
        self.signum, self.step = signum, step
        setattr(self, hook, self._send)

    def _send(self, trainer, *args, **kwargs):
        if trainer.step == self.step:
            os.kill(os.getpid(), self.signum)


def _fit(callbacks, checkpoint_dir=None):
    X, Y = blobs(n=32)
    trainer = Trainer(mlp(0), seed=1, verbose=0, callbacks=callbacks)
    return trainer, trainer.fit((X, Y), epochs=2, batch_size=8, checkpoint_dir=checkpoint_dir)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_in_process_a_signal_ends_the_batch_saves_and_restores_the_handlers(tmp_path, signum):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(TrainingInterrupted, match="after batch 2 of epoch 2") as info:
        _fit([SendAt(signum, 6)], checkpoint_dir=tmp_path)
    assert info.value.exit_code == 128 + signum
    assert info.value.checkpoints == [tmp_path / "checkpoint.safetensors"]
    assert load_checkpoint(tmp_path)["position"] == {
        "epoch": 1, "batch": 2, "step": 6, "stop_training": False, "stop_reason": None,
    }  # fmt: skip
    assert {s: signal.getsignal(s) for s in before} == before


def test_without_checkpoints_ctrl_c_interrupts_at_once_as_always():
    with pytest.raises(KeyboardInterrupt) as info:
        _fit([SendAt(signal.SIGINT, 3)])
    assert not isinstance(info.value, TrainingInterrupted)


def test_a_signal_after_the_last_check_is_delivered_when_fit_returns(tmp_path):
    with pytest.raises(KeyboardInterrupt) as info:  # sent in on_fit_end, after the last batch
        _fit([SendAt(signal.SIGINT, 8, hook="on_fit_end")], checkpoint_dir=tmp_path)
    assert not isinstance(info.value, TrainingInterrupted)
    assert load_checkpoint(tmp_path)["position"]["epoch"] == 2  # the run itself completed


def test_a_fit_in_another_thread_leaves_the_handlers_alone(tmp_path):
    import threading

    before = signal.getsignal(signal.SIGTERM)
    results = []
    thread = threading.Thread(target=lambda: results.append(_fit([], checkpoint_dir=tmp_path)))
    thread.start()
    thread.join(60)
    assert results and signal.getsignal(signal.SIGTERM) == before


def test_under_a_launcher_a_repeat_of_the_first_signal_is_its_copy_not_a_second_request():
    # torchrun passes on the SIGTERM a scheduler already sent every worker: the copy must
    # not cut the running batch short. Another signal, or a repeat after the grace, still acts.
    from rnnlab.engine.interrupt import SignalCatcher

    with SignalCatcher(repeat_grace_s=60.0) as caught:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the copy: noted once, nothing raised
        assert caught.received == signal.SIGINT
        caught.handled = True
    with pytest.raises(KeyboardInterrupt), SignalCatcher(repeat_grace_s=0.0) as caught:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # no grace: the second acts at once
        time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
