"""`pad_sequences` and `to_categorical` with Keras 3 semantics and defaults.

Both are drop-in replacements for `keras.utils.pad_sequences` and
`keras.utils.to_categorical`; only the errors differ: clearer, and always an
`RnnlabError` (where Keras passes on NumPy's refusal of ragged items, None or a
value out of the dtype's range, these say which sequence and why). Inputs Keras
silently mangles (negative labels, `maxlen=0`) are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnlab.errors import DataError, InvalidTypeError, InvalidValueError, check_choice, check_int


def pad_sequences(
    sequences: Sequence[Sequence[Any]],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) a list of sequences to one length, as Keras does.

    Args:
        sequences: n sequences (lists or arrays); each item may itself be a vector,
            in which case all items must share that shape.
        maxlen: output length; default the longest sequence.
        dtype: output dtype (Keras default "int32").
        padding: 'pre' or 'post': where the `value` padding goes.
        truncating: 'pre' or 'post': which end is cut from longer sequences
            ('pre' keeps the last `maxlen` tokens).
        value: the padding value.

    Returns:
        (n, maxlen) array, or (n, maxlen, *item_shape).

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
    array([[2, 3],
           [0, 4]], dtype=int32)
    >>> pad_sequences([[1, 2], []], padding="post", value=-1)
    array([[ 1,  2],
           [-1, -1]], dtype=int32)
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise InvalidTypeError(
            f"`sequences` must be a list of sequences, got {type(sequences).__name__}"
        )
    check_int("maxlen", maxlen, minimum=1, allow_none=True)
    check_choice("padding", padding, ("pre", "post"))
    check_choice("truncating", truncating, ("pre", "post"))
    # dtype=None: NumPy infers it from `value`, and the items are cast on assignment (Keras).
    dtype = None if dtype is None else _check_dtype(dtype)
    if isinstance(value, str) and (dtype is None or dtype.kind not in "OUS"):
        raise InvalidTypeError(
            f"`value` is the string {value!r} but `dtype` is {dtype}; "
            "pass dtype=object or dtype=str to pad with strings"
        )

    lengths = np.empty(len(sequences), dtype=np.int64)
    sample_shape: tuple[int, ...] = ()
    shape_found = False
    for i, seq in enumerate(sequences):
        try:
            lengths[i] = len(seq)
        except TypeError:
            raise InvalidTypeError(
                f"`sequences` must contain sequences; item {i} is "
                f"{type(seq).__name__} {seq!r}, which has no length"
            ) from None
        if not shape_found and lengths[i]:
            sample_shape = _as_array(seq, None, i).shape[1:]
            shape_found = True
    if maxlen is None:
        maxlen = int(lengths.max()) if len(lengths) else 0

    try:
        out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidValueError(
            f"`value` {value!r} cannot fill an array of dtype {dtype} ({exc})"
        ) from None
    for i, seq in enumerate(sequences):
        n = min(int(lengths[i]), maxlen)
        if n == 0:
            continue
        try:
            kept = seq[-n:] if truncating == "pre" else seq[:n]
        except (TypeError, KeyError):
            raise InvalidTypeError(
                f"`sequences` must contain sequences; item {i} is a {type(seq).__name__}, "
                "which cannot be sliced"
            ) from None
        kept = _as_array(kept, dtype, i)
        if kept.shape[1:] != sample_shape:
            raise DataError(
                f"sequence {i} has items of shape {kept.shape[1:]}, but earlier "
                f"items have shape {sample_shape}; all items must share one shape"
            )
        try:
            if padding == "post":
                out[i, :n] = kept
            else:
                out[i, maxlen - n :] = kept
        except (TypeError, ValueError, OverflowError) as exc:
            raise DataError(
                f"sequence {i} cannot be stored as {out.dtype} ({str(exc).splitlines()[0]})"
            ) from None
    return out


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise InvalidTypeError(
            f"`dtype` must be a NumPy dtype such as 'int32' or 'float32', got {dtype!r}"
        ) from None


def _as_array(items: Any, dtype: np.dtype | None, i: int) -> np.ndarray:
    """Sequence ``i`` (or its kept part) as an array; NumPy's refusals become a `DataError`."""
    try:
        return np.asarray(items, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        # Ragged items, None, text with a number dtype, 2**40 in int32: NumPy's message
        # says what, this one says where.
        what = "its items" if dtype is None else f"it as {dtype}"
        raise DataError(
            f"sequence {i} cannot be padded: NumPy cannot store {what} "
            f"({str(exc).splitlines()[0]}); items must be numbers of one shape"
        ) from None


def pad_with_lengths(
    sequences: Sequence[Sequence[Any]],
    maxlen: int,
    padding: str = "pre",
    truncating: str = "pre",
    dtype: Any = "int64",
    min_length: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad sequences and keep how many real steps each row holds (for masking).

    Args:
        min_length: the least length reported (the estimators count an empty
            sequence as one step of padding, so every row has a last state).

    Returns:
        ((n, maxlen) array of ``dtype``, (n,) int64 lengths, each
        `max(min(len, maxlen), min_length)`).

    >>> pad_with_lengths([[5, 6, 7], []], maxlen=2, padding="post")
    (array([[6, 7],
           [0, 0]]), array([2, 0]))
    """
    x = pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating, dtype=dtype)
    lengths = np.fromiter(
        (min(len(s), maxlen) for s in sequences), dtype=np.int64, count=len(sequences)
    )
    return x, np.maximum(lengths, min_length)


def padded_lengths(x: np.ndarray, padding: str) -> np.ndarray:
    """Lengths of the rows of an already padded (n, T) array: the span outside the zero padding.

    An all-zero row counts as length 1.

    >>> padded_lengths(np.array([[0, 3, 4], [0, 0, 0]]), "pre").tolist()
    [2, 1]
    """
    nonzero = x != 0
    t = x.shape[1]
    if padding == "post":
        last = t - np.argmax(nonzero[:, ::-1], axis=1)
        lengths = np.where(nonzero.any(axis=1), last, 1)
    else:
        first = np.argmax(nonzero, axis=1)
        lengths = np.where(nonzero.any(axis=1), t - first, 1)
    return lengths.astype(np.int64)


def to_categorical(y: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer labels, as `keras.utils.to_categorical` does.

    Args:
        y: integer labels of any shape; a trailing axis of size 1 is dropped.
        num_classes: number of columns. Default `max(y) + 1`, which depends on
            the labels present: pass it explicitly whenever a split may miss
            classes (the seed Reuters test split has 43 of 46).

    Returns:
        float64 array of shape `y.shape + (num_classes,)`.

    >>> to_categorical([0, 2], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    check_int("num_classes", num_classes, minimum=1, allow_none=True)
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:  # ragged lists, mixed types
        raise DataError(
            f"`y` must be an array of integer class labels ({str(exc).splitlines()[0]})"
        ) from None
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise DataError(f"`y` holds label {int(arr.max())}, too large for a class index")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise DataError("`y` must hold integer class labels, got non-integer floats")
    elif arr.dtype.kind not in "iub":
        raise InvalidTypeError(f"`y` must hold integer class labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    shape = arr.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = arr.reshape(-1)
    if flat.size and flat.min() < 0:
        raise DataError(f"`y` must hold labels >= 0, got {int(flat.min())}")
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    elif flat.size and flat.max() >= num_classes:
        raise DataError(
            f"`y` holds label {int(flat.max())}, which does not fit "
            f"`num_classes`={num_classes}; labels must be in [0, {num_classes - 1}]"
        )
    try:
        out = np.zeros((flat.size, num_classes))
    except (MemoryError, ValueError):
        raise InvalidValueError(
            f"{flat.size} labels x {num_classes} classes is too large a one-hot array; "
            "check `num_classes` and the labels"
        ) from None
    out[np.arange(flat.size), flat] = 1.0
    return out.reshape(shape + (num_classes,))
