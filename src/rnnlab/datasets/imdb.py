"""The IMDB sentiment data set, a drop-in for `keras.datasets.imdb` (Keras 3.15).

`load_data` returns what Keras returns, array for array, quirks included:
`maxlen` drops (not truncates) every review with `len >= maxlen`, counting
the start id; train and then test are shuffled by one `RandomState(seed)`
stream; ids outside `[skip_top, num_words)` become `oov_char` (so with
`skip_top > start_char` the start id becomes `oov_char` too), and with
`num_words=None` the largest id present is itself replaced (Keras keeps ids
`< max`). Unlike Keras, arguments are validated, an unknown keyword is an
error, and a split left empty by `maxlen` names itself and the fix.

The work is done on one flat array of ids rather than per token in Python,
giving identical lists faster than Keras; the parsed file is kept for the
process, so later calls skip the unpickling (about 3x faster than Keras).

The file read is `imdb.npz` from `rnnlab.datasets.files.data_dirs()`, verified
by SHA-256 first. Two versions are accepted (see `rnnlab.datasets.files`): the
Keras original and a rebuild from the raw reviews that matches its content
but not its bytes; `rnnlab.datasets.files.file_provenance("imdb.npz")` says
which one was read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from rnnlab.datasets import files, keras_ids
from rnnlab.datasets.npz import load_npz
from rnnlab.errors import DataFileError, InvalidTypeError, suggest

NUM_TRAIN = NUM_TEST = 25_000
LABEL_NAMES = ("negative", "positive")


# One parsed copy per data file, keyed by the file's verified identity: repeated
# load_data calls skip the unpickling (the ids take ~50 MB as int32).
_parsed: dict[str, tuple[tuple[Any, ...], Any]] = {}
_lock = threading.Lock()


def _load_raw(path: Any) -> tuple[np.ndarray, ...]:
    """(flat_train, len_train, y_train, flat_test, len_test, y_test), verified and cached."""
    found, known = files.get_file("imdb.npz", path)
    st = found.stat()
    key = (str(found.resolve()), st.st_size, st.st_mtime_ns, known.sha256)
    with _lock:
        hit = _parsed.get("imdb.npz")
    if hit is not None and hit[0] == key:
        return hit[1]
    arrays = load_npz(found)
    need = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in need if k not in arrays]
    if missing:
        raise DataFileError(f"{found} lacks the arrays {missing}; it is not an imdb.npz file")
    raw = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(x):
            raise DataFileError(f"{found}: y_{split} must be integer labels, one per review")
        flat, lengths = keras_ids.flatten(x, f"{found}:x_{split}")
        raw += [
            flat.astype(np.int32) if flat.size and flat.max() < 2**31 else flat,
            lengths,
            y.astype(np.int64),
        ]
    data = tuple(raw)
    with _lock:
        _parsed["imdb.npz"] = (key, data)
    return data


def load_data(
    path: str | os.PathLike = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int | None = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    **kwargs: Any,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the IMDB reviews exactly as `keras.datasets.imdb.load_data` does.

    Args:
        path: file name looked up in the data directories (Keras's meaning), or
            a path with a directory part to a copy of imdb.npz; verified either way.
        num_words: keep ids below this; others become `oov_char`. None keeps
            all but the largest id present (as Keras does).
        skip_top: ids below this become `oov_char` too (including `start_char`
            when it is smaller).
        maxlen: drop every review with `len >= maxlen` (counting `start_char`).
        seed: seed of the one `RandomState` that shuffles train, then test.
        start_char: id put first in every review; None for none.
        oov_char: id for words cut by `num_words` / `skip_top`; None drops them.
        index_from: offset added to every raw rank (rank 1, "the", becomes 4).
        **kwargs: accepted for Keras's signature; any keyword is an error.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x are (n,) object arrays of
        Python int lists, y are (n,) int64 labels (0 negative, 1 positive).
        Without `maxlen`, n is 25,000 for each split.

    Raises:
        DataError: `maxlen` leaves a split empty.
        DataFileError: the file is missing (offline), unknown or damaged.
    """
    if kwargs:
        names = ", ".join(f"`{k}`" for k in kwargs)
        params = (
            "path",
            "num_words",
            "skip_top",
            "maxlen",
            "seed",
            "start_char",
            "oov_char",
            "index_from",
        )
        hint = suggest(next(iter(kwargs)), params) or (
            " (did you mean `num_words`?)" if "nb_words" in kwargs else ""
        )
        raise InvalidTypeError(f"imdb.load_data got unexpected keyword arguments {names}{hint}")
    keras_ids.check_load_args(
        path=path,
        num_words=num_words,
        skip_top=skip_top,
        maxlen=maxlen,
        seed=seed,
        start_char=start_char,
        oov_char=oov_char,
        index_from=index_from,
    )
    flat_tr, len_tr, y_tr, flat_te, len_te, y_te = _load_raw(path)

    # One stream: the test permutation continues where the train one stopped.
    rng = np.random.RandomState(seed)
    order_tr = np.arange(len(len_tr))
    rng.shuffle(order_tr)
    order_te = np.arange(len(len_te))
    rng.shuffle(order_te)
    flat_tr, len_tr = keras_ids.take(flat_tr, len_tr, order_tr)
    flat_te, len_te = keras_ids.take(flat_te, len_te, order_te)
    y_tr, y_te = y_tr[order_tr], y_te[order_te]

    # Encode both splits together: with num_words=None Keras takes the max over both.
    n_tr = len(len_tr)
    flat, lengths, kept = keras_ids.encode_ids(
        np.concatenate([flat_tr, flat_te]).astype(np.int64),
        np.concatenate([len_tr, len_te]),
        start_char=start_char,
        index_from=index_from,
        maxlen=maxlen,
        num_words=num_words,
        skip_top=skip_top,
        oov_char=oov_char,
    )
    k_tr = int(kept[:n_tr].sum())
    for split, count in (("train", k_tr), ("test", int(kept[n_tr:].sum()))):
        if count == 0:
            raise keras_ids.empty_split_error(split, maxlen)
    x = keras_ids.to_objects(flat, lengths)
    y = np.concatenate([y_tr, y_te])[kept]
    return (x[:k_tr], y[:k_tr]), (x[k_tr:], y[k_tr:])


