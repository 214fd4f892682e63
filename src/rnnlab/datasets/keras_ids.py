"""The id pipeline shared by the Keras loaders (`imdb`, `reuters`).

Sequences are kept as one flat id array plus per-sequence lengths, so the Keras
transformations (start char, index_from, num_words / skip_top to oov, maxlen
filtering) run vectorised instead of per token in Python. Word-index files are
parsed once per process, keyed by their verified identity.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from itertools import chain
from typing import Any

import numpy as np

from rnnlab.datasets import files
from rnnlab.errors import (
    DataError,
    DataFileError,
    InvalidTypeError,
    InvalidValueError,
    check_int,
    check_type,
)

PAD, START, OOV = "<pad>", "<start>", "<oov>"

_word_index: dict[str, tuple[tuple[Any, ...], dict[str, int], dict[int, str]]] = {}
_lock = threading.Lock()


# ----------------------------------------------------------------------------
# Ragged id arrays: (flat ids, per-sequence lengths), shared with reuters.py.
# ----------------------------------------------------------------------------


def flatten(x: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Object array of int lists -> (flat int64 ids, int64 lengths), checking the items."""
    if x.ndim != 1 or not all(type(s) is list for s in x):
        raise DataFileError(f"{source} must be a 1-D array of lists of word ids")
    lengths = np.fromiter(map(len, x), dtype=np.int64, count=len(x))
    flat = np.array(list(chain.from_iterable(x)))
    if flat.size == 0:
        flat = flat.astype(np.int64)
    if flat.dtype.kind not in "iu" or (flat.size and flat.min() < 0):
        raise DataFileError(f"{source} must hold non-negative integer word ids")
    return flat.astype(np.int64, copy=False), lengths


def starts(lengths: np.ndarray) -> np.ndarray:
    return np.cumsum(lengths, dtype=np.int64) - lengths


