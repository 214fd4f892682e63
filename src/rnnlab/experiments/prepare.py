"""From a `DataConfig` to padded arrays: the data half of every experiment.

Keras sources (`imdb`, `reuters`) go through the Keras-exact loaders; raw text
(`csv`, `folder`, `imdb_csv`) goes through the tokenizer and a vocabulary fitted
on the training split only. Either way the result is the same `PreparedData`.

Validation differs on purpose: the Keras arrays keep Keras's `validation_split` (the
last fraction of the training arrays, which the engine takes), while own data is held
out by `validation_rows`, a stratified split seeded by `data.seed`, so a file sorted
by label cannot give a validation set of one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.sequence import pad_with_lengths
from rnnlab.data.text import TextDataset, check_trainable, read_csv, read_folder
from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.datasets import imdb, reuters
from rnnlab.datasets.files import data_dirs
from rnnlab.errors import DataError, DataFileError
from rnnlab.experiments.config import DataConfig
from rnnlab.experiments.splits import stratified_split

# --quick keeps this many examples of each split: enough to exercise every code path.
QUICK_TRAIN, QUICK_TEST = 256, 128
# Sources read as raw text: the user's own data (and the raw IMDB reviews).
OWN_DATA_SOURCES = ("csv", "folder", "imdb_csv")
# The Reuters splits the reports name: (load_maxlen, test_split, seed) -> corpus.
REUTERS_SPLITS = {
    (50, 0.3, 113): "reuters-tutorial-split",
    (None, 0.2, 113): "reuters-default-split",
}


@dataclass
class PreparedData:
    """Padded ids, their lengths and labels, for train and test.

    Attributes:
        x_train, x_test: (n, maxlen) int64 padded ids.
        len_train, len_test: (n,) int64 number of real (unpadded, untruncated) tokens.
        y_train, y_test: (n,) int64 class indices.
        seq_train, seq_test: the unpadded id lists (for the bag-of-words baseline).
        label_names: class k is `label_names[k]`; its length is the class count
            (taken from the data set, never from the labels one split happens to hold).
        vocab_size: ids are in [0, vocab_size).
        vocabulary: the fitted vocabulary for raw-text sources, or the Keras word
            index as a Vocabulary for imdb (so raw text can be predicted), else None.
    """

    x_train: np.ndarray
    len_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    len_test: np.ndarray
    y_test: np.ndarray
    seq_train: list[list[int]]
    seq_test: list[list[int]]
    label_names: list[str]
    vocab_size: int
    vocabulary: Vocabulary | None = None

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def summary(self) -> dict[str, Any]:
        return {
            "train": int(len(self.y_train)),
            "test": int(len(self.y_test)),
            "classes": self.num_classes,
            "classes_in_train": int(len(np.unique(self.y_train))),
            "classes_in_test": int(len(np.unique(self.y_test))),
            "maxlen": int(self.x_train.shape[1]),
            "vocab_size": int(self.vocab_size),
        }


def _finish(
    cfg: DataConfig,
    seq_train,
    y_train,
    seq_test,
    y_test,
    label_names,
    vocab_size,
    vocabulary=None,
    quick=False,
) -> PreparedData:
    seq_train = [list(map(int, s)) for s in seq_train]
    seq_test = [list(map(int, s)) for s in seq_test]
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    if quick:
        seq_train, y_train = seq_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        seq_test, y_test = seq_test[:QUICK_TEST], y_test[:QUICK_TEST]
    maxlen = padded_length(cfg, seq_train, seq_test)
    x_train, len_train = pad_with_lengths(seq_train, maxlen, cfg.padding, cfg.truncating)
    x_test, len_test = pad_with_lengths(seq_test, maxlen, cfg.padding, cfg.truncating)
    return PreparedData(
        x_train,
        len_train,
        y_train,
        x_test,
        len_test,
        y_test,
        seq_train,
        seq_test,
        list(label_names),
        int(vocab_size),
        vocabulary,
    )


def padded_length(cfg: DataConfig, seq_train: list, seq_test: list) -> int:
    """The padded length: ``maxlen``; with ``maxlen_quantile``, that quantile of the training
    lengths (at most ``maxlen`` when both are set); else the longest sequence.

    >>> cfg = DataConfig(maxlen_quantile=0.5, maxlen=3)
    >>> padded_length(cfg, [[1], [1, 2], [1, 2, 3, 4, 5, 6]], []), padded_length(
    ...     DataConfig(maxlen_quantile=0.5), [[1], [1, 2], [1, 2, 3, 4, 5, 6]], [])
    (2, 2)
    """
    if cfg.maxlen_quantile is not None and seq_train:
        lengths = np.fromiter((len(s) for s in seq_train), np.int64, len(seq_train))
        quantile = int(np.ceil(np.quantile(lengths, cfg.maxlen_quantile)))
        return max(1, min(quantile, cfg.maxlen or quantile))
    return cfg.maxlen or max((len(s) for s in seq_train + seq_test), default=1) or 1


def _keras_vocab_size(cfg: DataConfig, seqs: list) -> int:
    if cfg.num_words is not None:
        return cfg.num_words
    return 1 + max((max(s) for s in seqs if len(s)), default=0)


def _find(path: str, default_name: str | None = None) -> Path:
    """``path`` when given (it must exist), else ``default_name`` in the data directories."""
    if path:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataFileError(f"data path {path!r} does not exist; fix `data.path`")
        return p
    for d in data_dirs():
        if (d / default_name).exists():
            return d / default_name
    raise DataFileError(
        f"{default_name} not found in {', '.join(str(d) for d in data_dirs())}; set `data.path` "
        "or point RNNLAB_DATA at the directory holding it"
    )


def _split(ds: TextDataset, fraction: float, seed: int) -> tuple[TextDataset, TextDataset]:
    order = np.random.RandomState(seed).permutation(len(ds))
    n_test = int(round(len(ds) * fraction))
    if n_test == 0 or n_test == len(ds):
        raise DataError(
            f"{ds.source}: {len(ds)} texts cannot be split with `data.test_fraction`={fraction}; "
            "add data or give a separate `data.test_path`"
        )

    return _rows(ds, order[n_test:]), _rows(ds, order[:n_test])


def _rows(ds: TextDataset, rows) -> TextDataset:
    """The labelled dataset restricted to ``rows``, keeping every class name."""
    return TextDataset(
        [ds.texts[i] for i in rows],
        [ds.labels[i] for i in rows],
        [ds.ids[i] for i in rows],
        ds.label_names,
        ds.source,
    )


def read_text_splits(cfg: DataConfig) -> tuple[TextDataset, TextDataset]:
    """The raw train and test texts of a `csv`, `folder` or `imdb_csv` source."""
    if cfg.source == "imdb_csv":
        path = _find(cfg.path, "imdb_reviews.csv")
        ds = read_csv(
            path,
            text_column="review",
            label_column="sentiment",
            id_column="id",
            extra_columns=["split"],
        )
        split = ds.extra["split"]
        return (
            _rows(ds, [i for i, s in enumerate(split) if s == "train"]),
            _rows(ds, [i for i, s in enumerate(split) if s == "test"]),
        )
    if cfg.source == "csv":
        read = lambda p: read_csv(p, text_column=cfg.text_column, label_column=cfg.label_column)  # noqa: E731
    else:
        read = read_folder
    if not cfg.path:
        raise DataFileError(
            f"`data.path` is required for data.source={cfg.source!r}: pass --data FILE_OR_DIR "
            "or data.path=..."
        )
    train = check_trainable(read(_find(cfg.path)))
    if cfg.test_path:
        test = read(_find(cfg.test_path))
        unknown = sorted(set(test.labels or ()) - set(train.label_names))
        if unknown:
            raise DataError(
                f"{test.source}: labels {unknown} never occur in the training data "
                f"{train.label_names}; a classifier cannot predict them"
            )
        test.label_names = train.label_names
        return train, test
    return _split(train, cfg.test_fraction, cfg.seed)


def prepare_data(cfg: DataConfig, quick: bool = False) -> PreparedData:
    """Load, encode and pad the data a `DataConfig` describes."""
    if cfg.source == "reuters":
        (xtr, ytr), (xte, yte) = reuters.load_data(
            num_words=cfg.num_words,
            skip_top=cfg.skip_top,
            maxlen=cfg.load_maxlen,
            test_split=cfg.test_split,
            seed=cfg.seed,
        )
        names = list(reuters.get_label_names())
        # The word index lets the saved model read raw newswire text too.
        vocab = Vocabulary.from_word_index(reuters.get_word_index(), num_words=cfg.num_words)
        return _finish(
            cfg,
            list(xtr),
            ytr,
            list(xte),
            yte,
            names,
            _keras_vocab_size(cfg, list(xtr) + list(xte)),
            vocab,
            quick=quick,
        )
    if cfg.source == "imdb":
        (xtr, ytr), (xte, yte) = imdb.load_data(
            num_words=cfg.num_words,
            skip_top=cfg.skip_top,
            maxlen=cfg.load_maxlen,
            seed=cfg.seed,
        )
        vocab = Vocabulary.from_word_index(
            imdb.get_word_index(), tokenizer=Tokenizer(lower="ascii"), num_words=cfg.num_words
        )
        return _finish(
            cfg,
            list(xtr),
            ytr,
            list(xte),
            yte,
            list(imdb.get_label_names()),
            _keras_vocab_size(cfg, list(xtr) + list(xte)),
            vocab,
            quick=quick,
        )
    train, test = read_text_splits(cfg)
    if quick:  # subset before fitting the vocabulary: --quick must stay quick on 50,000 texts
        train, test = (
            _rows(train, range(QUICK_TRAIN)[: len(train)]),
            _rows(test, range(QUICK_TEST)[: len(test)]),
        )
    lower = {"true": True, "false": False, "ascii": "ascii"}[cfg.lower]
    vocab = Vocabulary.fit(
        train.texts,
        tokenizer=Tokenizer(lower=lower),
        num_words=cfg.num_words,
        min_freq=cfg.min_freq,
    )
    return _finish(
        cfg,
        vocab.encode(train.texts),
        train.label_ids,
        vocab.encode(test.texts),
        test.label_ids,
        train.label_names,
        vocab.size,
        vocab,
        quick=quick,
    )


def corpus_name(cfg: DataConfig) -> str:
    """Which documents and which train/test split a `DataConfig` gives, as a stable name.

    The vocabulary settings (`num_words`, `skip_top`, padding) do not change the
    documents, so they are not part of the name.

    >>> corpus_name(DataConfig(source="reuters", load_maxlen=50, test_split=0.3))
    'reuters-tutorial-split'
    >>> corpus_name(DataConfig(source="csv", path="data/reviews.csv"))
    'own-data:reviews.csv'
    """
    if cfg.source == "reuters":
        key = (cfg.load_maxlen, cfg.test_split, cfg.seed)
        return REUTERS_SPLITS.get(
            key,
            f"reuters-split:load_maxlen={cfg.load_maxlen},test_split={cfg.test_split},"
            f"seed={cfg.seed}",
        )
    if cfg.source == "imdb":
        maxlen = "" if cfg.load_maxlen is None else f":load_maxlen={cfg.load_maxlen}"
        return "imdb-keras-arrays" + maxlen
    if cfg.source == "imdb_csv":
        return "imdb-raw-reviews"
    return f"own-data:{Path(cfg.path or '').name}"


def validation_rows(
    cfg: DataConfig, y_train: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Own data: the (training, validation) rows of the training part; Keras arrays: None.

    Own data is held out class by class (`stratified_split`), seeded by `data.seed` like
    the train/test split, so every training seed validates on the same rows. For the
    Keras arrays the answer is None: the engine's `validation_split` takes the last
    ``fraction``, as Keras does, and the tutorials are reproduced with it.
    """
    if cfg.source not in OWN_DATA_SOURCES:
        return None
    return stratified_split(y_train, fraction, cfg.seed, name="train.validation_split")
