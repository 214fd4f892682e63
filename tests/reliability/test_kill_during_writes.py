"""kill -9 at random points while a model is saved or a checkpoint is written: nothing torn, ever.

Each trial forks a writer that saves version after version of the same file
(a saved-model directory, or a checkpoint with the previous one kept), each
version filled with its own number, and SIGKILLs it after a random delay. The
parent then loads what is on disk: it must load, and hold one version whole
(never a mix of two, never half a file), at least as new as the last version
the writer finished. The writer reports each start and finish through a pipe,
so the test also counts how many kills landed inside a write: a kill between
writes tests nothing, and the test refuses to pass on too few real hits.

This is process death at any instruction. A power cut is not simulated; the
fsyncs (file, then directory) are what covers it.
"""

import os
import random
import re
import signal
import time
import warnings

import pytest
import torch

import rnnlab
from rnnlab import atomic
from rnnlab.data.vocab import Vocabulary
from rnnlab.engine.checkpoint import (
    CheckpointFallbackWarning,
    load_checkpoint,
    load_latest_checkpoint,
    previous_path,
    save_checkpoint,
)
from rnnlab.errors import ModelFileError
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.pipeline import Pipeline

TRIALS = 40
LABELS = ["a", "b", "c"]


def _pipeline():
    vocab = Vocabulary.fit(["one two three four five six seven eight nine ten"])
    module = RecurrentClassifier(
        vocab_size=vocab.size, num_classes=3, units=(64,), embedding_dim=64
    )
    return Pipeline(module, LABELS, InputEncoder("text", maxlen=8, vocabulary=vocab))


def _fill(module, version):
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(version)


def save_model(target, pipeline, version):
    _fill(pipeline.module, version)
    pipeline.parts["training"] = {"version": version}
    pipeline.save(target)


def check_model(target):
    model = rnnlab.load(target)
    version = model.parts["training"]["version"]
    assert all(torch.all(p == version) for p in model.module.parameters()), "a mixed model"
    return version


def save_state(target, weights, version):
    weights.fill_(version)
    save_checkpoint({"version": version, "w": weights}, target, keep_previous=True)


def check_state(target):
    state, _ = load_latest_checkpoint(target)
    assert torch.all(state["w"] == state["version"]), "a mixed checkpoint"
    previous = previous_path(target)
    if previous.is_file():  # the one before: whole too, and not newer
        before = load_checkpoint(previous)
        assert torch.all(before["w"] == before["version"]), "a mixed previous checkpoint"
        assert before["version"] <= state["version"]
    return state["version"]


def _writer(write, read_fd, write_fd):
    """The child: write versions 1, 2, ... forever, reporting 's<v>' and 'e<v>' on the pipe."""
    os.close(read_fd)
    version = 0
    try:
        while True:
            version += 1
            os.write(write_fd, f"s{version}\n".encode())
            write(version)
            os.write(write_fd, f"e{version}\n".encode())
    finally:
        os._exit(1)  # never return into pytest


def _trial(write, delay):
    """Fork a writer, kill it ``delay`` s into its writing; (last finished version, killed mid-write)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        _writer(write, read_fd, write_fd)
    os.close(write_fd)
    messages = os.read(read_fd, 64)  # blocks until the child starts its first write
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 65536):  # the child is gone: read to the end of the pipe
        messages += chunk
    os.close(read_fd)
    events = messages.decode().split()
    finished = [int(e[1:]) for e in events if e.startswith("e")]
    return (max(finished) if finished else 0), events[-1].startswith("s")


def _run_trials(reset, write, check, seconds_per_write):
    rng = random.Random(1234)
    hits = 0
    for _ in range(TRIALS):
        reset()  # version 0 on disk: the previous good file
        finished, mid_write = _trial(write, rng.uniform(0, 3 * seconds_per_write))
        hits += mid_write
        with warnings.catch_warnings():
            warnings.simplefilter("error", CheckpointFallbackWarning)  # the latest must load
            version = check()
        # The newest finished version, or the one being written when the kill came (once its
        # rename is done it is on disk, even if the writer had no time to report it).
        assert version in (finished, finished + 1), (version, finished)
    return hits


def _time(write):
    start = time.perf_counter()
    for v in range(3):
        write(v)
    return (time.perf_counter() - start) / 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_kill_9_while_saving_a_model_never_leaves_a_torn_model(tmp_path):
    pipeline = _pipeline()
    target = tmp_path / "model"

    def write(version):
        save_model(target, pipeline, version)

    hits = _run_trials(lambda: write(0), write, lambda: check_model(target), _time(write))
    assert hits >= TRIALS // 2, f"only {hits} of {TRIALS} kills landed inside a save"
    # The next save clears what killed saves left beside the model (staging directories).
    write(1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_kill_9_while_writing_a_checkpoint_never_leaves_a_torn_checkpoint(tmp_path):
    weights = torch.zeros(400_000)  # 1.6 MB: a write takes a few milliseconds
    target = tmp_path / "checkpoint.safetensors"

    def write(version):
        save_state(target, weights, version)

    def reset():
        for leftover in tmp_path.iterdir():
            leftover.unlink()  # a killed write leaves only its temporary file behind
        write(0)

    hits = _run_trials(reset, write, lambda: check_state(target), _time(write))
    assert hits >= TRIALS // 2, f"only {hits} of {TRIALS} kills landed inside a write"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_kill_9_between_the_renames_of_the_fallback_swap_names_the_whole_old_model(
    tmp_path, monkeypatch
):
    """Where directories cannot be exchanged (no renameat2), two renames swap them. A kill
    between the two (forced here: the writer pauses there) leaves no model at the target;
    the loader then names the old one, which is whole, and the next save cleans up."""
    pipeline = _pipeline()
    target = tmp_path / "model"
    save_model(target, pipeline, 7)
    real_replace = os.replace

    def pausing_replace(src, dst):
        real_replace(src, dst)
        if os.fspath(src) == os.fspath(target):  # the first rename: the old model moved aside
            os.write(write_fd, b"between\n")
            time.sleep(30)

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        try:
            monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
            monkeypatch.setattr(atomic.os, "replace", pausing_replace)
            save_model(target, pipeline, 8)
        finally:
            os._exit(1)
    os.close(write_fd)
    assert os.read(read_fd, 64) == b"between\n"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(read_fd)

    with pytest.raises(ModelFileError, match="a save was interrupted while swapping it in") as info:
        rnnlab.load(target)
    aside = re.search(r"the previous model is in '([^']+)'", str(info.value)).group(1)
    assert check_model(aside) == 7  # whole
    save_model(target, pipeline, 9)
    assert check_model(target) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # aside and staging gone