def get_word_index(path: str | os.PathLike = "imdb_word_index.json") -> dict[str, int]:
    """Return the word -> raw frequency rank dict (1 is "the"), as Keras does.

    Ids in `load_data` output are `rank + index_from`. The dict is a fresh copy.
    """
    return dict(keras_ids.load_word_index("imdb_word_index.json", path)[0])


def get_label_names() -> tuple[str, str]:
    """Return ("negative", "positive"): the names of labels 0 and 1."""
    return LABEL_NAMES


def decode(
    ids: Iterable[int],
    index_from: int = 3,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    *,
    path: str | os.PathLike = "imdb_word_index.json",
    sep: str = " ",
) -> str:
    """Turn ids from `load_data` back into words.

    Pass the `index_from`, `start_char` and `oov_char` used for `load_data`.
    Reserved ids read "<start>", "<oov>" and "<pad>" (0, from padding); an id
    with no word reads "<unk:ID>". Where a reserved id collides with a word id
    (index_from=0), the reserved name is shown.

    Args:
        ids: one sequence of int ids (a list, or a 1-D array / tensor).
        path: the word-index file, as for `get_word_index`.
        sep: put between the words.

    Returns:
        The words joined by `sep`.
    """
    reverse = keras_ids.load_word_index("imdb_word_index.json", path)[1]
    return keras_ids.decode_ids(
        ids, reverse, index_from=index_from, start_char=start_char, oov_char=oov_char, sep=sep
    )
