"""A full disk and a read-only output directory: one clear project error, the target untouched.

Real faults where this machine allows them: a small tmpfs is mounted (root only;
skipped, and reported as skipped, where mounting is not allowed), filled, then
remounted read-only. The same cases also run everywhere with the failing write
injected (``os.write`` / the file's ``write`` raising ENOSPC or EROFS), so the
handling is tested without privileges too.

For a saved model and a checkpoint: `ModelFileError` naming the target and the
OS reason, the previous model / checkpoint loads exactly as before, and no
temporary file or directory is left. `rnnlab train` on a full disk: exit 2 and
one line.
"""

import errno
import os
import shutil
import subprocess
import uuid

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab import atomic, saving
from rnnlab.cli import main
from rnnlab.data.vocab import Vocabulary
from rnnlab.engine import Checkpoint, load_checkpoint, save_checkpoint
from rnnlab.engine import checkpoint as checkpoint_module
from rnnlab.errors import ModelFileError
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.pipeline import Pipeline
from tests.engine.engine_helpers import Trainer, blobs, mlp

PROBES = ["one two", "three"]


def _model(units=4, seed=0):
    torch.manual_seed(seed)
    vocab = Vocabulary.fit(["one two three four"])
    module = RecurrentClassifier(
        vocab_size=vocab.size, num_classes=2, units=(units,), embedding_dim=4
    )
    return Pipeline(module.eval(), ["a", "b"], InputEncoder("text", maxlen=5, vocabulary=vocab))


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs of that size; remount_ro(path). Skips where not allowed."""
    mounted = []

    def mount(size):
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root and mount(8): the injected cases cover this")
        path = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(path)
        return path

    def remount_ro(path):
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)

    yield mount, remount_ro
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


# ----------------------------------------------------------------- real faults (tmpfs)


def test_a_full_disk_refuses_the_new_model_and_keeps_the_old_one(tmpfs):
    mount, _ = tmpfs
    disk = mount("96k")
    old = _model()
    old.save(disk / "model")
    expected = rnnlab.load(disk / "model").predict_proba(PROBES)
    with pytest.raises(ModelFileError, match=r"cannot save the model to .*No space left on device"):
        _model(units=64).save(disk / "model")  # ~250 KB of weights: does not fit
    assert np.array_equal(rnnlab.load(disk / "model").predict_proba(PROBES), expected)
    assert _leftovers(disk, {"model"}) == []


def test_a_full_disk_refuses_the_new_checkpoint_and_keeps_the_old_one(tmpfs):
    mount, _ = tmpfs
    disk = mount("64k")
    save_checkpoint({"w": torch.ones(1000)}, disk, keep_previous=True)
    with pytest.raises(ModelFileError, match=r"cannot write the checkpoint .*No space left"):
        save_checkpoint({"w": torch.zeros(40_000)}, disk, keep_previous=True)  # 160 KB
    assert torch.equal(load_checkpoint(disk)["w"], torch.ones(1000))
    assert _leftovers(disk, {"checkpoint.safetensors", "checkpoint.previous.safetensors"}) == []


def test_a_full_disk_stops_a_fit_with_one_error_and_the_last_checkpoint_resumes(tmpfs):
    mount, _ = tmpfs
    disk = mount("48k")  # room for one checkpoint of this model (~4 KB), not for a ballast file
    x, y = blobs(n=32)
    first = Trainer(mlp(0), seed=1, verbose=0)
    first.fit((x, y), epochs=1, batch_size=8, checkpoint_dir=disk)
    with open(disk / "ballast", "wb", buffering=0) as fh:  # fill the rest of the disk
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    trainer = Trainer(mlp(0), seed=1, verbose=0)
    with pytest.raises(ModelFileError, match="No space left on device"):
        trainer.fit((x, y), epochs=3, batch_size=8, checkpoint_dir=disk)
    assert load_checkpoint(disk)["position"]["epoch"] == 1  # the epoch-1 checkpoint, intact


def test_a_read_only_directory_refuses_model_and_checkpoint_and_touches_nothing(tmpfs):
    mount, remount_ro = tmpfs
    disk = mount("1m")
    _model().save(disk / "model")
    save_checkpoint({"w": torch.ones(3)}, disk / "run")
    before = {p: p.read_bytes() for p in disk.rglob("*") if p.is_file()}
    remount_ro(disk)
    with pytest.raises(ModelFileError, match="Read-only file system"):
        _model(seed=1).save(disk / "model")
    with pytest.raises(ModelFileError, match="Read-only file system"):
        save_checkpoint({"w": torch.zeros(3)}, disk / "run")
    with pytest.raises(ModelFileError, match="Read-only file system"):
        _model().save(disk / "new")
    assert {p: p.read_bytes() for p in disk.rglob("*") if p.is_file()} == before


def test_rnnlab_train_on_a_full_disk_is_one_line_and_exit_2(tmpfs, tmp_path, capsys):
    mount, _ = tmpfs
    disk = mount("24k")
    rows = ["text,label"] + [
        f"{'good fun' if i % 2 else 'bad dull'} {i},{i % 2}" for i in range(40)
    ]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    code = main(
        ["train", "--config", "text/gru", "--data", str(tmp_path / "data.csv"), "--quiet",
         "--out", str(disk / "run"), "train.epochs=1", "train.early_stopping_patience=null"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rnnlab: error: ") and "No space left" in err


# ------------------------------------------------------ injected faults (run everywhere)


def _failing_write(errno_code):
    def write(*args, **kwargs):
        raise OSError(errno_code, os.strerror(errno_code))

    return write


class FailingFile:
    """A file object whose writes fail; everything else is the real file's."""

    def __init__(self, real, errno_code):
        self._real, self._errno = real, errno_code

    def write(self, data):
        self._real.write(data[: len(data) // 2])  # half of it reaches the disk first
        raise OSError(self._errno, os.strerror(self._errno))

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._real.__exit__(*exc)


def _open_failing(errno_code):
    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        fh = real_open(path, mode, *args, **kwargs)
        return FailingFile(fh, errno_code) if any(c in mode for c in "wax") else fh

    return fake_open


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_injected_write_failures_keep_the_old_model(tmp_path, monkeypatch, code):
    _model().save(tmp_path / "model")
    expected = rnnlab.load(tmp_path / "model").predict_proba(PROBES)
    monkeypatch.setattr(saving, "open", _open_failing(code), raising=False)
    with pytest.raises(ModelFileError, match=os.strerror(code)) as info:
        _model(seed=1).save(tmp_path / "model")
    assert "the model saved there before is untouched" in str(info.value)
    monkeypatch.undo()
    assert np.array_equal(rnnlab.load(tmp_path / "model").predict_proba(PROBES), expected)
    assert _leftovers(tmp_path, {"model"}) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EIO])
