"""`TextClassifier`: raw strings in, classes out; it learns its own vocabulary from the training texts.

fit tokenizes the texts (`rnnlab.data.Tokenizer`, the Keras rule by default),
fits a `Vocabulary` on them (the training texts only, so nothing leaks from
test data), encodes them Keras-style (start id 1, unknown words 2, words from 4
on by frequency) and pads them to ``maxlen``. predict encodes with the same
vocabulary; unseen words become the unknown id.

With no arguments it uses the own-data recipe (the one `rnnlab train --data FILE`
uses): a bidirectional GRU(64) over 64-wide embeddings, masked, max-pooled over the
real steps, dropout 0.3 before the output, blended with NBSVM's word n-gram
scores (uni+bigrams or up to trigrams, as validation chooses) (``model_kind="hybrid"``); ``maxlen`` from the training lengths (their 95th
percentile, at most ``MAXLEN_CAP``); 10 % of the training rows, drawn class by class
with the seed (`rnnlab.experiments.splits.stratified_split`), validate every epoch;
early stopping (patience 2) restores the best epoch, and the same rows choose the
linear part's n-gram order, C and beta and the blend.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import (
    ConfigError,
    DataError,
    InvalidTypeError,
    InvalidValueError,
    ModelFileError,
    check_int,
)
from rnnlab.estimators.recurrent import _OWNED, RecurrentEstimator, as_tensors, pad_ragged
from rnnlab.input_encoder import InputEncoder

# The recurrent part of the own-data recipe: what `module__` settings default to.
MODULE_DEFAULTS: dict[str, Any] = {
    "cell": "gru",
    "units": (64,),
    "bidirectional": True,
    "embedding_dim": 64,
    "mask": True,
    "pooling": "max",
    "output_dropout": 0.3,
}
MAXLEN_PERCENTILE = 95  # maxlen=None: this percentile of the training lengths ...
MAXLEN_CAP = 400  # ... but at most this many tokens (CPU time grows with the length)


class TextClassifier(RecurrentEstimator):
    """Recurrent text classifier: raw strings -> vocabulary ids -> `RecurrentClassifier`.

    Args:
        max_tokens: keep only this many most frequent training words (None: all).
        num_words: Keras ``num_words``: ids >= num_words become the unknown id.
        min_freq: keep only words seen at least this often in training.
        lower: True (lowercase), False, or 'ascii' (A-Z only); see `Tokenizer`.
        token_pattern: a regex whose matches are the tokens (replaces the Keras rule).
        maxlen: tokens per text after padding / truncation (the start id counts);
            None: the 95th percentile of the training lengths, at most 400.
        padding, truncating: 'pre' or 'post', as Keras `pad_sequences` (default:
            pad 'post', the masked network skips it; truncate 'pre', keep the end).
        model_kind: 'hybrid' (the network blended with NBSVM's n-gram scores, the blend
            chosen on validation; needs ``validation_split``) or 'recurrent' (the network).
        class_weight: None, 'balanced' (weights ``n / (n_classes * count)``) or
            ``{label: weight}``: weights of the training loss per class.
        validation_split: the share of the training rows held out, drawn class by
            class with ``random_state`` and shuffled (`stratified_split`): a file
            sorted by label still validates on every class. None: no validation.
        epochs, batch_size, optimizer, lr, patience, shuffle, classes, random_state,
            device, verbose: see `EstimatorBase` (defaults: up to 20 epochs,
            patience 2).
        **kwargs: ``module__<name>`` settings of `RecurrentClassifier` (cell, units,
            embedding_dim, bidirectional, dropout, recurrent_dropout, mask, pooling,
            output_dropout; unset ones take ``MODULE_DEFAULTS``) and
            ``optimizer__<name>`` optimiser settings.

    Attributes:
        vocabulary_: the fitted `Vocabulary`. maxlen_: the padded length.
        classes_, module_, history_, n_logits_, module_config_: see `EstimatorBase`.
        hybrid_: with model_kind='hybrid', what validation chose: the linear part's
            C, beta and accuracy, the blend's share of it and its accuracy.

    >>> texts = ["good fun film", "bad dull film", "great fun", "dull and bad"]
    >>> clf = TextClassifier(epochs=2, batch_size=2, module__units=(4,), model_kind="recurrent",
    ...                      validation_split=None, module__embedding_dim=4, random_state=0)
    >>> clf.fit(texts, ["pos", "neg", "pos", "neg"]).predict(["fun film"]).shape
    (1,)
    >>> clf.vocabulary_.words[:3], clf.maxlen_
    (('fun', 'film', 'bad'), 4)
    """

    _owned_module_args: ClassVar[dict[str, str]] = {
        **_OWNED,
        "input": "a TextClassifier always feeds token ids to an embedding",
    }
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("module_config_", "maxlen_", "hybrid_")
    _module_defaults: ClassVar[dict[str, Any]] = MODULE_DEFAULTS

    def __init__(
        self,
        *,
        max_tokens: int | None = None,
        num_words: int | None = None,
        min_freq: int = 1,
        lower: bool | str = True,
        token_pattern: str | None = None,
        maxlen: int | None = None,
        padding: str = "post",
        truncating: str = "pre",
        model_kind: str = "hybrid",
        class_weight: Any = None,
        epochs: int = 20,
        batch_size: int = 32,
        optimizer: Any = "adam",
        lr: float | None = None,
        validation_split: float | None = 0.1,
        patience: int | None = 2,
        shuffle: bool = True,
        classes: Any = None,
        random_state: Any = None,
        device: Any = "auto",
        verbose: int = 0,
        **kwargs: Any,
    ) -> None:
        self.max_tokens = max_tokens
        self.num_words = num_words
        self.min_freq = min_freq
        self.lower = lower
        self.token_pattern = token_pattern
        self.maxlen = maxlen
        self.padding = padding
        self.truncating = truncating
        self.model_kind = model_kind
        self.class_weight = class_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.validation_split = validation_split
        self.patience = patience
        self.shuffle = shuffle
        self.classes = classes
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._routed_params = kwargs

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = False
        tags.input_tags.string = True
        return tags

    def _fit_inputs(self, X: Any) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
        self._check_padding()
        texts = _texts(X)
        check_int("min_freq", self.min_freq, minimum=1)
        tokenizer = Tokenizer(lower=self.lower, token_pattern=self.token_pattern)
        vocabulary = Vocabulary.fit(
            texts,
            tokenizer=tokenizer,
            max_tokens=self.max_tokens,
            min_freq=self.min_freq,
            num_words=self.num_words,
        )
        seqs = vocabulary.encode(texts)
        maxlen = self.maxlen or sized_maxlen([len(s) for s in seqs])
        x, lengths = pad_ragged(seqs, maxlen, self.padding, self.truncating, np.int64)
        fitted = {"vocabulary_": vocabulary, "maxlen_": int(maxlen)}
        return as_tensors(x, lengths, embedding=True), fitted

    def _vocab_size(self, fitted: dict[str, Any]) -> int | None:
        return fitted["vocabulary_"].size

    def _validation_rows(
        self, indices: np.ndarray, seed: int | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A stratified, seeded, shuffled share of the rows (not Keras's last fraction)."""
        from rnnlab.experiments.splits import stratified_split

        self._check_model_kind()
        if self.validation_split is None:
            return None
        if seed is None:  # random_state=None: a fresh draw, from torch's global generator
            seed = int(torch.randint(2**31 - 1, ()).item())
        try:
            fit_rows, val_rows = stratified_split(
                indices, self.validation_split, seed, name="validation_split"
            )
        except DataError as exc:
            raise DataError(
                f"TextClassifier: {exc}, or validation_split=None with model_kind='recurrent'"
            ) from None
        # Shuffled, so that the validation batches mix the classes as training does.
        order = np.random.RandomState(seed).permutation(len(val_rows))
        return fit_rows.astype(np.int64), val_rows[order].astype(np.int64)

    def _class_weights(self, indices: np.ndarray, classes_: np.ndarray) -> list[float] | None:
        weight = self.class_weight
        if weight is None:
            return None
        counts = np.bincount(indices, minlength=len(classes_)).astype(np.float64)
        if isinstance(weight, str) and weight == "balanced":
            # scikit-learn's 'balanced'; a class absent from y (`classes=`) keeps weight 1.
            seen = counts > 0
            balanced = np.ones(len(classes_))
            balanced[seen] = counts.sum() / (seen.sum() * counts[seen])
            return balanced.tolist()
        if isinstance(weight, dict):
            known = {str(c): i for i, c in enumerate(classes_.tolist())}
            out = [1.0] * len(classes_)
            for label, w in weight.items():
                if str(label) not in known:
                    raise ConfigError(
                        f"TextClassifier: `class_weight` names {label!r}, which is not a "
                        f"class; the classes are {classes_.tolist()}"
                    )
                out[known[str(label)]] = float(w)
            return out
        raise ConfigError(
            "TextClassifier: `class_weight` must be None, 'balanced' or a dict "
            f"{{label: weight}}, got {type(weight).__name__} {weight!r:.60}"
        )

    def _predict_inputs(self, X: Any) -> tuple[torch.Tensor, ...]:
        seqs = self.vocabulary_.encode(_texts(X))
        x, lengths = pad_ragged(seqs, self.maxlen_, self.padding, self.truncating, np.int64)
        return as_tensors(x, lengths, embedding=True)

    def _input_encoder(self) -> InputEncoder:
        return InputEncoder(
            "text",
            self.maxlen_,
            self.padding,
            self.truncating,
            min_length=1,
            vocabulary=self.vocabulary_,
        )

    def _restore(self, fitted: dict[str, Any], parts: dict[str, Any]) -> None:
        super()._restore(fitted, parts)
        if "vocabulary" not in parts:
            raise ModelFileError("a saved TextClassifier must hold vocabulary.json; it is missing")
        self.vocabulary_ = Vocabulary.from_dict(parts["vocabulary"])


