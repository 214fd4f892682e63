"""TextClassifier: raw strings in, its own vocabulary learned from the training texts only.

SMALL keeps the defaults but the sizes: a hybrid model (network + NBSVM n-grams) with a
stratified 10 % validation split and early stopping.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from rnnlab import SequenceClassifier, TextClassifier
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import ConfigError, DataError
from rnnlab.estimators.text import sized_maxlen
from rnnlab.models import HybridClassifier, RecurrentClassifier

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
    assert clf.vocabulary_.size == clf.module_config_["recurrent"]["vocab_size"] == 4 + 7
    # Words seen only at predict time stay unknown: the vocabulary does not grow.
    clf.predict(["zebra film", "quokka"])
    assert "zebra" not in clf.vocabulary_ and clf.vocabulary_.size == 11
    # maxlen_: the 95th percentile of the training lengths (start id included): here the
    # longest, 3 of the 18 texts.
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
    assert capped.vocabulary_.size == 6 == capped.module_config_["recurrent"]["vocab_size"]
    cased = TextClassifier(lower=False, **SMALL).fit(TEXTS, LABELS)
    assert "Dull" in cased.vocabulary_ and "dull" in cased.vocabulary_
    pattern = TextClassifier(token_pattern=r"\b\w\w\w\w+\b", **SMALL).fit(TEXTS, LABELS)
    assert set(pattern.vocabulary_.words) == {"film", "great", "dull"}


def test_maxlen_and_padding():
    clf = TextClassifier(maxlen=3, padding="post", truncating="post", **SMALL).fit(TEXTS, LABELS)
    assert clf.maxlen_ == 3 and clf.module_config_["recurrent"]["padding"] == "post"
    ids, lengths = clf._predict_inputs(["great fun film and more"])
    start, great, fun = 1, clf.vocabulary_.token_id("great"), clf.vocabulary_.token_id("fun")
    assert ids.tolist() == [[start, great, fun]] and lengths.tolist() == [3]
    pre = TextClassifier(maxlen=4, padding="pre", **SMALL).fit(TEXTS, LABELS)
    ids, _ = pre._predict_inputs(["fun"])
    assert ids.tolist() == [[0, 0, 1, pre.vocabulary_.token_id("fun")]]
    # The default pads at the end (the masked network skips it) and truncates the start.
    post = TextClassifier(maxlen=4, **SMALL).fit(TEXTS, LABELS)
    ids, _ = post._predict_inputs(["fun", "dull and bad film"])
    fun, dull, and_, bad, film = (
        post.vocabulary_.token_id(w) for w in ("fun", "dull", "and", "bad", "film")
    )
    assert ids.tolist() == [[1, fun, 0, 0], [dull, and_, bad, film]]


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


# ------------------------------------------------------------ own-data defaults


def _sorted_by_label(n_per_class=20):
    """Label-sorted texts of three classes, each class with its own words."""
    words = {"a": "apple pear", "b": "boat ship", "c": "cat dog"}
    texts, labels = [], []
    for label, vocab in words.items():
        for i in range(n_per_class):
            texts.append(f"{vocab} row{i % 5}")
            labels.append(label)
    return texts, labels


def test_defaults_are_the_own_data_recipe():
    clf = TextClassifier()
    params = clf.get_params()
    assert params["model_kind"] == "hybrid" and params["validation_split"] == 0.1
    assert params["patience"] == 2 and params["padding"] == "post"
    assert params["class_weight"] is None and params["maxlen"] is None
    clf.set_params(epochs=1, random_state=0).fit(TEXTS, LABELS)
    assert isinstance(clf.module_, HybridClassifier)
    assert isinstance(clf.module_.recurrent, RecurrentClassifier)
    recurrent = clf.module_config_["recurrent"]
    assert (recurrent["cell"], recurrent["units"], recurrent["embedding_dim"]) == ("gru", [64], 64)
    assert recurrent["bidirectional"] and recurrent["mask"] and recurrent["pooling"] == "max"
    assert recurrent["output_dropout"] == 0.3 and recurrent["padding"] == "post"
    # What validation chose for the n-gram part and the blend is kept.
    assert set(clf.hybrid_) >= {"linear", "blend_share", "blend_validation_accuracy"}
    assert 0.0 <= clf.hybrid_["blend_share"] <= 1.0
    assert "val_loss" in clf.history_


def test_recurrent_kind_has_no_ngram_part():
    clf = TextClassifier(model_kind="recurrent", **SMALL).fit(TEXTS, LABELS)
    assert type(clf.module_) is RecurrentClassifier and "hybrid_" not in clf.__dict__
    assert clf.module_config_["cell"] == "gru"  # the module defaults hold for both kinds


def test_validation_split_is_stratified_seeded_and_shuffled():
    texts, labels = _sorted_by_label()  # 20 a, then 20 b, then 20 c
    fit = {"epochs": 1, "validation_split": 0.25, **{k: SMALL[k] for k in SMALL if k != "epochs"}}
    clf = TextClassifier(**fit).fit(texts, labels)
    held = clf.validation_indices_
    assert len(held) == 15 and len(set(held.tolist())) == 15
    # Every class, in its proportion; Keras's last 25 % would be 15 rows of "c".
    assert sorted(np.bincount(np.asarray(held) // 20).tolist()) == [5, 5, 5]
    assert not np.array_equal(np.sort(held), np.arange(45, 60))
    # Shuffled: the classes are mixed in the order the rows are read.
    assert not np.array_equal(held, np.sort(held))
    assert len({labels[i] for i in held[:6]}) > 1
    # Seeded: the same random_state holds out the same rows, another seed others.
    again = TextClassifier(**fit).fit(texts, labels)
    np.testing.assert_array_equal(again.validation_indices_, held)
    other = TextClassifier(**{**fit, "random_state": 1}).fit(texts, labels)
    assert set(other.validation_indices_.tolist()) != set(held.tolist())


def test_sequence_classifier_keeps_the_keras_last_fraction():
    X = [[1, 2, 3]] * 20 + [[4, 5, 6]] * 20
    clf = SequenceClassifier(epochs=1, validation_split=0.25, module__units=(4,), random_state=0)
    clf.fit(X, [0] * 20 + [1] * 20)
    np.testing.assert_array_equal(clf.validation_indices_, np.arange(30, 40))


def test_hybrid_needs_validation_rows():
    with pytest.raises(ConfigError, match="validation_split is None: set validation_split"):
        TextClassifier(validation_split=None, **SMALL).fit(TEXTS, LABELS)
    # Too few texts to hold any out: the message says what to do.
    with pytest.raises(DataError, match="validation_split=None with model_kind='recurrent'"):
        TextClassifier(**SMALL).fit(["good", "bad", "good fun"], ["p", "n", "p"])
    small = TextClassifier(validation_split=None, model_kind="recurrent", **SMALL)
    assert small.fit(["good", "bad"], ["p", "n"]).predict(["good"]).shape == (1,)
    assert "validation_indices_" not in small.__dict__
    with pytest.raises(ValueError, match="model_kind"):
        TextClassifier(model_kind="wide", **SMALL).fit(TEXTS, LABELS)


def test_maxlen_is_sized_by_the_training_lengths():
    # The 95th percentile (an observed length), capped at 400 tokens.
    assert sized_maxlen([10] * 96 + [1000] * 4) == 10
    assert sized_maxlen([10] * 95 + [1000] * 5) == 400
    assert sized_maxlen([3, 7, 5]) == 7
    texts = ["fun film"] * 40 + [" ".join(["long"] * 50)]
    clf = TextClassifier(model_kind="recurrent", **SMALL).fit(texts, ["p", "n"] * 20 + ["n"])
    assert clf.maxlen_ == 3  # one outlier of 51 tokens does not set every row's length


def test_class_weight():
    imbalanced = ["good fun"] * 15 + ["bad dull"] * 5
    y = ["pos"] * 15 + ["neg"] * 5
    clf = TextClassifier(class_weight="balanced", **SMALL)
    # scikit-learn's rule: n / (n_classes * count), in classes_ order (neg, pos).
    assert clf._class_weights(np.array([1] * 15 + [0] * 5), np.array(["neg", "pos"])) == [
        2.0,
        20 / 30,
    ]
    assert clf.fit(imbalanced, y).score(imbalanced, y) >= 0.0
    # The weights reach the training loss: with weight 0 for "pos" only "neg" is learned.
    only_neg = TextClassifier(
        class_weight={"pos": 0.0},
        model_kind="recurrent",
        validation_split=None,
        epochs=20,
        lr=0.05,
        **{k: SMALL[k] for k in SMALL if k != "epochs"},
    ).fit(TEXTS, LABELS)
    assert set(only_neg.predict(TEXTS)) == {"neg"}
    with pytest.raises(ConfigError, match="names 'maybe', which is not a class"):
        TextClassifier(class_weight={"maybe": 2.0}, **SMALL).fit(TEXTS, LABELS)
    with pytest.raises(ConfigError, match="must be None, 'balanced' or a dict"):
        TextClassifier(class_weight="even", **SMALL).fit(TEXTS, LABELS)
