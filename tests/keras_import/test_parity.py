"""Imported Keras models predict what Keras predicts: the tutorials' models and their variants.

Each model is built in Keras 3 (torch backend), given small random weights (small
enough that the tutorials' raw-id inputs, up to 30000, do not saturate every unit),
saved as `.keras` and as legacy `.h5`, imported, saved as an rnnlab model, loaded
with `rnnlab.load`, and compared with Keras's `predict` on the same inputs: the
probabilities agree within 1e-5 (float32 on both sides; the differences are ~1e-7).
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras must run on its torch backend", allow_module_level=True)

import rnnlab

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

L = keras.layers
TOL = 1e-5
REUTERS_STEPS, IMDB_STEPS = 49, 80


def _reuters(*recurrent):
    return keras.Sequential(
        [keras.Input((REUTERS_STEPS, 1)), *recurrent, L.Dense(46, activation="softmax")]
    )


def _ids_model(*layers, steps=20, vocab=300, mask_zero=False, out=None):
    out = out or L.Dense(3, activation="softmax")
    return keras.Sequential(
        [keras.Input((steps,)), L.Embedding(vocab, 8, mask_zero=mask_zero), *layers, out]
    )


def _functional():
    inp = keras.Input((30,), name="ids")
    x = L.Embedding(300, 8, mask_zero=True, name="vectors")(inp)
    x = L.LSTM(6, return_sequences=True, name="first")(x)
    x = L.Dropout(0.5)(x)
    x = L.GRU(5, name="second")(x)
    x = L.Dense(4, activation="tanh")(x)
    x = L.Dense(3)(x)
    return keras.Model(inp, L.Activation("softmax")(x))


MODELS = {
    # The Reuters tutorial: raw ids as one float feature per step, (49, 1).
    "reuters_stacked_simple_rnn": lambda: _reuters(
        L.SimpleRNN(50, return_sequences=True), L.SimpleRNN(50)
    ),
    "reuters_lstm": lambda: _reuters(L.LSTM(50)),
    "reuters_stacked_lstm": lambda: _reuters(L.LSTM(50, return_sequences=True), L.LSTM(50)),
    # The IMDB tutorial (dropout and recurrent dropout do nothing at inference).
    "imdb_lstm": lambda: keras.Sequential(
        [
            keras.Input((IMDB_STEPS,)),
            L.Embedding(20000, 128),
            L.LSTM(128, dropout=0.2, recurrent_dropout=0.2),
            L.Dense(1, activation="sigmoid"),
        ]
    ),
    "gru_reset_after": lambda: _ids_model(L.GRU(7)),
    "gru_reset_before": lambda: _ids_model(L.GRU(7, reset_after=False)),
    "bidirectional_concat_masked": lambda: _ids_model(
        L.Bidirectional(L.LSTM(6, return_sequences=True)), L.Bidirectional(L.GRU(5)), mask_zero=True
    ),
    "bidirectional_sum": lambda: _ids_model(L.Bidirectional(L.SimpleRNN(6), merge_mode="sum")),
    "bidirectional_ave": lambda: _ids_model(L.Bidirectional(L.GRU(6), merge_mode="ave")),
    "bidirectional_mul": lambda: _ids_model(L.Bidirectional(L.LSTM(6), merge_mode="mul")),
    "mask_zero_stacked": lambda: _ids_model(
        L.LSTM(6, return_sequences=True),
        L.Dense(5, activation="relu"),
        L.SimpleRNN(4),
        L.Dropout(0.3),
        mask_zero=True,
    ),
    "go_backwards_no_bias": lambda: _ids_model(
        L.LSTM(6, go_backwards=True, use_bias=False), out=L.Dense(1, activation="sigmoid")
    ),
    "functional_chain": _functional,
    # unroll only changes how Keras runs the loop, not what it computes.
    "unrolled": lambda: _ids_model(L.SimpleRNN(5, unroll=True, activation="relu")),
}


def _small_weights(model, seed=0):
    """Random weights at a scale that keeps the units off saturation on these inputs."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = layer.get_weights()
        if not arrays:
            continue
        new = []
        for w in arrays:
            scale = 0.4 / np.sqrt(max(w.shape[0], 1)) if w.ndim > 1 else 0.2
            if isinstance(layer, L.Embedding):
                scale = 0.5
            new.append(rng.normal(0, scale, w.shape).astype(w.dtype))
        if model.layers.index(layer) == 0 and not isinstance(layer, L.Embedding):
            new = [w / 3000 if i == 0 else w for i, w in enumerate(new)]  # inputs up to 30000
        layer.set_weights(new)
    return model


