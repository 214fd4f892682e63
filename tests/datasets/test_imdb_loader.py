"""rnnlab.datasets.imdb: pinned counts and samples, argument errors, decode."""

import numpy as np
import pytest

from rnnlab.datasets import imdb
from rnnlab.errors import DataError


@pytest.fixture(scope="module")
def top10k():
    return imdb.load_data(num_words=10000)


def test_published_samples(top10k):
    (x_train, y_train), (x_test, y_test) = top10k
    assert (len(x_train), len(x_test)) == (25000, 25000)
    assert x_train[0][:10] == [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65]
    assert (len(x_train[0]), y_train[0]) == (218, 1)
    assert (len(x_train[1]), y_train[1]) == (189, 0)
    assert (len(x_test[0]), y_test[0]) == (68, 0)
    assert y_train.sum() == 12500 and y_test.sum() == 12500
    assert max(max(x) for x in x_train) == 9999
    assert x_train.dtype == object and type(x_train[0]) is list and type(x_train[0][0]) is int
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64


def test_all_words_and_published_statistics():
    (x_train, _), (x_test, _) = imdb.load_data()
    lengths = np.array([len(x) for x in list(x_train) + list(x_test)])
    assert max(max(x) for x in list(x_train) + list(x_test)) == 88586
    assert lengths.max() == 2494 and lengths.min() == 7
    assert abs(lengths.mean() - 234.75892) < 1e-9


def test_maxlen_drops_and_counts_the_start_char():
    (x_train, y_train), (x_test, _) = imdb.load_data(num_words=1000, maxlen=100)
    assert max(map(len, x_train)) == 99 and max(map(len, x_test)) == 99
    assert len(x_train) == len(y_train) < 25000
    (a, _), _ = imdb.load_data(num_words=1000)
    assert x_train[0] == next(x for x in a if len(x) < 100)


def test_maxlen_too_small_names_the_split_and_fix():
    with pytest.raises(DataError, match=r"train split is empty.*maxlen=8.*Raise maxlen"):
        imdb.load_data(maxlen=8)


def test_unknown_keyword_is_an_error():
    with pytest.raises(TypeError, match=r"`nb_words`.*did you mean `num_words`"):
        imdb.load_data(nb_words=100)
    with pytest.raises(TypeError, match=r"`max_len`.*did you mean `maxlen`"):
        imdb.load_data(max_len=100)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        ({"num_words": 4}, ValueError, "every word would become oov_char"),
        ({"num_words": 0}, ValueError, "`num_words` must be a positive integer"),
        ({"skip_top": 20000, "num_words": 10000}, ValueError, "`skip_top` must be less"),
        ({"maxlen": -5}, ValueError, "`maxlen`"),
        ({"seed": 1.0}, TypeError, "`seed`"),
        ({"path": None}, TypeError, "`path`"),
    ],
)
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        imdb.load_data(**kwargs)


def test_seed_changes_order_not_content(top10k):
    (a, ya), _ = top10k
    (b, yb), _ = imdb.load_data(num_words=10000, seed=1)
    assert a[0] != b[0]
    assert sorted(map(tuple, a)) == sorted(map(tuple, b)) and ya.sum() == yb.sum()


def test_word_index_and_decode(top10k):
    index = imdb.get_word_index()
    assert len(index) == 88584 and index["the"] == 1 and index["and"] == 2
    (_, _), (x_test, _) = top10k
    text = imdb.decode(x_test[0])
    assert text.startswith("<start> please give this one a miss br br")
    assert len(text.split()) == 68
    assert imdb.decode(np.array([1, 2, 0, 4])) == "<start> <oov> <pad> the"
    assert imdb.get_label_names() == ("negative", "positive")
