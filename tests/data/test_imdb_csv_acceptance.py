"""Acceptance: raw IMDB reviews -> rnnlab tokenizer + Keras word index == the rows of imdb.npz.

imdb.npz was rebuilt from the raw aclImdb reviews (see SOURCES.md): Keras
filters, A-Z-only lowering, split on spaces, raw word ranks, unknown words
dropped; rows within a split are the pos files in lexicographic file-name
order, then the neg files likewise; pos = 1, neg = 0. Reproducing all 50,000
rows exactly, from imdb_reviews.csv, pins the tokenizer, the vocabulary and
the CSV reader together. The data must be present: a missing file fails.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data.text import read_csv
from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.datasets.npz import load_npz


@pytest.fixture(scope="module")
def data_dir():
    assert os.environ.get("RNNLAB_DATA"), "RNNLAB_DATA is not set (tests/conftest.py sets it)"
    path = Path(os.environ["RNNLAB_DATA"])
    for name in ("imdb_reviews.csv", "imdb_word_index.json", "imdb.npz"):
        assert (path / name).is_file(), f"{path / name} is missing"
    return path


@pytest.fixture(scope="module")
def reviews(data_dir):
    return read_csv(
        data_dir / "imdb_reviews.csv",
        "review",
        "sentiment",
        id_column="id",
        extra_columns=["split", "rating"],
    )


@pytest.fixture(scope="module")
def keras_arrays(data_dir):
    return load_npz(data_dir / "imdb.npz")


def keras_row_order(ds, split):
    """Row indices of `split` in imdb.npz order: pos files by name, then neg files by name."""
    rows = [i for i, s in enumerate(ds.extra["split"]) if s == split]
    return sorted(
        rows, key=lambda i: (ds.labels[i] != "positive", f"{ds.ids[i]}_{ds.extra['rating'][i]}.txt")
    )


def test_file_name_order_is_lexicographic():
    names = sorted(["1000_9.txt", "10000_8.txt", "2_7.txt", "100_10.txt"])
    assert names == ["10000_8.txt", "1000_9.txt", "100_10.txt", "2_7.txt"]


def test_csv_shape(reviews):
    assert len(reviews) == 50_000 and reviews.label_names == ["negative", "positive"]
    assert reviews.class_counts() == {"negative": 25_000, "positive": 25_000}


def test_encoding_reproduces_imdb_npz_exactly(reviews, keras_arrays, data_dir):
    vocab = Vocabulary.from_word_index(
        data_dir / "imdb_word_index.json",
        tokenizer=Tokenizer(lower="ascii"),
        index_from=0,
        start_id=None,
        oov_id=None,
    )
    encoded = vocab.encode(reviews.texts)
    for split in ("train", "test"):
        rows = keras_row_order(reviews, split)
        x, y = keras_arrays[f"x_{split}"], keras_arrays[f"y_{split}"]
        assert len(rows) == len(x) == len(y) == 25_000
        mismatched = [j for j, i in enumerate(rows) if encoded[i] != x[j]]
        assert not mismatched, (
            f"{len(mismatched)} {split} rows differ, first npz row {mismatched[0]} "
            f"(review id {reviews.ids[rows[mismatched[0]]]})"
        )
        labels = np.array([reviews.labels[i] == "positive" for i in rows], dtype=np.int64)
        np.testing.assert_array_equal(labels, y)
        assert y[:12_500].min() == 1 and y[12_500:].max() == 0

    # The A-Z-only lowering matters: Unicode lowering changes 22 reviews.
    unicode_lower = Vocabulary(
        vocab.words, tokenizer=Tokenizer(lower=True), index_from=0, start_id=None, oov_id=None
    )
    non_ascii = [i for i, t in enumerate(reviews.texts) if not t.isascii()]
    changed = unicode_lower.encode([reviews.texts[i] for i in non_ascii])
    assert sum(a != encoded[i] for a, i in zip(changed, non_ascii)) == 22