def take(flat: np.ndarray, lengths: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Select sequences `rows` (indices, in that order) of a ragged array."""
    rows = np.asarray(rows, dtype=np.int64)
    new_lengths = lengths[rows]
    total = int(new_lengths.sum())
    # Position j of output row r reads flat[start[r] + j].
    shift = np.repeat(starts(lengths)[rows] - starts(new_lengths), new_lengths)
    return flat[np.arange(total, dtype=np.int64) + shift], new_lengths


def to_objects(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Ragged -> 1-D object array of Python int lists (what Keras returns)."""
    values = flat.tolist()
    out = np.empty(len(lengths), dtype=object)
    pos = 0
    for i, n in enumerate(lengths.tolist()):
        out[i] = values[pos : pos + n]
        pos += n
    return out


def encode_ids(
    flat: np.ndarray,
    lengths: np.ndarray,
    *,
    start_char: int | None,
    index_from: int,
    maxlen: int | None,
    num_words: int | None,
    skip_top: int,
    oov_char: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keras's per-token transforms on raw ranks, vectorised.

    Args:
        flat: (total,) int64 raw word ranks of all sequences, concatenated.
        lengths: (n,) int64 sequence lengths.

    Returns:
        (flat ids, lengths, kept): the encoded kept sequences and the (n,) bool
        mask of sequences that survived `maxlen`.
    """
    flat = flat + index_from
    if start_char is not None:
        new_lengths = lengths + 1
        first = starts(new_lengths)
        out = np.empty(len(flat) + len(lengths), dtype=np.int64)
        is_start = np.zeros(len(out), dtype=bool)
        is_start[first] = True
        out[first] = start_char
        out[~is_start] = flat
        flat, lengths = out, new_lengths
    kept = np.ones(len(lengths), dtype=bool)
    if maxlen:
        kept = lengths < maxlen
        flat, lengths = take(flat, lengths, np.flatnonzero(kept))
    if not num_words:
        # Keras: the largest id present, and the comparison below is strict.
        num_words = int(flat.max()) if flat.size else 0
    inside = (flat >= skip_top) & (flat < num_words)
    if oov_char is not None:
        flat = np.where(inside, flat, oov_char)
    else:
        kept_so_far = np.concatenate(([0], np.cumsum(inside, dtype=np.int64)))
        bounds = np.concatenate(([0], np.cumsum(lengths)))
        flat, lengths = flat[inside], kept_so_far[bounds[1:]] - kept_so_far[bounds[:-1]]
    return flat, lengths, kept


# ----------------------------------------------------------------------------
# Argument checks shared with reuters.py
# ----------------------------------------------------------------------------


def check_load_args(
    *,
    path: Any,
    num_words: Any,
    skip_top: Any,
    maxlen: Any,
    seed: Any,
    start_char: Any,
    oov_char: Any,
    index_from: Any,
) -> None:
    check_type("path", path, (str, os.PathLike), "a file name or path")
    check_int("num_words", num_words, minimum=1, allow_none=True)
    check_int("skip_top", skip_top, minimum=0)
    check_int("maxlen", maxlen, minimum=1, allow_none=True)
    check_int("seed", seed, minimum=0, allow_none=True)
    if seed is not None and seed >= 2**32:
        raise InvalidValueError(f"`seed` must be an integer in [0, 2**32), got {seed}")
    check_int("start_char", start_char, minimum=0, allow_none=True)
    check_int("oov_char", oov_char, minimum=0, allow_none=True)
    check_int("index_from", index_from, minimum=0)
    first_word = index_from + 1  # ranks in the files start at 1
    if num_words is not None and num_words <= first_word:
        raise InvalidValueError(
            f"`num_words` must be greater than index_from + 1 = {first_word}, got {num_words}: "
            f"word ids start at {first_word} (the most frequent word), so with "
            f"num_words={num_words} every word would become oov_char. Pass num_words=None to "
            "keep every word, or a vocabulary size such as 10000"
        )
    if num_words is not None and skip_top >= num_words:
        raise InvalidValueError(
            f"`skip_top` must be less than `num_words`, got skip_top={skip_top} and "
            f"num_words={num_words}: ids outside [skip_top, num_words) become oov_char, so "
            "every word would. Lower skip_top or raise num_words"
        )


def empty_split_error(split: str, maxlen: int | None, longest_dropped: str = "") -> DataError:
    return DataError(
        f"the {split} split is empty: `maxlen={maxlen}` drops every sequence of length >= "
        f"maxlen (the length counts start_char; Keras drops, it does not truncate). Raise "
        f"maxlen{longest_dropped}, or pass maxlen=None and truncate with "
        "pad_sequences(maxlen=...)"
    )


# ----------------------------------------------------------------------------
# IMDB
# ----------------------------------------------------------------------------


def load_word_index(name: str, path: Any) -> tuple[dict[str, int], dict[int, str]]:
    """(word -> rank, rank -> word) of a verified word-index file, parsed once."""
    check_type("path", path, (str, os.PathLike), "a file name or path")
    found, known = files.get_file(name, path)
    st = found.stat()
    key = (str(found.resolve()), st.st_size, st.st_mtime_ns, known.sha256)
    with _lock:
        hit = _word_index.get(name)
    if hit is not None and hit[0] == key:
        return hit[1], hit[2]
    with open(found, encoding="utf-8") as f:
        index = json.load(f)
    reverse = {rank: word for word, rank in index.items()}
    with _lock:
        _word_index[name] = (key, index, reverse)
    return index, reverse


def decode_ids(
    ids: Iterable[Any],
    reverse: dict[int, str],
    *,
    index_from: int,
    start_char: int | None,
    oov_char: int | None,
    sep: str,
) -> str:
    check_int("index_from", index_from, minimum=0)
    check_int("start_char", start_char, minimum=0, allow_none=True)
    check_int("oov_char", oov_char, minimum=0, allow_none=True)
    if isinstance(ids, (str, bytes)):
        raise InvalidTypeError(f"`ids` must be a sequence of integer ids, got {type(ids).__name__}")
    # .tolist() turns numpy / torch ids into Python ints in one call.
    values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    words = []
    for i in values:
        i = check_int("ids item", i)
        # Reserved ids win: that is what load_data wrote there.
        if i == start_char:
            words.append(START)
        elif i == oov_char:
            words.append(OOV)
        elif i == 0:
            words.append(PAD)
        else:
            words.append(reverse.get(i - index_from, f"<unk:{i}>"))
    return sep.join(words)
