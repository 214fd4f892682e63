"""`data.stream: true`: `rnnlab train` from a token store beside the run, reused by reruns."""

import csv
import json
import random

import pytest

from rnnlab import load
from rnnlab.errors import ConfigError
from rnnlab.experiments import train_one

POS = "good great fine excellent lovely superb".split()
NEG = "bad awful poor terrible boring worst".split()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("data") / "toy.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for _ in range(600):
            label = rng.choice(["pos", "neg"])
            words = rng.choices(POS if label == "pos" else NEG, k=2) + rng.choices(
                "the plot actor film".split(), k=rng.randint(2, 30)
            )
            rng.shuffle(words)
            w.writerow([" ".join(words), label])
    return path


def test_a_streamed_run_trains_from_the_store_and_a_rerun_reuses_it(toy, tmp_path):
    args = [f"data.path={toy}", "data.stream=true", "train.epochs=3", "data.maxlen=40"]
    args += ["train.lr=0.01"]
    first = train_one("text/gru", args, out_dir=tmp_path / "a", verbose=0)
    assert first["split"]["streamed_from"] == str(tmp_path / "token_store" / "full")
    assert first["split"]["train"] + first["split"]["test"] == 600
    assert first["test"]["accuracy"] > 0.9  # two words decide the label
    assert len(first["history"]["val_loss"]) == 3
    meta = tmp_path / "token_store" / "full" / "meta.json"
    built = meta.stat().st_mtime_ns
    second = train_one("text/gru", args, out_dir=tmp_path / "b", verbose=0)
    assert meta.stat().st_mtime_ns == built  # the store was reused, not rebuilt
    assert second["test"] == first["test"]  # same store, same seed: the same run
    pipeline = load(tmp_path / "b" / "model")
    assert list(pipeline.predict(["good great the plot", "awful worst the film"])) == [
        "pos",
        "neg",
    ]
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["test"] == second["test"]


def test_streaming_needs_a_maxlen_and_a_text_source(toy, tmp_path):
    with pytest.raises(ConfigError, match="needs `data.maxlen`"):
        train_one(
            "text/gru",
            [f"data.path={toy}", "data.stream=true", "data.maxlen=null"],
            out_dir=tmp_path / "x",
            verbose=0,
        )
    with pytest.raises(ConfigError, match="reads csv or folder sources"):
        train_one("imdb/lstm", ["data.stream=true"], out_dir=tmp_path / "y", verbose=0)
