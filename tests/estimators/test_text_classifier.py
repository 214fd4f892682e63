"""TextClassifier: raw strings in, its own vocabulary learned from the training texts only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from rnnlab import TextClassifier
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError

SMALL = {
    "epochs": 1,
    "batch_size": 4,
    "module__units": (4,),
    "module__embedding_dim": 4,
    "random_state": 0,
}
TEXTS = [
    "a great, fun film",
    "dull and bad",
    "great fun!",
    "bad, bad film",
    "fun and great",
    "Dull film",
] * 3
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"] * 3


def test_vocabulary_is_fitted_on_training_texts_only():
    clf = TextClassifier(**SMALL).fit(TEXTS, LABELS)
    assert isinstance(clf.vocabulary_, Vocabulary)
    # By training frequency, ties in first-seen order; ids 0-3 are reserved (Keras layout).
    assert clf.vocabulary_.words == ("great", "fun", "film", "bad", "dull", "and", "a")
    assert clf.vocabulary_.size == clf.module_config_["vocab_size"] == 4 + 7
    # Words seen only at predict time stay unknown: the vocabulary does not grow.
    clf.predict(["zebra film", "quokka"])
    assert "zebra" not in clf.vocabulary_ and clf.vocabulary_.size == 11
    # maxlen_: the longest training text plus the start id.
    assert clf.maxlen_ == 5


def test_predict_outputs():
    clf = TextClassifier(**SMALL).fit(TEXTS, LABELS)
    assert list(clf.classes_) == ["neg", "pos"]
    proba = clf.predict_proba(["great film", "bad"])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.decision_function(["great film"]).shape == (1,)
    assert set(clf.predict(TEXTS)) <= {"pos", "neg"}


def test_it_learns():
    clf = TextClassifier(
        epochs=15,
        batch_size=4,
        lr=0.03,
        module__units=(8,),
        module__embedding_dim=8,
        random_state=0,
    )
    assert clf.fit(TEXTS, LABELS).score(TEXTS, LABELS) == 1.0


@pytest.mark.parametrize(
    "wrap",
    [
        list,
        tuple,
        np.array,
        lambda t: np.array(t, dtype=object),
        pd.Series,
        lambda t: np.array(t)[:, None],
        lambda t: pd.DataFrame({"text": t}),
    ],
    ids=["list", "tuple", "str-array", "object-array", "series", "column", "dataframe"],
)
def test_text_containers_agree(wrap):
    ref = TextClassifier(**SMALL).fit(TEXTS, LABELS).predict_proba(TEXTS)
    clf = TextClassifier(**SMALL).fit(wrap(TEXTS), pd.Series(LABELS))
    np.testing.assert_array_equal(clf.predict_proba(wrap(TEXTS)), ref)


def test_vocabulary_settings():
    assert TextClassifier(max_tokens=2, **SMALL).fit(TEXTS, LABELS).vocabulary_.words == (
        "great",
        "fun",
    )
    assert TextClassifier(min_freq=6, **SMALL).fit(TEXTS, LABELS).vocabulary_.words == (
        "great",
        "fun",
        "film",
        "bad",
        "dull",
        "and",
    )
    capped = TextClassifier(num_words=6, **SMALL).fit(TEXTS, LABELS)
    assert capped.vocabulary_.size == 6 == capped.module_config_["vocab_size"]
    cased = TextClassifier(lower=False, **SMALL).fit(TEXTS, LABELS)
    assert "Dull" in cased.vocabulary_ and "dull" in cased.vocabulary_
    pattern = TextClassifier(token_pattern=r"\b\w\w\w\w+\b", **SMALL).fit(TEXTS, LABELS)
    assert set(pattern.vocabulary_.words) == {"film", "great", "dull"}


def test_maxlen_and_padding():
    clf = TextClassifier(maxlen=3, padding="post", truncating="post", **SMALL).fit(TEXTS, LABELS)
    assert clf.maxlen_ == 3 and clf.module_config_["padding"] == "post"
    ids, lengths = clf._predict_inputs(["great fun film and more"])
    start, great, fun = 1, clf.vocabulary_.token_id("great"), clf.vocabulary_.token_id("fun")
    assert ids.tolist() == [[start, great, fun]] and lengths.tolist() == [3]
    pre = TextClassifier(maxlen=4, **SMALL).fit(TEXTS, LABELS)
    ids, _ = pre._predict_inputs(["fun"])
    assert ids.tolist() == [[0, 0, 1, pre.vocabulary_.token_id("fun")]]


def test_classes_option_keeps_missing_classes():
    clf = TextClassifier(classes=["neg", "neutral", "pos"], **SMALL).fit(TEXTS, LABELS)
    assert list(clf.classes_) == ["neg", "neutral", "pos"]
    assert clf.predict_proba(TEXTS).shape == (18, 3)


def test_determinism():
    a = TextClassifier(**SMALL).fit(TEXTS, LABELS).predict_proba(TEXTS)
    b = TextClassifier(**SMALL).fit(TEXTS, LABELS).predict_proba(TEXTS)
    np.testing.assert_array_equal(a, b)


def test_unfitted_raises_not_fitted():
    with pytest.raises(NotFittedError):
        TextClassifier().predict(["text"])


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        ([], [], ValueError, "0 sample"),
        ("one long text", [0], TypeError, "wrap it in a list"),
        (["ok", 3.5, "fine"], [0, 1, 0], TypeError, "str texts, got float 3.5 at index 1"),
        ([[1, 2], [3]], [0, 1], TypeError, "for token ids use SequenceClassifier"),
        ([b"bytes", b"more"], [0, 1], TypeError, "decode bytes first"),
        (["a", "b"], [0, 1, 1], ValueError, "inconsistent numbers of samples"),
        (["a", "b"], ["x", "x"], ValueError, "only one class is present"),
        (np.array([["a", "b"], ["c", "d"]]), [0, 1], ValueError, "1-D collection of texts"),
        (pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"]}), [0, 1], ValueError, "2 columns"),
        (["...", "!!"], [0, 1], DataError, "hold no tokens"),
    ],
    ids=[
        "empty",
        "single-str",
        "non-str",
        "ids",
        "bytes",
        "length-mismatch",
        "one-class",
        "2d",
        "dataframe",
        "no-tokens",
    ],
)
def test_bad_input_is_refused_clearly(X, y, error, match):
    with pytest.raises(error, match=match):
        TextClassifier(**SMALL).fit(X, y)


def test_bad_text_at_predict_time():
    clf = TextClassifier(**SMALL).fit(TEXTS, LABELS)
    with pytest.raises(TypeError, match="got NoneType None at index 0"):
        clf.predict([None])