def _inputs(model, name, n=24, seed=1):
    """Inputs as the tutorials make them, with their padding: raw rows and the Keras batch."""
    rng = np.random.default_rng(seed)
    steps = model.inputs[0].shape[1]
    reuters = name.startswith("reuters")
    top = (
        30000
        if reuters
        else next(layer.input_dim for layer in model.layers if isinstance(layer, L.Embedding))
    )
    rows = []
    for i in range(n):
        length = int(rng.integers(1, steps + 1)) if i else steps
        row = rng.integers(1, top, length)
        if i % 3 == 1:
            row[rng.random(length) < 0.2] = 0  # zeros inside the text (masked where mask_zero)
        rows.append(row)
    batch = np.zeros((n, steps), dtype="float32" if reuters else "int64")
    for i, row in enumerate(rows):
        if reuters:
            batch[i, : len(row)] = row  # the tutorial pads post
        else:
            batch[i, steps - len(row) :] = row  # pad_sequences: pre
    return [r.tolist() for r in rows], (batch[..., None] if reuters else batch)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> (keras model, {container: file})"""
    root = tmp_path_factory.mktemp("keras_models")
    out = {}
    for name, build in MODELS.items():
        keras.utils.set_random_seed(0)
        model = _small_weights(build())
        files = {"keras": root / f"{name}.keras", "h5": root / f"{name}.h5"}
        model.save(files["keras"])
        model.save(files["h5"])
        out[name] = (model, files)
    return out


@pytest.mark.parametrize("container", ["keras", "h5"])
@pytest.mark.parametrize("name", list(MODELS))
def test_imported_models_give_keras_probabilities(saved, name, container, tmp_path):
    model, files = saved[name]
    rows, batch = _inputs(model, name)
    expected = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    if expected.shape[1] == 1:  # Keras gives p(class 1); rnnlab both columns
        expected = np.column_stack([1 - expected[:, 0], expected[:, 0]])
    rnnlab.from_keras(files[container]).save(tmp_path / "m")
    loaded = rnnlab.load(tmp_path / "m")
    got = loaded.predict_proba(rows)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)
    # Not a vacuous agreement: the inputs give different predictions.
    assert np.ptp(expected, axis=0).max() > 1e-3


def test_the_tutorial_inputs_are_read_as_the_tutorials_pad_them(saved):
    reuters = rnnlab.from_keras(saved["reuters_lstm"][1]["keras"]).inputs
    assert (reuters.kind, reuters.maxlen, reuters.padding) == ("numbers", 49, "post")
    imdb = rnnlab.from_keras(saved["imdb_lstm"][1]["h5"]).inputs
    assert (imdb.kind, imdb.maxlen, imdb.padding, imdb.truncating) == ("ids", 80, "pre", "pre")


def test_a_binary_model_keeps_one_logit_and_default_labels(saved):
    pipeline = rnnlab.from_keras(saved["imdb_lstm"][1]["keras"])
    assert pipeline.labels == ["0", "1"]
    assert pipeline.module.stages[-1].linear.out_features == 1
    assert pipeline.module.embedding.input_dim == 20000


def test_the_final_softmax_is_taken_off_the_module(saved):
    pipeline = rnnlab.from_keras(saved["reuters_lstm"][1]["keras"])
    dense = pipeline.module.stages[-1]
    assert dense.activation.name == "linear" and dense.linear.out_features == 46
    functional = rnnlab.from_keras(saved["functional_chain"][1]["keras"])
    assert [s["kind"] for s in functional.module.specs] == [
        "recurrent",
        "dropout",
        "recurrent",
        "dense",
        "dense",
    ]
    assert functional.parts["training"]["imported_from"]["output_activation"] == "softmax"


def test_raw_text_through_a_keras_word_index(saved, tmp_path):
    """--word-index: the Keras id layout (start 1, oov 2, word of rank r -> r + 3)."""
    model, files = saved["gru_reset_after"]
    words = [f"w{r}" for r in range(1, 500)]
    index = {w: r for r, w in enumerate(words, 1)}
    pipeline = rnnlab.from_keras(files["keras"], word_index=index, labels="a,b,c")
    assert pipeline.inputs.kind == "text" and pipeline.vocabulary.num_words == 300
    text = "w1 w5 W250 unknown w400"  # w400 -> id 403 >= 300: oov, as load_data(num_words=300)
    ids = [1, 4, 8, 253, 2, 2]
    batch = np.zeros((1, 20), dtype="int64")
    batch[0, -len(ids) :] = ids
    expected = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    pipeline.save(tmp_path / "m")
    loaded = rnnlab.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba([text]), expected, atol=TOL, rtol=0)
    assert loaded.labels == ["a", "b", "c"]


def test_the_reuters_model_reads_text_as_the_tutorial_feeds_ids(saved):
    model, files = saved["reuters_lstm"]
    index = {f"w{r}": r for r in range(1, 40000)}
    pipeline = rnnlab.from_keras(files["h5"], word_index=index, num_words=30000)
    ids = [1, 13, 2, 103]  # w10 -> 13; w40000 is not a word: oov; w100 -> 103
    batch = np.zeros((1, 49, 1), dtype="float32")
    batch[0, : len(ids), 0] = ids
    expected = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    got = pipeline.predict_proba(["w10 w40000 w100"])
    np.testing.assert_allclose(got, expected, atol=TOL, rtol=0)