def sized_maxlen(lengths: list[int]) -> int:
    """The padded length for these training lengths: their 95th percentile, at most 400."""
    top = float(np.percentile(lengths, MAXLEN_PERCENTILE, method="higher"))
    return int(max(1, min(top, MAXLEN_CAP)))


def _texts(X: Any) -> list[str]:
    """X as a list of str: a list, tuple, 1-D array, (n, 1) array or pandas Series of texts."""
    if isinstance(X, (str, bytes)):
        raise InvalidTypeError(
            "X must be a collection of texts, got a single string; wrap it in a list: [text]"
        )
    if hasattr(X, "columns"):  # a DataFrame: take its only column
        if X.shape[1] != 1:
            raise InvalidValueError(
                f"X is a DataFrame with {X.shape[1]} columns; pass the text column (a Series)"
            )
        X = X.iloc[:, 0]
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]
    if isinstance(X, np.ndarray) and X.ndim != 1:
        raise InvalidValueError(
            f"X must be a 1-D collection of texts, got an array of shape {X.shape}"
        )
    try:
        texts = list(X)
    except TypeError:
        raise InvalidTypeError(f"X must be a collection of texts, got {type(X).__name__}") from None
    if not texts:
        raise InvalidValueError(
            "X holds no texts: found array with 0 sample(s); pass at least one text"
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidTypeError(
                f"X must hold str texts, got {type(text).__name__} {text!r:.60} at index {i}"
                + (
                    "; for token ids use SequenceClassifier"
                    if not isinstance(text, bytes)
                    else "; decode bytes first"
                )
            )
    return texts
