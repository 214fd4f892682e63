"""Honest evaluation: metrics that go beside accuracy, and the baselines that give it meaning.

A figure alone says little: on the seed Reuters split the majority class is 74.8 %
of the test set, so a model that always answers "earn" scores 0.748. Every report
therefore shows the majority baseline, a bag-of-words baseline and macro-F1, and
beside them the strongest linear baseline (`rnnlab.experiments.baselines`), the
line a recurrent recipe has to beat.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 (averaged over the classes present in truth or prediction).

    >>> classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]))
    {'accuracy': 0.75, 'macro_f1': 0.7333333333333334}
    """
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def log_loss(proba: np.ndarray, y_true: np.ndarray) -> float:
    """Mean negative log-probability of the true class (probabilities clipped at 1e-7).

    >>> round(log_loss(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1])), 4)
    0.1643
    """
    picked = np.asarray(proba)[np.arange(len(y_true)), np.asarray(y_true)]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def per_class_table(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str]
) -> list[dict[str, object]]:
    """Precision, recall, F1 and support for every class that occurs in truth or prediction."""
    labels = np.unique(np.concatenate([y_true, y_pred]))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return [
        {
            "label": str(label_names[c]),
            "precision": float(pi),
            "recall": float(ri),
            "f1": float(fi),
            "support": int(si),
        }
        for c, pi, ri, fi, si in zip(labels, p, r, f, s)
    ]


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts; rows are true classes."""
    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


def majority_baseline(y_train: np.ndarray, y_test: np.ndarray) -> dict[str, float]:
    """Always predict the most frequent training class."""
    majority = np.bincount(y_train).argmax()
    return classification_metrics(y_test, np.full_like(y_test, majority))


def bag_of_ids(sequences: Sequence[Sequence[int]], num_features: int) -> sparse.csr_matrix:
    """(n, num_features) sparse counts of each token id in each sequence."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = (
        np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        if lengths.sum()
        else np.zeros(0, np.int64)
    )
    counts = sparse.csr_matrix(
        (np.ones(len(indices)), indices, indptr), shape=(len(sequences), num_features)
    )
    counts.sum_duplicates()
    return counts


def bag_of_words_baseline(
    train_sequences: Sequence[Sequence[int]],
    y_train: np.ndarray,
    test_sequences: Sequence[Sequence[int]],
    y_test: np.ndarray,
) -> dict[str, float]:
    """TF-IDF over token ids + logistic regression (scikit-learn defaults, no tuning on test).

    Sequences are the unpadded id lists of the same split the network sees.
    """
    num_features = 1 + max(
        (max(s) for s in list(train_sequences) + list(test_sequences) if len(s)), default=0
    )
    tfidf = TfidfTransformer(sublinear_tf=True)
    train = tfidf.fit_transform(bag_of_ids(train_sequences, num_features))
    test = tfidf.transform(bag_of_ids(test_sequences, num_features))
    clf = LogisticRegression(max_iter=2000, C=10.0)
    clf.fit(train, y_train)
    return classification_metrics(y_test, clf.predict(test))
