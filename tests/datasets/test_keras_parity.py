"""rnnlab.datasets equals keras.datasets (Keras 3, torch backend) array for array.

Keras is pointed at the very files rnnlab reads (its `get_file` is replaced by
one returning that path), because its own download check expects the original
imdb.npz hash and the machine is offline. Everything after the file, Keras
computes itself.
"""

# keras is a test dependency: a missing keras fails here, it never skips.
import keras.src.datasets.imdb as keras_imdb
import keras.src.datasets.reuters as keras_reuters
import numpy as np
import pytest

from rnnlab.datasets import files, imdb, reuters


@pytest.fixture
def keras_reads_our_files(monkeypatch):
    paths = {
        "imdb.npz": files.get_file("imdb.npz")[0],
        "reuters.npz": files.get_file("reuters.npz")[0],
    }

    def fake_get_file(fname=None, origin=None, **kwargs):
        return str(paths[origin.rsplit("/", 1)[1]])

    monkeypatch.setattr(keras_imdb, "get_file", fake_get_file)
    monkeypatch.setattr(keras_reuters, "get_file", fake_get_file)


def assert_same(ours, theirs):
    (xa, ya), (xa_test, ya_test) = ours
    (xb, yb), (xb_test, yb_test) = theirs
    for a, b in ((xa, xb), (xa_test, xb_test)):
        assert a.dtype == b.dtype == object and a.shape == b.shape
        assert a.tolist() == b.tolist()
        assert type(a[0]) is type(b[0]) is list
    for a, b in ((ya, yb), (ya_test, yb_test)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


REUTERS_CASES = [
    {},
    {"num_words": 10000},
    {"num_words": 30000, "maxlen": 50, "test_split": 0.3},
    {"num_words": 5000, "skip_top": 20},
    {"num_words": 2000, "skip_top": 5, "oov_char": None, "maxlen": 200},
    {"start_char": None, "index_from": 0},
    {"start_char": None, "num_words": 1000},
    {"seed": 7, "test_split": 0.5, "oov_char": 5, "index_from": 10},
]


@pytest.mark.parametrize("kwargs", REUTERS_CASES, ids=lambda k: ",".join(k) or "defaults")
def test_reuters_equals_keras(keras_reads_our_files, kwargs):
    assert_same(reuters.load_data(**kwargs), keras_reuters.load_data(**kwargs))


IMDB_CASES = [
    {"num_words": 10000},
    {"num_words": 5000, "skip_top": 10, "maxlen": 150, "oov_char": None, "seed": 1},
    {"start_char": None, "index_from": 0, "maxlen": 400},
]


@pytest.mark.parametrize("kwargs", IMDB_CASES, ids=lambda k: ",".join(k))
def test_imdb_equals_keras(keras_reads_our_files, kwargs):
    assert_same(imdb.load_data(**kwargs), keras_imdb.load_data(**kwargs))


def test_label_names_equal_keras():
    assert reuters.get_label_names() == tuple(keras_reuters.get_label_names())
