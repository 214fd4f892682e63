"""save / load: safetensors + JSON through rnnlab.saving; a loaded estimator predicts bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from torch import nn

import rnnlab
import rnnlab.estimators
from rnnlab import ModelClassifier, SequenceClassifier, TextClassifier
from rnnlab import nn as rnn
from rnnlab.errors import ModelFileError

SMALL = {
    "epochs": 1,
    "batch_size": 8,
    "module__units": (4,),
    "module__embedding_dim": 4,
    "random_state": 0,
}
IDS = [[1, 2, 3], [4, 5], [1, 2], [4, 5, 6, 7], [3, 3, 1], [6, 7]]
TEXTS = ["good fun film", "bad dull film", "great fun", "dull and bad", "fun fun", "bad"]


def small_rnn(num_classes, input_shape, units=4):
    return nn.Sequential(rnn.LSTM(units, input_size=input_shape[-1]), nn.Linear(units, num_classes))


def fitted(kind):
    if kind == "ids":
        return SequenceClassifier(classes=range(4), **SMALL).fit(IDS, [0, 1, 0, 1, 2, 1]), IDS
    if kind == "raw":
        X = np.random.RandomState(0).normal(size=(6, 5))
        return SequenceClassifier(padding="post", **SMALL).fit(X, ["a", "b"] * 3), X
    if kind == "text":
        return TextClassifier(maxlen=4, **SMALL).fit(TEXTS, ["pos", "neg"] * 3), TEXTS
    X = np.random.RandomState(0).normal(size=(6, 5, 1))
    return ModelClassifier(small_rnn, module__units=3, random_state=0, epochs=1).fit(
        X, np.eye(3)[[0, 1, 2, 0, 1, 2]]
    ), X


@pytest.mark.parametrize("kind", ["ids", "raw", "text", "model"])
def test_round_trip_predicts_bit_for_bit(kind, tmp_path):
    est, X = fitted(kind)
    est.save(tmp_path / "m")
    extra = {"build_fn": small_rnn} if kind == "model" else {}
    loaded = rnnlab.estimators.load(tmp_path / "m", **extra)
    assert type(loaded) is type(est)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.classes_.dtype == est.classes_.dtype
    assert loaded.get_params() == est.get_params()  # tuples, ranges and routed params intact
    assert loaded.history_ == est.history_
    # The same class's own load works too, and a loaded estimator can be cloned and refit.
    again = type(est).load(tmp_path / "m", **extra)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert clone(loaded).get_params() == est.get_params()


def test_files_are_safetensors_and_json(tmp_path):
    est, _ = fitted("text")
    est.save(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == [
        "estimator.json",
        "manifest.json",
        "model.json",
        "model.safetensors",
        "vocabulary.json",
    ]
    head = json.loads((tmp_path / "m" / "estimator.json").read_text())
    assert head["class"] == "TextClassifier" and head["params"]["maxlen"] == 4
    assert head["params"]["module__units"] == {"__tuple__": [4]}
    loaded = TextClassifier.load(tmp_path / "m")
    assert loaded.vocabulary_.words == est.vocabulary_.words


def test_text_classifier_keeps_words_unknown_after_loading(tmp_path):
    est, _ = fitted("text")
    est.save(tmp_path / "m")
    probe = ["zebra good", "never seen words"]
    for loaded in (rnnlab.estimators.load(tmp_path / "m"), rnnlab.load(tmp_path / "m")):
        np.testing.assert_array_equal(loaded.predict_proba(probe), est.predict_proba(probe))


def test_model_classifier_needs_its_build_fn(tmp_path):
    est, _ = fitted("model")
    est.save(tmp_path / "m")
    head = json.loads((tmp_path / "m" / "estimator.json").read_text())
    assert "build_fn" in head["unsaved"] and "build_fn" not in head["params"]
    with pytest.raises(
        TypeError, match=r"pass them again: ModelClassifier.load\(.*build_fn=\.\.\."
    ):
        rnnlab.estimators.load(tmp_path / "m")
    with pytest.raises(ModelFileError, match="not a registered architecture"):
        rnnlab.load(tmp_path / "m")

    def other(num_classes, input_shape, units=4):
        return nn.Sequential(rnn.GRU(units, input_size=1), nn.Linear(units, num_classes))

    with pytest.raises(ModelFileError, match="do not fit the module that `build_fn` builds"):
        ModelClassifier.load(tmp_path / "m", build_fn=other)


def test_wrong_class_is_refused(tmp_path):
    est, _ = fitted("ids")
    est.save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="holds a SequenceClassifier, not a TextClassifier"):
        TextClassifier.load(tmp_path / "m")


@pytest.mark.parametrize("damage", ["tamper-json", "truncate-weights", "delete-vocabulary"])
def test_damaged_directories_raise_model_file_error(damage, tmp_path):
    est, _ = fitted("text")
    d = est.save(tmp_path / "m")
    if damage == "tamper-json":
        path = d / "estimator.json"
        path.write_text(path.read_text().replace('"maxlen": 4', '"maxlen": 5'))
    elif damage == "truncate-weights":
        data = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    else:
        (d / "vocabulary.json").unlink()
    with pytest.raises(ModelFileError):
        rnnlab.load(d)


def test_missing_directory_and_unfitted_estimator(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        rnnlab.load(tmp_path / "nothing")
    with pytest.raises(NotFittedError):
        SequenceClassifier().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_saving_again_replaces_the_model(tmp_path):
    first, X = fitted("ids")
    first.save(tmp_path / "m")
    second = SequenceClassifier(classes=range(4), **{**SMALL, "random_state": 1}).fit(
        IDS, [0, 1, 0, 1, 2, 1]
    )
    second.save(tmp_path / "m")
    np.testing.assert_array_equal(
        rnnlab.load(tmp_path / "m").predict_proba(X), second.predict_proba(X)
    )


def test_loading_does_not_touch_the_global_rng(tmp_path):
    est, _ = fitted("ids")
    est.save(tmp_path / "m")
    state = torch.get_rng_state()
    rnnlab.load(tmp_path / "m")
    assert torch.equal(torch.get_rng_state(), state)


HYBRID_TEXTS = [
    "a great, fun film",
    "dull and bad",
    "great fun!",
    "bad, bad film",
    "fun and great",
    "Dull film",
] * 4


def test_hybrid_text_classifier_round_trip(tmp_path):
    # The default TextClassifier: a recurrent network blended with NBSVM's n-gram scores.
    est = TextClassifier(validation_split=0.25, **SMALL).fit(HYBRID_TEXTS, ["pos", "neg"] * 12)
    assert isinstance(est.module_, rnnlab.models.HybridClassifier)
    # One epoch leaves the network unsure; validation gives the n-gram part a share.
    assert est.module_.linear_weight > 0 and est.hybrid_["blend_share"] > 0
    probe = [*HYBRID_TEXTS[:6], "great great film", "zebra"]
    expected = est.predict_proba(probe)
    ids, _ = est._predict_inputs(probe)
    ngram_scores = est.module_.ngrams(ids)
    assert ngram_scores.abs().sum() > 0  # the n-gram part holds fitted weights
    est.save(tmp_path / "m")
    model = json.loads((tmp_path / "m" / "model.json").read_text())
    assert model["architecture"] == "HybridClassifier"
    for loaded in (
        rnnlab.estimators.load(tmp_path / "m"),
        TextClassifier.load(tmp_path / "m"),
        rnnlab.load(tmp_path / "m"),
        est.to_pipeline(),
    ):
        np.testing.assert_array_equal(loaded.predict_proba(probe), expected)
    again = rnnlab.estimators.load(tmp_path / "m")
    assert again.model_kind == "hybrid" and again.hybrid_ == est.hybrid_
    assert again.module_config_ == est.module_config_
    assert again.module_.linear_weight == est.module_.linear_weight
    assert torch.equal(again.module_.ngrams(ids), ngram_scores)
    np.testing.assert_array_equal(again.predict(probe), est.predict(probe))


def test_hybrid_sequence_classifier_round_trip(tmp_path):
    X = [[5, 6, 7], [8, 9], [5, 6], [8, 9, 9], [7, 5, 6], [9, 8]] * 4
    y = [0, 1] * 12
    est = SequenceClassifier(model_kind="hybrid", validation_split=0.25, **SMALL).fit(X, y)
    assert isinstance(est.module_, rnnlab.models.HybridClassifier)
    est.save(tmp_path / "m")
    for loaded in (rnnlab.estimators.load(tmp_path / "m"), rnnlab.load(tmp_path / "m")):
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_estimators_saved_before_model_kinds_load_as_recurrent():
    # A format-1 TextClassifier, saved before `model_kind` existed: its params lack it.
    old = Path(__file__).parents[1] / "fixtures" / "format_v1" / "text_classifier"
    assert "model_kind" not in json.loads((old / "estimator.json").read_text())["params"]
    loaded = TextClassifier.load(old)
    assert loaded.model_kind == "recurrent" and type(loaded.module_).__name__ == (
        "RecurrentClassifier"
    )
