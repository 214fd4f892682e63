"""Explaining imported Keras models: integrated gradients through a masked Embedding, occlusion
for the Reuters tutorial's raw-id input."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras must run on its torch backend", allow_module_level=True)

import rnnlab
from rnnlab.interpret import explain

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

L = keras.layers
INDEX = {f"w{r}": r for r in range(1, 200)}


def _imported(model, tmp_path, **kwargs):
    keras.utils.set_random_seed(0)
    model.set_weights([w * 3 for w in model.get_weights()])
    model.save(tmp_path / "m.keras")
    rnnlab.from_keras(tmp_path / "m.keras", word_index=INDEX, **kwargs).save(tmp_path / "out")
    return rnnlab.load(tmp_path / "out")


def test_integrated_gradients_through_an_imported_masked_embedding(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((12,)),
            L.Embedding(100, 8, mask_zero=True),
            L.Bidirectional(L.GRU(6)),
            L.Dense(3, activation="softmax"),
        ]
    )
    pipeline = _imported(model, tmp_path)
    assert isinstance(pipeline.module.embedding, rnnlab.nn.Embedding)
    text = "w1 w7 w20 w50 w150"  # w150 -> id 153 >= 100: oov
    result = explain(pipeline, text)
    assert result["method"] == "integrated_gradients"
    assert [t["id"] for t in result["tokens"]] == [4, 10, 23, 53, 2]
    assert [t["position"] for t in result["tokens"]] == [7, 8, 9, 10, 11]  # start token at 6
    c = result["completeness"]
    assert abs(c["difference"]) > 0.05
    assert abs(c["error"]) <= 1e-4 * max(1.0, abs(c["difference"]))
    probabilities = pipeline.predict_proba([text])[0]
    assert result["label"] == pipeline.labels[int(probabilities.argmax())]
    np.testing.assert_allclose(list(result["probabilities"].values()), probabilities, atol=1e-6)


def test_occlusion_for_the_imported_reuters_tutorial_model(tmp_path):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((49, 1)), L.LSTM(8), L.Dense(46, activation="softmax")])
    model.set_weights([w / 10 if i == 0 else w * 3 for i, w in enumerate(model.get_weights())])
    pipeline = _imported(model, tmp_path, num_words=150)
    words = ["w3", "w90", "w10", "w160"]  # w160 -> id 163 >= num_words: oov
    result = explain(pipeline, " ".join(words))
    assert result["method"] == "occlusion"
    assert [t["id"] for t in result["tokens"]] == [6, 93, 13, 2]
    assert [t["position"] for t in result["tokens"]] == [1, 2, 3, 4]  # post padding, start at 0
    k = pipeline.labels.index(result["target"])

    def log_probabilities(ids):
        x = np.zeros((1, 49, 1), dtype="float32")
        x[0, : len(ids), 0] = ids
        return np.log(model.predict(x, verbose=0)[0].astype(np.float64))

    ids = [1, 6, 93, 13, 2]
    for j, token in enumerate(result["tokens"], 1):
        # Keras gives probabilities: log p = logit - log Z, so the logit difference occlusion
        # reports is Keras's log-probability difference plus the change in log Z.
        keras_x, keras_without = log_probabilities(ids), log_probabilities(ids[:j] + ids[j + 1 :])
        z = pipeline.predict_logits(
            pipeline.encode([" ".join(words), " ".join(words[: j - 1] + words[j:])])
        )
        log_z = [float(np.log(np.exp(row.astype(np.float64)).sum())) for row in z]
        expected = keras_x[k] - keras_without[k] + log_z[0] - log_z[1]
        assert token["attribution"] == pytest.approx(expected, abs=1e-4)
        assert token["attribution"] == pytest.approx(float(z[0, k] - z[1, k]), abs=1e-6)
    assert max(abs(t["attribution"]) for t in result["tokens"]) > 2e-3  # 20x the tolerance
