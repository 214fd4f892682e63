"""What `from_keras` refuses, and how: each message names the layer or setting and the way out."""

import os

import h5py
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras must run on its torch backend", allow_module_level=True)

import rnnlab
from rnnlab.errors import ConfigError, DataFileError, InvalidValueError, ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

L = keras.layers
SUPPORTED = (
    "rnnlab imports InputLayer, Embedding, SimpleRNN, LSTM, GRU, Bidirectional, Dense, "
    "Dropout, Activation layers"
)


def _save(model, path):
    model.save(path)
    return path


def _branches():
    inp = keras.Input((10,))
    x = L.Embedding(50, 4)(inp)
    a, b = L.LSTM(3, name="left")(x), L.GRU(3, name="right")(x)
    return keras.Model(inp, L.Dense(2, activation="softmax")(L.Concatenate(name="join")([a, b])))


REFUSED = {
    "conv1d": (
        lambda: keras.Sequential(
            [
                keras.Input((10,)),
                L.Embedding(50, 4),
                L.Conv1D(3, 2, name="conv"),
                L.LSTM(3),
                L.Dense(1),
            ]
        ),
        "layer 'conv' (Conv1D): unsupported layer; " + SUPPORTED,
    ),
    "stateful": (
        lambda: keras.Sequential(
            [
                keras.Input(batch_shape=(4, 10)),
                L.Embedding(50, 4),
                L.LSTM(3, stateful=True, name="s"),
                L.Dense(1),
            ]
        ),
        (
            "layer 's' (LSTM): stateful=True is not supported (its state carries over "
            "between batches)"
        ),
    ),
    "softplus": (
        lambda: keras.Sequential(
            [
                keras.Input((10,)),
                L.Embedding(50, 4),
                L.LSTM(3),
                L.Dense(4, activation="softplus", name="mid"),
                L.Dense(1),
            ]
        ),
        (
            "layer 'mid' (Dense): activation 'softplus' is not supported; supported: "
            "linear, softmax, sigmoid, relu, tanh"
        ),
    ),
    "branches": (
        _branches,
        "layer 'join' (Concatenate) takes 2 inputs; "
        + SUPPORTED
        + " in a Sequential model or a linear functional chain, not branches",
    ),
    "multi_label": (
        lambda: keras.Sequential(
            [
                keras.Input((10,)),
                L.Embedding(50, 4),
                L.LSTM(3),
                L.Dense(5, activation="sigmoid", name="tags"),
            ]
        ),
        (
            "the output layer 'tags' is Dense(5, sigmoid): 5 independent yes/no "
            "outputs (multi-label)"
        ),
    ),
    "sequence_output": (
        lambda: keras.Sequential(
            [
                keras.Input((10,)),
                L.Embedding(50, 4),
                L.LSTM(3, return_sequences=True),
                L.Dense(2, activation="softmax"),
            ]
        ),
        "the model outputs a sequence (per-sample shape (10, 2))",
    ),
    "no_classifier_head": (
        lambda: keras.Sequential([keras.Input((10,)), L.Embedding(50, 4), L.LSTM(3, name="last")]),
        "the model ends in a recurrent layer ('last')",
    ),
    "relu_output": (
        lambda: keras.Sequential(
            [
                keras.Input((10,)),
                L.Embedding(50, 4),
                L.LSTM(3),
                L.Dense(2, activation="relu", name="out"),
            ]
        ),
        ("the output layer 'out' ends in 'relu', which makes neither probabilities nor logits"),
    ),
}


@pytest.mark.parametrize("container", ["keras", "h5"])
@pytest.mark.parametrize("case", list(REFUSED))
def test_unsupported_models_are_refused_by_name(case, container, tmp_path):
    build, message = REFUSED[case]
    path = _save(build(), tmp_path / f"m.{container}")
    with pytest.raises(ModelFileError) as caught:
        rnnlab.from_keras(path)
    assert message in str(caught.value)


def test_a_keras_2_hard_sigmoid_is_refused_and_a_keras_3_one_imported(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            L.Embedding(20, 3),
            L.LSTM(4, recurrent_activation="hard_sigmoid", name="hs"),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    path = _save(model, tmp_path / "m.h5")
    x = np.array([[0, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6]])
    got = rnnlab.from_keras(path).predict_proba(x.tolist())[:, 1]
    np.testing.assert_allclose(got, model.predict(x, verbose=0)[:, 0], atol=1e-5)
    with h5py.File(path, "a") as fh:
        fh.attrs["keras_version"] = "2.15.0"
    with pytest.raises(
        ModelFileError,
        match=r"layer 'hs' \(LSTM\): recurrent_activation="
        r"'hard_sigmoid' of Keras 2 \(0.2 x \+ 0.5\)",
    ):
        rnnlab.from_keras(path)


def test_files_that_are_not_whole_keras_models(tmp_path):
    model = keras.Sequential([keras.Input((6,)), L.Embedding(20, 3), L.GRU(2), L.Dense(1)])
    model.save_weights(tmp_path / "only.weights.h5")
    with pytest.raises(ModelFileError, match="holds weights only, no model config"):
        rnnlab.from_keras(tmp_path / "only.weights.h5")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFileError, match="neither a Keras 3 .keras file"):
        rnnlab.from_keras(tmp_path / "notes.txt")
    with pytest.raises(DataFileError, match="does not exist"):
        rnnlab.from_keras(tmp_path / "missing.keras")


def test_labels_must_match_the_classes(tmp_path):
    path = _save(
        keras.Sequential(
            [keras.Input((6,)), L.Embedding(20, 3), L.GRU(2), L.Dense(3, activation="softmax")]
        ),
        tmp_path / "m.keras",
    )
    with pytest.raises(InvalidValueError, match="`labels` names 2 classes, the model has 3"):
        rnnlab.from_keras(path, labels="a,b")
    (tmp_path / "labels.json").write_text('["x", "y", "z"]')
    assert rnnlab.from_keras(path, labels=tmp_path / "labels.json").labels == ["x", "y", "z"]


def test_a_free_input_length_needs_maxlen_and_a_fixed_one_keeps_its_own(tmp_path):
    free = _save(
        keras.Sequential(
            [keras.Input((None,)), L.Embedding(20, 3), L.GRU(2), L.Dense(1, activation="sigmoid")]
        ),
        tmp_path / "free.keras",
    )
    with pytest.raises(
        ConfigError,
        match="pass the padded length .* as `maxlen` "
        r"\(--maxlen on the command line\)",
    ):
        rnnlab.from_keras(free)
    assert rnnlab.from_keras(free, maxlen=33).inputs.maxlen == 33
    fixed = _save(
        keras.Sequential(
            [keras.Input((6,)), L.Embedding(20, 3), L.GRU(2), L.Dense(1, activation="sigmoid")]
        ),
        tmp_path / "fixed.keras",
    )
    with pytest.raises(ConfigError, match="`maxlen`=9 differs from the model's input length 6"):
        rnnlab.from_keras(fixed, maxlen=9)
    with pytest.raises(InvalidValueError, match="pass num_words <= 20"):
        rnnlab.from_keras(fixed, word_index={f"w{i}": i for i in range(1, 40)}, num_words=30)
