"""SequenceClassifier: input forms, labels, outputs, determinism, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from rnnlab import SequenceClassifier

SMALL = {
    "epochs": 1,
    "batch_size": 8,
    "module__units": (4,),
    "module__embedding_dim": 4,
    "random_state": 0,
}


def token7(n=40, seed=0):
    """Ragged id sequences; class 1 contains token 7, class 0 does not."""
    rng = np.random.RandomState(seed)
    X, y = [], []
    for i in range(n):
        seq = list(rng.randint(1, 7, size=rng.randint(3, 7)))
        if i % 2:
            seq[rng.randint(len(seq))] = 7
        X.append(seq)
        y.append(i % 2)
    return X, np.array(y)


# ------------------------------------------------------------------ input forms


def test_ragged_lists_are_padded_ids():
    X, y = token7()
    clf = SequenceClassifier(**SMALL).fit(X, y)
    assert clf.input_ == "embedding"
    assert clf.vocab_size_ == 8 and clf.maxlen_ == 6
    assert not hasattr(clf, "n_features_in_")
    assert clf.module_config_["units"] == [4] and clf.module_config_["num_classes"] == 2
    proba = clf.predict_proba(X)
    assert proba.shape == (40, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Longer sequences at predict time are truncated to maxlen_ ('pre': keep the end).
    long = [1] * 20 + list(X[0])
    np.testing.assert_array_equal(clf.predict_proba([long]), clf.predict_proba([long[-6:]]))


def test_it_learns():
    X, y = token7(60)
    clf = SequenceClassifier(
        epochs=25,
        batch_size=8,
        lr=0.03,
        module__units=(8,),
        module__embedding_dim=8,
        random_state=0,
    )
    assert clf.fit(X, y).score(X, y) >= 0.9
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


@pytest.mark.parametrize(
    "wrap",
    [
        lambda X: X,
        lambda X: tuple(X),
        lambda X: np.array([np.array(s) for s in X], dtype=object),
        lambda X: pd.Series(X),
    ],
    ids=["list", "tuple", "object-array", "series"],
)
def test_ragged_containers_agree(wrap):
    X, y = token7()
    ref = SequenceClassifier(**SMALL).fit(X, y).predict_proba(X)
    clf = SequenceClassifier(**SMALL).fit(wrap(X), y)
    np.testing.assert_array_equal(clf.predict_proba(wrap(X)), ref)


def test_padded_int_array_is_ids_with_fixed_width():
    X, y = token7()
    from rnnlab import pad_sequences

    padded = pad_sequences(X, padding="post")  # int32 (40, 6)
    clf = SequenceClassifier(padding="post", **SMALL).fit(padded, y)
    assert clf.input_ == "embedding" and clf.n_features_in_ == 6 and clf.maxlen_ == 6
    with pytest.raises(ValueError, match="X has 5 features, but SequenceClassifier is expecting 6"):
        clf.predict(padded[:, :5])
    # Ragged input at predict time is padded the same way.
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(padded))


def test_float_array_is_raw_numbers_and_3d_is_too():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5))
    y = (X[:, -1] > 0).astype(int)
    clf = SequenceClassifier(**SMALL).fit(X, y)
    assert clf.input_ == "raw" and clf.vocab_size_ is None and clf.module_config_["input"] == "raw"
    clf3 = SequenceClassifier(**SMALL).fit(X[:, :, None], y)
    assert clf3.input_ == "raw"
    np.testing.assert_array_equal(clf3.predict_proba(X[:, :, None]), clf.predict_proba(X))
    # The Reuters tutorial's int ids shaped (n, T, 1) are numbers too, as in Keras.
    ids = rng.randint(0, 50, size=(30, 5, 1)).astype(np.int32)
    assert SequenceClassifier(**SMALL).fit(ids, y).input_ == "raw"


def test_module_input_overrides_the_reading():
    X = np.arange(40, dtype=np.float64).reshape(10, 4) % 7
    y = np.arange(10) % 2
    clf = SequenceClassifier(module__input="embedding", **SMALL).fit(X, y)
    assert clf.input_ == "embedding" and clf.vocab_size_ == 7
    with pytest.raises(ValueError, match="whole-number token ids"):
        clf.predict(X + 0.5)
    ids = X.astype(np.int64)
    assert SequenceClassifier(module__input="raw", **SMALL).fit(ids, y).input_ == "raw"


def test_multi_feature_steps_are_refused():
    with pytest.raises(ValueError, match=r"use ModelClassifier"):
        SequenceClassifier(**SMALL).fit(np.zeros((4, 3, 2)), [0, 1, 0, 1])


def test_vocab_size_param_and_unseen_ids():
    X, y = token7()
    clf = SequenceClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="token id 9.*vocab_size_=8.*vocab_size="):
        clf.predict([[1, 9]])
    wide = SequenceClassifier(vocab_size=100, **SMALL).fit(X, y)
    assert wide.vocab_size_ == 100 and wide.predict([[1, 99]]).shape == (1,)
    with pytest.raises(ValueError, match="token id 7 but `vocab_size` is 5"):
        SequenceClassifier(vocab_size=5, **SMALL).fit(X, y)


def test_masking_module_trains_on_post_padded_batches():
    X, y = token7()
    clf = SequenceClassifier(padding="post", module__mask=True, **SMALL).fit(X, y)
    assert clf.module_config_["mask"] and clf.module_config_["padding"] == "post"
    assert clf.predict(X).shape == (40,)


# ------------------------------------------------------------------ labels


def test_string_labels_and_classes_order():
    X, y = token7()
    names = np.where(y == 1, "seven", "plain")
    clf = SequenceClassifier(**SMALL).fit(X, names)
    assert list(clf.classes_) == ["plain", "seven"]
    assert set(clf.predict(X)) <= {"plain", "seven"}
    assert clf.decision_function(X).shape == (40,)
    # decision_function > 0 means classes_[1]; predict and predict_proba agree with it.
    d = clf.decision_function(X)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(d > 0).astype(int)])
    np.testing.assert_array_equal(clf.predict_proba(X).argmax(1), (d > 0).astype(int))


def test_one_hot_labels_become_class_indices():
    X, y = token7()
    onehot = np.eye(3)[y]  # 3 columns, the third class never occurs
    clf = SequenceClassifier(**SMALL).fit(X, onehot)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.predict_proba(X).shape == (40, 3) and clf.decision_function(X).shape == (40, 3)
    assert clf.score(X, onehot) == clf.score(X, y)


def test_explicit_classes_fix_the_output_layer():
    X, y = token7()
    clf = SequenceClassifier(classes=range(5), **SMALL).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    assert clf.module_config_["num_classes"] == 5 and clf.predict_proba(X).shape == (40, 5)
    with pytest.raises(ValueError, match="labels that are not in `classes`: 1"):
        SequenceClassifier(classes=[0, 2], **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="3 one-hot columns but `classes` lists 2"):
        SequenceClassifier(classes=["a", "b"], **SMALL).fit(X, np.eye(3)[y])


def test_multiclass_outputs():
    X, _y = token7(30)
    y3 = np.arange(30) % 3
    clf = SequenceClassifier(**SMALL).fit(X, y3)
    assert clf.decision_function(X).shape == (30, 3)
    np.testing.assert_array_equal(clf.predict(X), clf.decision_function(X).argmax(1))


def test_score_counts_unseen_labels_as_errors():
    X, y = token7()
    clf = SequenceClassifier(**SMALL).fit(X, y)
    pred = clf.predict(X)
    truth = np.where(np.arange(40) < 10, 5, pred)  # label 5 was never a class
    assert clf.score(X, truth) == pytest.approx(0.75)


# ------------------------------------------------------------ training options


def test_validation_split_and_early_stopping():
    X, y = token7()
    clf = SequenceClassifier(validation_split=0.25, **{**SMALL, "epochs": 3}).fit(X, y)
    assert len(clf.history_["val_loss"]) == 3 and "val_accuracy" in clf.history_
    # lr=0: the loss never improves, so patience=0 stops after the second epoch (Keras rule).
    stopped = SequenceClassifier(lr=0.0, patience=0, shuffle=False, **{**SMALL, "epochs": 10})
    stopped.fit(X, y)
    assert len(stopped.history_["loss"]) == 2


def test_optimizer_by_name_class_and_routed_settings():
    X, y = token7()
    a = SequenceClassifier(optimizer="sgd", optimizer__momentum=0.9, **SMALL).fit(X, y)
    b = SequenceClassifier(
        optimizer=torch.optim.SGD, lr=0.01, optimizer__momentum=0.9, **SMALL
    ).fit(X, y)
    assert a.history_["learning_rate"] == [0.01] == b.history_["learning_rate"]
    with pytest.raises(ValueError, match="`lr` or `optimizer__lr`, not both"):
        SequenceClassifier(lr=0.1, optimizer__lr=0.1, **SMALL).fit(X, y)


# ------------------------------------------------------------------ determinism


def test_same_random_state_same_predictions_and_global_rng_untouched():
    X, y = token7()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    p1 = SequenceClassifier(**SMALL).fit(X, y).predict_proba(X)
    assert torch.equal(torch.get_rng_state(), before)
    p2 = SequenceClassifier(**SMALL).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = SequenceClassifier(**{**SMALL, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(p1, p3)


def test_predictions_do_not_depend_on_sample_order():
    X, y = token7()
    clf = SequenceClassifier(**{**SMALL, "batch_size": 3}).fit(X, y)
    order = np.random.RandomState(1).permutation(40)
    np.testing.assert_array_equal(
        clf.decision_function(X)[order], clf.decision_function([X[i] for i in order])
    )


# ---------------------------------------------------------------------- errors


def test_unfitted_raises_not_fitted():
    with pytest.raises(NotFittedError):
        SequenceClassifier().predict([[1, 2]])


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        (np.zeros((0, 3)), [], ValueError, "0 sample"),
        ([], [], ValueError, "0 sample"),
        ([[1, 2], [3]], [0, 1, 1], ValueError, r"inconsistent numbers of samples: \[2, 3\]"),
        ([[1, 2], [3, 4]], [1, 1], ValueError, "only one class is present"),
        ([[1, 2], [3, 4]], None, ValueError, "requires y to be passed"),
        ([[1.0, np.nan], [3.0, 4.0]], [0, 1], ValueError, "NaN"),
        ([[1.0, np.nan], [3.0]], [0, 1], ValueError, "NaN"),
        ([["a", "b"], ["c"]], [0, 1], TypeError, "for text use TextClassifier"),
        ([[1, -2], [3]], [0, 1], ValueError, "token ids must be >= 0"),
        ([[1, 2], [3, 4]], [0.5, 1.5], ValueError, "Unknown label type"),
        ([[1, 2], [3, 4]], [[0, 1], [1, 1]], ValueError, "one-hot rows"),
        (np.array([1, 2, 3]), [0, 1, 0], ValueError, "Expected 2D array"),
    ],
    ids=[
        "empty-array",
        "empty-list",
        "length-mismatch",
        "one-class",
        "no-y",
        "nan-array",
        "nan-ragged",
        "strings",
        "negative-id",
        "continuous-y",
        "multilabel-y",
        "1d-X",
    ],
)
def test_bad_input_is_refused_clearly(X, y, error, match):
    with pytest.raises(error, match=match):
        SequenceClassifier(**SMALL).fit(X, y)


def test_bad_settings_are_reported_at_fit():
    X, y = token7()
    with pytest.raises(ValueError, match="`padding` must be one of 'pre', 'post', got 'left'"):
        SequenceClassifier(padding="left", **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="`epochs` must be a positive integer, got 0"):
        SequenceClassifier(**{**SMALL, "epochs": 0}).fit(X, y)
    with pytest.raises(ValueError, match="`cell` must be one of"):
        SequenceClassifier(module__cell="transformer", **SMALL).fit(X, y)
