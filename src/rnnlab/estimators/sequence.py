"""`SequenceClassifier`: a recurrent classifier on sequences of token ids or of raw numbers.

How X is read (decided at fit, kept as ``input_``):

- ragged sequences (a list, tuple, pandas Series or 1-D object array of
  lists / arrays of different lengths) are padded to ``maxlen`` (default: the
  longest training sequence) with ``padding`` / ``truncating``, Keras style,
  and so is every input at predict time (``maxlen_``);
- a rectangular array (or equal-length lists) is taken as already padded:
  (n, T), or (n, T, 1) as the Reuters tutorial passes it. Without ``maxlen``
  its width T is ``n_features_in_`` and predict needs arrays of that width, as
  any scikit-learn estimator does (ragged input is padded to T); with
  ``maxlen`` its rows are padded / truncated like sequences;
- integer values are token ids, fed to an embedding (``input_="embedding"``);
  floating values are raw features, one number per time step
  (``input_="raw"``), and so is any (n, T, 1) array, as Keras fed the
  tutorial's ids. ``module__input="embedding"`` or ``"raw"`` overrides the
  choice (floats holding whole numbers can then be ids).

With ids, the embedding has ``vocab_size`` rows (default: the largest training
id + 1); an id beyond it at predict time is an error, so pass ``vocab_size``
(e.g. the ``num_words`` the data was loaded with) when test data may hold
larger ids.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_array, validate_data

from rnnlab.data.sequence import pad_sequences
from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice, check_int
from rnnlab.estimators.recurrent import (
    _OWNED,
    RecurrentEstimator,
    array_lengths,
    as_tensors,
    pad_ragged,
)
from rnnlab.input_encoder import InputEncoder

_SEQUENCE_TYPES = (list, tuple, np.ndarray)


class SequenceClassifier(RecurrentEstimator):
    """Recurrent classifier over token-id sequences or one-number-per-step sequences.

    Args:
        vocab_size: embedding rows (ids must be < vocab_size); None: largest training id + 1.
        maxlen: length ragged sequences are padded / truncated to; None: the longest
            training sequence. Arrays keep their width.
        padding, truncating: 'pre' or 'post' (Keras `pad_sequences`); ``padding``
            also tells a masking module where an array's padding is.
        model_kind: 'recurrent' (the network) or 'hybrid' (token ids only: the network
            blended with NBSVM's n-gram scores, chosen on the ``validation_split`` rows,
            the last fraction as in Keras; see `rnnlab.estimators.recurrent`).
        epochs, batch_size, optimizer, lr, validation_split, patience, shuffle,
            classes, random_state, device, verbose: see `EstimatorBase`.
        **kwargs: ``module__<name>`` settings of `RecurrentClassifier` (cell, units,
            embedding_dim, bidirectional, dropout, recurrent_dropout, mask,
            output_dropout, input) and ``optimizer__<name>`` optimiser settings.

    Attributes:
        classes_, module_, history_, n_logits_: see `EstimatorBase`.
        input_: 'embedding' (ids) or 'raw' (numbers).
        vocab_size_: embedding rows (None for raw input). maxlen_: the training length.
        n_features_in_: the width T of a training array (absent for ragged input).
        module_config_: the `RecurrentClassifier` configuration.

    >>> import numpy as np
    >>> X = [[1, 2, 3], [4, 5], [1, 2], [4, 5, 6, 7]]
    >>> clf = SequenceClassifier(epochs=2, batch_size=2, module__units=(4,),
    ...                          module__embedding_dim=4, random_state=0)
    >>> clf.fit(X, ["a", "b", "a", "b"]).predict_proba([[1, 2]]).shape
    (1, 2)
    >>> clf.input_, clf.vocab_size_, clf.maxlen_
    ('embedding', 8, 4)
    """

    _owned_module_args: ClassVar[dict[str, str]] = _OWNED
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "module_config_",
        "maxlen_",
        "input_",
        "vocab_size_",
        "hybrid_",
    )

    def __init__(
        self,
        *,
        vocab_size: int | None = None,
        maxlen: int | None = None,
        padding: str = "pre",
        truncating: str = "pre",
        model_kind: str = "recurrent",
        epochs: int = 10,
        batch_size: int = 32,
        optimizer: Any = "adam",
        lr: float | None = None,
        validation_split: float | None = None,
        patience: int | None = None,
        shuffle: bool = True,
        classes: Any = None,
        random_state: Any = None,
        device: Any = "auto",
        verbose: int = 0,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.maxlen = maxlen
        self.padding = padding
        self.truncating = truncating
        self.model_kind = model_kind
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

    # ------------------------------------------------------------------ inputs

    def _fit_inputs(self, X: Any) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
        self._check_padding()
        check_int("vocab_size", self.vocab_size, minimum=1, allow_none=True)
        override = self._module_settings().get("input")
        if override is not None:
            check_choice("module__input", override, ("embedding", "raw"))
        x, lengths, natural = self._read(X, fit=True)
        input_ = override or natural
        vocab_size = None
        if input_ == "embedding":
            x = _as_ids(x)
            top = int(x.max()) if x.size else 0
            vocab_size = self.vocab_size or top + 1
            if top >= vocab_size:
                raise InvalidValueError(
                    f"X holds token id {top} but `vocab_size` is {vocab_size}: ids must be < "
                    "vocab_size; raise it or leave it None to learn it"
                )
        fitted = {"input_": input_, "maxlen_": int(x.shape[1]), "vocab_size_": vocab_size}
        return as_tensors(x, lengths, input_ == "embedding"), fitted

    def _predict_inputs(self, X: Any) -> tuple[torch.Tensor, ...]:
        x, lengths, _ = self._read(X, fit=False)
        embedding = self.input_ == "embedding"
        if embedding:
            x = _as_ids(x)
            if x.size and int(x.max()) >= self.vocab_size_:
                raise InvalidValueError(
                    f"X holds token id {int(x.max())}, but the embedding has "
                    f"vocab_size_={self.vocab_size_} rows (the largest training id + 1 unless "
                    "`vocab_size` was given): refit with `vocab_size=` covering every id "
                    "(e.g. the `num_words` of the data set)"
                )
        return as_tensors(x, lengths, embedding)

    def _input_encoder(self) -> InputEncoder:
        kind = "ids" if self.input_ == "embedding" else "numbers"
        # A model fitted on an already padded array reads its rows' lengths off the padding.
        lengths = "nonzero" if "n_features_in_" in self.__dict__ else "count"
        return InputEncoder(
            kind, self.maxlen_, self.padding, self.truncating, min_length=1, lengths=lengths
        )

    def _read(self, X: Any, fit: bool) -> tuple[np.ndarray, np.ndarray, str]:
        """X -> ((n, maxlen) values, (n,) lengths, 'embedding' or 'raw' as X's values suggest).

        A rectangular X fitted without ``maxlen`` fixes the width (``n_features_in_``);
        otherwise every input is padded / truncated to ``maxlen_``.
        """
        if isinstance(X, (list, tuple)) and not X:
            raise InvalidValueError(
                "X holds no sequences: found array with 0 sample(s); pass at least one"
            )
        ragged = _ragged(X)
        fixed = (
            (ragged is None and self.maxlen is None) if fit else ("n_features_in_" in self.__dict__)
        )
        if fit and not fixed:
            for stale in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(stale, None)
        if ragged is not None:
            seqs, kind = _check_ragged(ragged)
            maxlen = (self.maxlen or max(1, max(len(s) for s in seqs))) if fit else self.maxlen_
            x, lengths = pad_ragged(
                seqs,
                maxlen,
                self.padding,
                self.truncating,
                np.float64 if kind == "float" else np.int64,
            )
            return x, lengths, "embedding" if kind == "int" else "raw"
        options = {"dtype": "numeric", "allow_nd": True}
        if fixed:
            x = validate_data(self, _rectangular(X), reset=fit, **options)
        else:
            x = check_array(_rectangular(X), **options)
        x, natural = _squeeze(x)
        if not fixed:
            maxlen = self.maxlen if fit else self.maxlen_
            x = pad_sequences(
                list(x),
                maxlen=maxlen,
                dtype=x.dtype,
                padding=self.padding,
                truncating=self.truncating,
            )
        return x, array_lengths(x, self.padding), natural


def _ragged(X: Any) -> list[Any] | None:
    """The items of X when X is a collection of sequences of different lengths, else None."""
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim != 1:
            return None
    elif not (isinstance(X, (list, tuple)) or (hasattr(X, "iloc") and getattr(X, "ndim", 0) == 1)):
        return None
    items = list(X)
    if not items or not all(isinstance(s, _SEQUENCE_TYPES) for s in items):
        return None
    if len({len(s) for s in items}) == 1 and all(np.ndim(s) >= 1 for s in items):
        return None  # rectangular after all: an array of fixed width
    return items


def _rectangular(X: Any) -> Any:
    """A 1-D object array / Series of equal-length sequences becomes a 2-D array."""
    if (isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1) or hasattr(X, "iloc"):
        items = list(X) if getattr(X, "ndim", 2) == 1 else None
        if items and all(isinstance(s, _SEQUENCE_TYPES) for s in items):
            return np.array([np.asarray(s) for s in items])
    return X


def _check_ragged(items: list[Any]) -> tuple[list[np.ndarray], str]:
    """Each item as a 1-D numeric array; 'int' if all are integers, else 'float'."""
    seqs, kind = [], "int"
    for i, item in enumerate(items):
        arr = np.asarray(item)
        if arr.size == 0:
            arr = arr.reshape(0).astype(np.int64)
        if arr.ndim != 1:
            raise InvalidValueError(
                f"X[{i}] must be a 1-D sequence of numbers, got shape {arr.shape}; pad "
                "multi-feature steps into an (n, T, 1) array or use ModelClassifier"
            )
        if arr.dtype.kind not in "biuf":
            hint = " (for text use TextClassifier)" if arr.dtype.kind in "USO" else ""
            raise InvalidTypeError(f"X[{i}] must hold numbers, got dtype {arr.dtype}{hint}")
        if arr.dtype.kind == "f":
            kind = "float"
            if not np.isfinite(arr).all():
                raise InvalidValueError(f"Input X contains NaN or infinity (in X[{i}])")
        seqs.append(arr)
    return seqs, kind


def _squeeze(x: np.ndarray) -> tuple[np.ndarray, str]:
    """(n, T) or (n, T, 1) -> (n, T), and the natural input kind of the array."""
    if x.ndim == 3 and x.shape[2] == 1:
        return x[:, :, 0], "raw"
    if x.ndim != 2:
        raise InvalidValueError(
            f"SequenceClassifier reads one number per time step: X must be (n, T) or "
            f"(n, T, 1), got shape {x.shape}; use ModelClassifier for several features per step"
        )
    return x, "embedding" if x.dtype.kind in "biu" else "raw"


def _as_ids(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f" and x.size and not (np.isfinite(x).all() and (x == np.round(x)).all()):
        raise InvalidValueError(
            "X must hold whole-number token ids for an embedding (module__input='embedding'), "
            "got fractional values"
        )
    if x.size and x.min() < 0:
        raise InvalidValueError(f"token ids must be >= 0, X holds {int(x.min())}")
    return x.astype(np.int64)
