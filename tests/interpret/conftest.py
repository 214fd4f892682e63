"""Small real models for the explanation tests, trained once per session (a few seconds each)."""

import random

import numpy as np
import pytest

import rnnlab

POS = ["good", "great", "fine", "excellent", "lovely", "superb"]
NEG = ["bad", "awful", "poor", "terrible", "boring", "worst"]
FILLER = ["the", "plot", "film", "was", "and"]
TEXTS = [
    "the plot was great and the film superb",
    "boring film and the worst plot",
    "great plot but awful acting",
    "lovely",
]


@pytest.fixture(scope="session")
def sentiment_dir(tmp_path_factory):
    """A TextClassifier on toy reviews whose evidence words are POS and NEG."""
    rng = random.Random(0)
    texts, labels = [], []
    for _ in range(300):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(POS if label == "pos" else NEG, k=3) + rng.choices(FILLER, k=6)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    # The recurrent recipe these tests were written for (TextClassifier's defaults before the
    # hybrid own-data recipe): integrated gradients need the network's embedding.
    clf = rnnlab.TextClassifier(
        model_kind="recurrent",
        validation_split=None,
        patience=None,
        padding="pre",
        module__cell="lstm",
        module__bidirectional=False,
        module__mask=False,
        module__pooling="last",
        module__output_dropout=0.0,
        module__units=(16,),
        module__embedding_dim=16,
        epochs=15,
        batch_size=32,
        random_state=0,
    )
    path = tmp_path_factory.mktemp("models") / "sentiment"
    clf.fit(texts, labels).save(path)
    return path


@pytest.fixture(scope="session")
def sentiment(sentiment_dir):
    return rnnlab.load(sentiment_dir)


@pytest.fixture(scope="session")
def raw_ids_dir(tmp_path_factory):
    """Ids fed as numbers (the Reuters tutorial's input): class 1 when id 40 occurs."""
    rng = np.random.default_rng(0)
    x, y = [], []
    for _ in range(200):
        row = rng.integers(1, 10, int(rng.integers(3, 8))).tolist()
        label = int(rng.integers(0, 2))
        if label:
            row[int(rng.integers(0, len(row)))] = 40
        x.append(row)
        y.append(label)
    clf = rnnlab.SequenceClassifier(
        module__input="raw",
        module__cell="simple_rnn",
        module__units=(8,),
        epochs=30,
        batch_size=20,
        lr=0.01,
        padding="post",
        random_state=0,
    )
    path = tmp_path_factory.mktemp("models") / "raw"
    clf.fit(x, y).save(path)
    return path


@pytest.fixture(scope="session")
def raw_ids(raw_ids_dir):
    return rnnlab.load(raw_ids_dir)
