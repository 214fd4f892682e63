"""Labels -> class indices, and back: ints, strings, or one-hot rows (what Keras users pass).

``classes_`` is the sorted set of labels seen in ``y``, unless the estimator is
given ``classes=``, which fixes the output layer whatever one split holds (the
seed's Reuters training split has 31 of the 46 topics). One-hot rows (2-D 0/1,
each row summing to 1, as `to_categorical` makes them) are class indices in
disguise: ``classes_`` is then ``np.arange(n_columns)``, as with KerasClassifier.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets

from rnnlab.errors import InvalidTypeError, InvalidValueError


def is_one_hot(y: np.ndarray) -> bool:
    """True for a 2-D array of 0/1 with at least two columns and exactly one 1 per row."""
    if y.ndim != 2 or y.shape[1] < 2 or y.dtype.kind not in "biuf" or y.shape[0] == 0:
        return False
    return bool(np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all())


def as_label_array(y: Any, name: str) -> np.ndarray:
    """``y`` as an array; a column vector becomes 1-D with sklearn's DataConversionWarning."""
    if y is None:
        raise InvalidValueError(f"{name} requires y to be passed, but the target y is None.")
    y = np.asarray(y)
    if y.ndim == 0:
        raise InvalidValueError(f"`y` must hold one label per sample, got the scalar {y!r}")
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples, ), for example using ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    return y


def encode_labels(
    y: Any, n_samples: int, classes: Iterable[Any] | None, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check ``y`` and map it to class indices.

    Args:
        y: n labels (ints, strings, ...) or (n, k) one-hot rows.
        n_samples: the number of samples in X.
        classes: every class, in output order, or None for the sorted labels of ``y``.
        name: the estimator's name, for messages.

    Returns:
        (n,) int64 indices into ``classes_``, and ``classes_``.
    """
    y = as_label_array(y, name)
    if y.shape[0] != n_samples:
        raise InvalidValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {y.shape[0]}] (X has {n_samples} samples, y has {y.shape[0]} labels)"
        )
    fixed = None if classes is None else _check_classes(classes)
    if y.ndim == 2:
        if not is_one_hot(y):
            raise InvalidValueError(
                f"`y` of shape {y.shape} must be labels (n,) or one-hot rows (n, k) with one 1 "
                "per row; multi-label and multi-output targets are not supported"
            )
        if fixed is not None and len(fixed) != y.shape[1]:
            raise InvalidValueError(
                f"`y` has {y.shape[1]} one-hot columns but `classes` lists {len(fixed)} classes; "
                "they must match (column j is class classes[j])"
            )
        classes_ = np.arange(y.shape[1]) if fixed is None else fixed
        return y.argmax(axis=1).astype(np.int64), classes_
    if y.ndim != 1:
        raise InvalidValueError(f"`y` must be 1-D labels or 2-D one-hot rows, got shape {y.shape}")
    check_classification_targets(y)  # refuses NaN and continuous targets, sklearn's words
    if fixed is None:
        try:
            classes_, indices = np.unique(y, return_inverse=True)
        except TypeError:
            kinds = sorted({type(v).__name__ for v in y.tolist()})
            raise InvalidTypeError(
                f"`y` mixes label types ({', '.join(kinds)}); use one type for all labels"
            ) from None
        indices = indices.reshape(-1).astype(np.int64)
    else:
        classes_ = fixed
        lookup = {c: i for i, c in enumerate(classes_.tolist())}
        unknown = sorted({repr(v) for v in y.tolist() if v not in lookup})
        if unknown:
            raise InvalidValueError(
                f"`y` holds labels that are not in `classes`: {', '.join(unknown[:5])}"
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
                + "; add them to `classes` or drop those samples"
            )
        indices = np.fromiter((lookup[v] for v in y.tolist()), dtype=np.int64, count=len(y))
    if len(classes_) < 2:
        raise InvalidValueError(
            f"{name} can't train when only one class is present: y holds only the class "
            f"{classes_[0]!r}; pass samples of at least two classes, or `classes=` listing all"
        )
    return indices, classes_


def _check_classes(classes: Iterable[Any]) -> np.ndarray:
    if isinstance(classes, (str, bytes)):
        raise InvalidTypeError(f"`classes` must be a list of classes, got the string {classes!r}")
    try:
        values = list(classes)
    except TypeError:
        raise InvalidTypeError(
            f"`classes` must be a list of classes, got {type(classes).__name__} {classes!r}"
        ) from None
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) < 2:
        raise InvalidValueError(f"`classes` must list at least two classes, got {values!r}")
    if len(set(arr.tolist())) != len(arr):
        raise InvalidValueError(f"`classes` must not repeat a class, got {values!r}")
    return arr


def labels_for_score(y: Any, classes_: np.ndarray, name: str) -> np.ndarray:
    """True labels for `score`: labels as given, or one-hot rows mapped through ``classes_``."""
    y = as_label_array(y, name)
    if y.ndim == 2:
        if not (is_one_hot(y) and y.shape[1] == len(classes_)):
            raise InvalidValueError(
                f"`y` of shape {y.shape} must be labels (n,) or one-hot rows with one column "
                f"per class ({len(classes_)})"
            )
        return classes_[y.argmax(axis=1)]
    return y
