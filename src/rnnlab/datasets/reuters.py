"""The Reuters newswire topics data set, a drop-in for `keras.datasets.reuters` (Keras 3.15).

11,228 wires labelled with 46 topics. `load_data` returns what Keras returns,
quirks included: one shuffle of all wires by `RandomState(seed)`, then
`maxlen` *drops* every wire with `len >= maxlen` (counting the start id),
then the split at `int(n * (1 - test_split))` of the wires left, so a split
may lack some topics: on the tutorial call (`num_words=30000, maxlen=50,
test_split=0.3`) the 1,395 training wires hold 31 topics and the 599 test
wires 24, the largest being 42, so `to_categorical` on the test labels alone
infers 43 columns. Always one-hot with `num_classes=len(get_label_names())`.

The file read is `reuters.npz` from `rnnlab.datasets.files.data_dirs()`,
accepted only when its SHA-256 is the one Keras publishes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from rnnlab.datasets import files, keras_ids
from rnnlab.datasets.npz import load_npz
from rnnlab.errors import DataFileError, check_fraction

NUM_WIRES = 11_228

# Keras 3 `keras.datasets.reuters.get_label_names()`: label i is LABEL_NAMES[i].
LABEL_NAMES = (
    "cocoa",
    "grain",
    "veg-oil",
    "earn",
    "acq",
    "wheat",
    "copper",
    "housing",
    "money-supply",
    "coffee",
    "sugar",
    "trade",
    "reserves",
    "ship",
    "cotton",
    "carcass",
    "crude",
    "nat-gas",
    "cpi",
    "money-fx",
    "interest",
    "gnp",
    "meal-feed",
    "alum",
    "oilseed",
    "gold",
    "tin",
    "strategic-metal",
    "livestock",
    "retail",
    "ipi",
    "iron-steel",
    "rubber",
    "heat",
    "jobs",
    "lei",
    "bop",
    "zinc",
    "orange",
    "pet-chem",
    "dlr",
    "gas",
    "silver",
    "wpi",
    "hog",
    "lead",
)

_parsed: dict[str, tuple[tuple[Any, ...], Any]] = {}
_lock = threading.Lock()


def _load_raw(path: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat raw ranks, lengths, labels) of the verified file, parsed once per file."""
    found, known = files.get_file("reuters.npz", path)
    st = found.stat()
    key = (str(found.resolve()), st.st_size, st.st_mtime_ns, known.sha256)
    with _lock:
        hit = _parsed.get("reuters.npz")
    if hit is not None and hit[0] == key:
        return hit[1]
    arrays = load_npz(found)
    if "x" not in arrays or "y" not in arrays:
        raise DataFileError(f"{found} lacks the arrays 'x' and 'y'; it is not a reuters.npz file")
    x, y = arrays["x"], arrays["y"]
    if y.ndim != 1 or y.dtype.kind not in "iu" or len(y) != len(x):
        raise DataFileError(f"{found}: y must be integer labels, one per wire")
    flat, lengths = keras_ids.flatten(x, f"{found}:x")
    data = (flat, lengths, y.astype(np.int64))
    with _lock:
        _parsed["reuters.npz"] = (key, data)
    return data


def load_data(
    path: str | os.PathLike = "reuters.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int | None = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the Reuters wires exactly as `keras.datasets.reuters.load_data` does.

    Args:
        path: file name looked up in the data directories (Keras's meaning), or
            a path with a directory part to a copy of reuters.npz; verified either way.
        num_words: keep ids below this; others become `oov_char`. None keeps
            all but the largest id present (as Keras does).
        skip_top: ids below this become `oov_char` too (including `start_char`
            when it is smaller).
        maxlen: drop every wire with `len >= maxlen` (counting `start_char`),
            before the split.
        test_split: fraction in (0, 1) of the (kept) wires that form the test split.
        seed: seed of the shuffle of all wires.
        start_char: id put first in every wire; None for none.
        oov_char: id for words cut by `num_words` / `skip_top`; None drops them.
        index_from: offset added to every raw rank (rank 1, "the", becomes 4).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x are (n,) object arrays of
        Python int lists, y are (n,) int64 topic ids in [0, 46). By default
        8,982 train and 2,246 test wires.

    Raises:
        DataError: `maxlen` leaves a split empty.
        DataFileError: the file is missing (offline), unknown or damaged.

    The tutorial's call `load_data(num_words=30000, maxlen=50, test_split=0.3)`
    gives 1,395 train and 599 test wires.
    """
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
    test_split = check_fraction("test_split", test_split, low_open=True, high_open=True)
    flat, lengths, y = _load_raw(path)

    rng = np.random.RandomState(seed)
    order = np.arange(len(lengths))
    rng.shuffle(order)
    flat, lengths = keras_ids.take(flat, lengths, order)
    flat, lengths, kept = keras_ids.encode_ids(
        flat,
        lengths,
        start_char=start_char,
        index_from=index_from,
        maxlen=maxlen,
        num_words=num_words,
        skip_top=skip_top,
        oov_char=oov_char,
    )
    y = y[order][kept]
    cut = int(len(lengths) * (1 - test_split))
    for split, count in (("train", cut), ("test", len(lengths) - cut)):
        if count == 0:
            if len(lengths) == 0:
                raise keras_ids.empty_split_error(split, maxlen)
            raise keras_ids.empty_split_error(
                split,
                maxlen,
                f" (only {len(lengths)} wire{'s are' if len(lengths) > 1 else ' is'} shorter "
                f"than maxlen, and test_split="
                f"{test_split} leaves none for {split}) or change test_split",
            )
    x = keras_ids.to_objects(flat, lengths)
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def get_word_index(path: str | os.PathLike = "reuters_word_index.json") -> dict[str, int]:
    """Return the word -> raw frequency rank dict (1 is "the"), as Keras does.

    Ids in `load_data` output are `rank + index_from`. The dict is a fresh copy.
    """
    return dict(keras_ids.load_word_index("reuters_word_index.json", path)[0])


def get_label_names() -> tuple[str, ...]:
    """Return the 46 topic names; label i is `get_label_names()[i]` (as Keras 3).

    >>> names = get_label_names()
    >>> len(names), names[3], names[4]
    (46, 'earn', 'acq')
    """
    return LABEL_NAMES


def decode(
    ids: Iterable[int],
    index_from: int = 3,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    *,
    path: str | os.PathLike = "reuters_word_index.json",
    sep: str = " ",
) -> str:
    """Turn ids from `load_data` back into words.

    Pass the `index_from`, `start_char` and `oov_char` used for `load_data`.
    Reserved ids read "<start>", "<oov>" and "<pad>" (0, from padding); an id
    with no word reads "<unk:ID>".

    Args:
        ids: one sequence of int ids (a list, or a 1-D array / tensor).
        path: the word-index file, as for `get_word_index`.
        sep: put between the words.

    Returns:
        The words joined by `sep`.
    """
    reverse = keras_ids.load_word_index("reuters_word_index.json", path)[1]
    return keras_ids.decode_ids(
        ids, reverse, index_from=index_from, start_char=start_char, oov_char=oov_char, sep=sep
    )
