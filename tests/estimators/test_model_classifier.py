"""ModelClassifier: the KerasClassifier pattern, and the Reuters tutorial ported line for line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from rnnlab import ModelClassifier, SequenceClassifier, pad_sequences, to_categorical
from rnnlab import nn as rnn
from rnnlab.datasets import reuters
from rnnlab.errors import ConfigError


def small_rnn(num_classes, input_shape, units=4, cell="lstm"):
    layer = {"lstm": rnn.LSTM, "gru": rnn.GRU}[cell]
    return nn.Sequential(layer(units, input_size=input_shape[-1]), nn.Linear(units, num_classes))


def embed_rnn(num_classes, vocab=20):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = rnn.Embedding(vocab, 4)
            self.rnn = rnn.LSTM(4, input_size=4)
            self.out = nn.Linear(4, num_classes)

        def forward(self, ids):
            return self.out(self.rnn(self.emb(ids)))

    return Net()


def data(n=30, t=5, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, t, 1)), np.arange(n) % classes


FAST = {"epochs": 1, "batch_size": 8, "random_state": 0}


def test_build_fn_gets_routed_and_automatic_arguments():
    X, y = data()
    clf = ModelClassifier(small_rnn, module__units=6, build_fn__cell="gru", **FAST).fit(X, y)
    assert clf.build_kwargs_ == {"units": 6, "cell": "gru", "num_classes": 3, "input_shape": (5, 1)}
    assert isinstance(clf.module_[0], rnn.GRU)
    assert clf.predict_proba(X).shape == (30, 3) and clf.n_features_in_ == 5
    with pytest.raises(ConfigError, match="`module__units` and `build_fn__units`"):
        ModelClassifier(small_rnn, module__units=6, build_fn__units=5, **FAST).fit(X, y)
    with pytest.raises(ConfigError, match="did you mean `module__units`"):
        ModelClassifier(small_rnn, module__unit=6, **FAST).fit(X, y)


def test_binary_with_one_or_two_logits():
    X, y = data(classes=2)
    one = ModelClassifier(small_rnn, module__num_classes=1, **FAST).fit(X, y)
    two = ModelClassifier(small_rnn, **FAST).fit(X, y)
    assert one.n_logits_ == 1 and two.n_logits_ == 2
    for clf in (one, two):
        assert clf.predict_proba(X).shape == (30, 2)
        np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0)
    assert one.decision_function(X).shape == (30,) and two.decision_function(X).shape == (30, 2)


def test_losses():
    X, y = data()
    a = ModelClassifier(small_rnn, **FAST).fit(X, y)
    b = ModelClassifier(small_rnn, loss="categorical_crossentropy", **FAST).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-4)

    def focal(logits, target):
        return torch.nn.functional.cross_entropy(logits, target, reduction="none") ** 2

    c = ModelClassifier(small_rnn, loss=focal, **FAST).fit(X, y)
    assert "accuracy" not in c.history_ and len(c.history_["loss"]) == 1
    with pytest.raises(ConfigError, match="needs one logit per sample"):
        ModelClassifier(small_rnn, loss="binary_crossentropy", **FAST).fit(X, y)
    with pytest.raises(ConfigError, match="`loss` must be"):
        ModelClassifier(small_rnn, loss="mse", **FAST).fit(X, y)


def test_dtype_int64_for_embedding_modules():
    rng = np.random.RandomState(0)
    X, y = rng.randint(0, 20, size=(30, 6)), np.arange(30) % 2
    clf = ModelClassifier(embed_rnn, dtype="int64", **FAST).fit(X, y)
    assert clf.predict(X).shape == (30,)
    with pytest.raises((RuntimeError, TypeError, IndexError)):  # float ids into an Embedding
        ModelClassifier(embed_rnn, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="`dtype` must be one of"):
        ModelClassifier(embed_rnn, dtype="int8", **FAST).fit(X, y)


def test_shape_checks_at_predict():
    X, y = data()
    clf = ModelClassifier(small_rnn, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but ModelClassifier is expecting 5"):
        clf.predict(X[:, :4])
    with pytest.raises(ValueError, match=r"samples of shape \(5, 2\).*\(5, 1\)"):
        clf.predict(np.concatenate([X, X], axis=2))


@pytest.mark.parametrize(
    "build_fn, error, match",
    [
        (None, TypeError, "`build_fn` must be a callable"),
        (lambda: "not a module", TypeError, "must return a torch.nn.Module"),
        (
            lambda: nn.Sequential(nn.Flatten(), nn.Linear(5, 7)),
            ValueError,
            "returns 7 outputs per sample but there are 3 classes",
        ),
    ],
    ids=["none", "not-a-module", "wrong-width"],
)
def test_bad_build_fn(build_fn, error, match):
    X, y = data()
    with pytest.raises(error, match=match):
        ModelClassifier(build_fn, **FAST).fit(X, y)


def test_nan_and_empty_inputs():
    X, y = data()
    X[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ModelClassifier(small_rnn, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="0 sample"):
        ModelClassifier(small_rnn, **FAST).fit(np.zeros((0, 5, 1)), [])


# ------------------------------------------------------------- the seed tutorial


@pytest.fixture(scope="module")
def seed_reuters():
    """The tutorial's data cell, verbatim but for the imports."""
    num_words, maxlen, test_split = 30000, 50, 0.3
    (X_train, y_train), (X_test, y_test) = reuters.load_data(
        num_words=num_words, maxlen=maxlen, test_split=test_split
    )
    X_train = pad_sequences(X_train, padding="post")
    X_test = pad_sequences(X_test, padding="post")
    X_train = np.array(X_train).reshape((X_train.shape[0], X_train.shape[1], 1))
    X_test = np.array(X_test).reshape((X_test.shape[0], X_test.shape[1], 1))
    y_data = np.concatenate((y_train, y_test))
    y_data = to_categorical(y_data)
    return X_train, y_data[:1395], X_test, y_data[1395:], y_train