def test_injected_write_failures_keep_the_old_checkpoint(tmp_path, monkeypatch, code):
    save_checkpoint({"w": torch.ones(3)}, tmp_path, keep_previous=True)
    monkeypatch.setattr(checkpoint_module, "open", _open_failing(code), raising=False)
    with pytest.raises(ModelFileError, match=os.strerror(code)) as info:
        save_checkpoint({"w": torch.zeros(3)}, tmp_path, keep_previous=True)
    assert "checkpoint.safetensors" in str(info.value) and ".tmp" not in str(info.value)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(tmp_path)["w"], torch.ones(3))
    assert _leftovers(tmp_path, {"checkpoint.safetensors", "checkpoint.previous.safetensors"}) == []


def test_an_injected_read_only_directory_refuses_before_writing(tmp_path, monkeypatch):
    _model().save(tmp_path / "model")
    save_checkpoint({"w": torch.ones(3)}, tmp_path / "run")

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))

    monkeypatch.setattr(saving.tempfile, "mkdtemp", refuse)  # the staging directory
    monkeypatch.setattr(atomic.os, "open", refuse)  # the temporary file beside a checkpoint
    with pytest.raises(ModelFileError, match="Read-only file system"):
        _model(seed=1).save(tmp_path / "model")
    with pytest.raises(ModelFileError, match="Read-only file system"):
        Trainer(mlp(0), verbose=0, callbacks=[Checkpoint(tmp_path / "run")]).fit(
            blobs(n=16), epochs=1, batch_size=8
        )
