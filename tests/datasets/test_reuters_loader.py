"""rnnlab.datasets.reuters: pinned counts and samples, argument errors, decode."""

import numpy as np
import pytest

from rnnlab import pad_sequences, to_categorical
from rnnlab.datasets import reuters
from rnnlab.errors import DataError


@pytest.fixture(scope="module")
def seed_split():
    """The tutorial's call."""
    return reuters.load_data(num_words=30000, maxlen=50, test_split=0.3)


def test_seed_split_counts_classes_and_padding(seed_split):
    (x_train, y_train), (x_test, y_test) = seed_split
    assert (len(x_train), len(x_test)) == (1395, 599)
    assert len(set(y_train.tolist())) == 31 and len(set(y_test.tolist())) == 24
    assert len(set(y_train.tolist()) | set(y_test.tolist())) == 35  # of 46 topics
    assert to_categorical(y_train).shape == (1395, 46)
    assert to_categorical(y_test).shape == (599, 43)
    assert pad_sequences(x_train, padding="post").shape == (1395, 49)
    assert max(map(len, x_train)) == 49 and max(map(len, x_test)) <= 49
    assert all(x[0] == 1 for x in x_train)


def test_default_split_and_the_book_sample():
    (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=10000)
    assert (len(x_train), len(x_test)) == (8982, 2246)
    assert x_train[10][:12] == [1, 245, 273, 207, 156, 53, 74, 160, 26, 14, 46, 296]
    assert y_train[10] == 3
    assert max(max(x) for x in x_train) == 9999
    assert set(y_train.tolist()) == set(range(46)) == set(y_test.tolist())


def test_dtypes_are_keras_dtypes(seed_split):
    (x_train, y_train), (x_test, y_test) = seed_split
    assert x_train.dtype == object and x_train.ndim == 1 and type(x_train[0]) is list
    assert type(x_train[0][0]) is int
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64


def test_all_wires_and_labels_without_filters():
    (x_train, y_train), (x_test, y_test) = reuters.load_data(test_split=0.5)
    assert len(x_train) + len(x_test) == reuters.NUM_WIRES == 11228
    assert len(x_train) == 5614
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=46)
    assert counts[3] == 3972 and counts[4] == 2423 and counts.sum() == 11228
    # num_words=None keeps every id below the largest, as Keras does (30979 + 3 -> oov).
    assert max(max(x) for x in x_train) <= 30981


def test_skip_top_turns_start_char_into_oov():
    (x_train, _), _ = reuters.load_data(num_words=1000, skip_top=5)
    assert all(x[0] == 2 for x in x_train)
    assert min(min(x) for x in x_train) == 2
    assert max(max(x) for x in x_train) == 999


def test_oov_none_drops_words():
    (a, _), _ = reuters.load_data(num_words=100)
    (b, _), _ = reuters.load_data(num_words=100, oov_char=None)
    assert [w for w in a[0] if w != 2] == b[0]


def test_maxlen_too_small_is_a_clear_error():
    with pytest.raises(DataError, match=r"train split is empty.*maxlen=2.*Raise maxlen"):
        reuters.load_data(maxlen=2)
    # One wire has 1 word (length 2 with the start id): kept, but 0.8 of 1 wire is 0.
    with pytest.raises(DataError, match=r"train split is empty.*only 1 wire is shorter"):
        reuters.load_data(maxlen=3)
    (x_train, _), (x_test, _) = reuters.load_data(maxlen=14)
    assert (len(x_train), len(x_test)) == (3, 1)
    with pytest.raises(DataError, match="train split is empty.*test_split=0.9"):
        reuters.load_data(maxlen=14, test_split=0.9)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        ({"num_words": 3}, ValueError, r"`num_words` must be greater than index_from \+ 1 = 4"),
        ({"num_words": 4}, ValueError, "every word would become oov_char"),
        ({"num_words": 1, "index_from": 0, "start_char": None}, ValueError, "greater than"),
        ({"num_words": 100, "skip_top": 100}, ValueError, "`skip_top` must be less than"),
        ({"num_words": "10000"}, TypeError, "`num_words` must be"),
        ({"num_words": 10000.0}, TypeError, "`num_words` must be"),
        ({"maxlen": 0}, ValueError, "`maxlen` must be a positive integer, got 0"),
        ({"maxlen": True}, TypeError, "`maxlen`"),
        ({"test_split": 0}, ValueError, r"`test_split` must be in \(0, 1\), got 0"),
        ({"test_split": 1.0}, ValueError, "`test_split`"),
        ({"test_split": "0.2"}, TypeError, "`test_split` must be a number"),
        ({"skip_top": -1}, ValueError, "`skip_top`"),
        ({"seed": -1}, ValueError, "`seed`"),
        ({"seed": 2**32}, ValueError, r"`seed` must be an integer in \[0, 2\*\*32\)"),
        ({"start_char": 1.5}, TypeError, "`start_char`"),
        ({"oov_char": "x"}, TypeError, "`oov_char`"),
        ({"index_from": None}, TypeError, "`index_from`"),
        ({"path": 7}, TypeError, "`path` must be a file name or path"),
    ],
)
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        reuters.load_data(**kwargs)


def test_numpy_integers_are_accepted():
    (x, _), _ = reuters.load_data(num_words=np.int64(50), maxlen=np.int32(20))
    assert len(x) and max(max(s) for s in x) < 50


def test_label_names_and_word_index():
    names = reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[19] == "money-fx"
    index = reuters.get_word_index()
    assert len(index) == 30979 and index["the"] == 1 and sorted(index.values())[-1] == 30979
    index["the"] = 5  # a copy: the cache is not touched
    assert reuters.get_word_index()["the"] == 1


def test_decode_gives_real_words():
    (x_train, _), _ = reuters.load_data(num_words=10000)
    text = reuters.decode(x_train[0])
    words = text.split()
    assert words[:3] == ["<start>", "<oov>", "<oov>"]
    assert " ".join(words[3:9]) == "said as a result of its"
    assert words[-1] == "3" and len(words) == len(x_train[0])
    padded = pad_sequences(x_train[:1], maxlen=len(x_train[0]) + 2)
    assert reuters.decode(padded[0]).startswith("<pad> <pad> <start> <oov>")


def test_decode_other_offsets_and_unknown_ids():
    (x, _), _ = reuters.load_data(start_char=None, index_from=0, oov_char=None)
    plain = reuters.decode(x[0], index_from=0, start_char=None, oov_char=None)
    (y, _), _ = reuters.load_data()
    assert reuters.decode(y[0]) == "<start> " + plain
    assert reuters.decode([1, 3, 10**9], sep="|") == "<start>|<unk:3>|<unk:1000000000>"
    with pytest.raises(TypeError, match="`ids item` must be an integer"):
        reuters.decode([1, "the"])
    with pytest.raises(TypeError, match="`ids` must be"):
        reuters.decode("the cat")