def stacked_lstm():
    # Keras: LSTM(50, input_shape=(49, 1), return_sequences=True) -> LSTM(50) -> Dense(46)
    # -> Activation('softmax'). The softmax lives in the loss, so the module returns logits;
    # Adam(lr=0.001) and the loss are the estimator's (optimizer__lr=0.001, loss=...).
    return nn.Sequential(
        rnn.LSTM(50, input_size=1, return_sequences=True),
        rnn.LSTM(50, input_size=50),
        nn.Linear(50, 46),
    )


def test_seed_reuters_stacked_lstm_port(seed_reuters):
    X_train, y_train, X_test, y_test, _ = seed_reuters
    assert X_train.shape == (1395, 49, 1) and X_test.shape == (599, 49, 1)
    assert y_train.shape == (1395, 46) and y_test.shape == (599, 46)

    model = ModelClassifier(
        build_fn=stacked_lstm,
        epochs=2,
        batch_size=50,
        verbose=1,
        optimizer__lr=0.001,
        loss="categorical_crossentropy",
        random_state=0,
    )
    model.fit(X_train, y_train)
    y_pred = model.predict(X_test)
    y_test_ = np.argmax(y_test, axis=1)
    accuracy = accuracy_score(y_pred, y_test_)

    np.testing.assert_array_equal(model.classes_, np.arange(46))  # as KerasClassifier: columns
    assert model.predict_proba(X_test).shape == (599, 46)
    assert len(model.history_["loss"]) == 2
    assert model.history_["loss"][1] < model.history_["loss"][0]
    # Two epochs on raw ids as numbers reach the majority baseline ("earn", 448 of 599),
    # where the tutorial's own SimpleRNN ends after 200 epochs (0.746).
    assert accuracy >= 448 / 599 - 1e-9
    assert model.score(X_test, y_test) == accuracy


def test_seed_split_with_explicit_classes(seed_reuters):
    X_train, _, X_test, _, y_train_int = seed_reuters
    assert len(np.unique(y_train_int)) < 46  # a split misses topics ...
    clf = SequenceClassifier(
        classes=range(46), epochs=1, batch_size=50, module__units=(8,), random_state=0
    )
    clf.fit(X_train[:300], y_train_int[:300])  # ... and a subset misses more
    assert clf.module_config_["num_classes"] == 46 and clf.input_ == "raw"
    assert clf.predict_proba(X_test).shape == (599, 46)
    assert len(np.unique(y_train_int[:300])) < 46
