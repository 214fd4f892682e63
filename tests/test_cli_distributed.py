"""`rnnlab train --nproc 2`: two gloo workers through torch's launcher write one run, once."""

import csv
import json
import os
import random
import subprocess
import sys

POS = "good great fine excellent lovely superb".split()
NEG = "bad awful poor terrible boring worst".split()


def _toy_csv(path):
    rng = random.Random(0)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for _ in range(240):
            label = rng.choice(["pos", "neg"])
            words = rng.choices(POS if label == "pos" else NEG, k=3) + rng.choices(
                ["the", "plot", "actor"], k=5
            )
            rng.shuffle(words)
            w.writerow([" ".join(words), label])
    return path


def test_a_quick_two_worker_run_writes_one_model_one_history_one_report(tmp_path):
    data = _toy_csv(tmp_path / "toy.csv")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "rnnlab", "train", "--config", "text/gru", "--data", str(data)]
        + ["--quick", "--nproc", "2", "--out", str(out), "--quiet", "--seed", "0"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test accuracy") == 1  # rank 0 reports; rank 1 stays quiet
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml",
        "history.json",
        "metrics.json",
        "model",
    ]  # the checkpoints are gone once the model is saved
    assert (out / "model" / "manifest.json").is_file()
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 1 and len(history["val_loss"]) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert sorted(tmp_path.iterdir()) == sorted([data, out])  # no stray runs/ from a worker


def test_a_two_worker_hybrid_run_trains_the_recurrent_part_in_ddp_and_saves_the_hybrid(tmp_path):
    # No --config: the own-data default recipe, a hybrid. The workers train its recurrent
    # part together; rank 0 then fits the n-gram part and the blend, and saves once.
    import rnnlab

    data = _toy_csv(tmp_path / "toy.csv")
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "rnnlab", "train", "--data", str(data), "--quick"]
        + ["--nproc", "2", "--out", str(out), "--quiet", "--seed", "0"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test accuracy") == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["hybrid"]["blend_share"] <= 1.0
    manifest = json.loads((out / "model" / "model.json").read_text())
    assert manifest["architecture"] == "HybridClassifier"
    model = rnnlab.load(out / "model")
    proba = model.predict_proba(["good great superb plot", "awful boring worst actor"])
    assert proba.shape == (2, 2)
    assert list(model.predict(["good great superb plot", "awful boring worst actor"])) == [
        "pos",
        "neg",
    ]


def test_a_failing_worker_ends_the_launch_with_its_own_exit_code(tmp_path, monkeypatch):
    import pytest

    from rnnlab.engine.launch import launch_workers
    from rnnlab.errors import WorkersFailedError

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkersFailedError, match="1 of the 1 workers failed") as info:
        launch_workers(["train", "--config", str(tmp_path / "missing.yaml")], nproc=1)
    assert info.value.exit_code == 2  # the worker's usage error, not a generic failure
