"""`InputEncoder`: how a saved model's raw inputs become the tensors its module takes.

Every saved model carries one (in ``model.json``), whatever trained it:

- ``text``: strings -> the vocabulary's ids (its tokenizer) -> padded
  ``(ids, lengths)``; the tutorials' and `TextClassifier`'s models;
- ``ids``: sequences of token ids -> padded ``(ids, lengths)``;
- ``numbers``: sequences of numbers, one per step -> padded float ``(x, lengths)``;
- ``array``: fixed-shape samples -> one ``(n, *shape)`` tensor (`ModelClassifier`).

Sequences may also come as strings of numbers ("12 7 431", "0.5,1.5"), which is
how the command line and plain-text files pass them.

>>> enc = InputEncoder(kind="ids", maxlen=3, padding="post")
>>> ids, lengths = enc.encode([[5, 6], "7 8 9 10"])
>>> ids.tolist(), lengths.tolist()
([[5, 6, 0], [8, 9, 10]], [2, 3])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnlab.data.sequence import pad_with_lengths, padded_lengths
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError, InvalidTypeError, InvalidValueError, check_choice, check_int

KINDS = ("text", "ids", "numbers", "array")
_NUMBER_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass
class InputEncoder:
    """Raw inputs -> model tensors (see the module docstring for the kinds).

    Args:
        kind: 'text', 'ids', 'numbers' or 'array'.
        maxlen: padded length of sequence kinds (None for 'array').
        padding, truncating: 'pre' or 'post', as Keras `pad_sequences`.
        min_length: the least length passed to the module (the estimators use 1).
        lengths: 'count' (the real steps of each sequence) or 'nonzero' (the span
            outside the zero padding, for models trained on already padded arrays).
        shape: per-sample shape of 'array' inputs.
        dtype: tensor dtype of 'array' inputs: 'float32' or 'int64'.
        vocabulary: the fitted vocabulary of 'text' inputs.
    """

    kind: str
    maxlen: int | None = None
    padding: str = "pre"
    truncating: str = "pre"
    min_length: int = 0
    lengths: str = "count"
    shape: tuple[int, ...] | None = None
    dtype: str = "float32"
    vocabulary: Vocabulary | None = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("padding", self.padding, ("pre", "post"))
        check_choice("truncating", self.truncating, ("pre", "post"))
        check_choice("lengths", self.lengths, ("count", "nonzero"))
        check_choice("dtype", self.dtype, ("float32", "int64"))
        check_int("min_length", self.min_length, minimum=0)
        if self.kind == "array":
            if self.shape is None:
                raise InvalidValueError("an 'array' InputEncoder needs the sample `shape`")
            self.shape = tuple(int(d) for d in self.shape)
        else:
            check_int("maxlen", self.maxlen, minimum=1)
        if self.kind == "text" and self.vocabulary is None:
            raise InvalidValueError(
                "a 'text' InputEncoder needs the `vocabulary` it was trained with"
            )

    @property
    def reads_text(self) -> bool:
        return self.kind == "text"

    def encode(self, items: Sequence[Any]) -> tuple[torch.Tensor, ...]:
        """Raw inputs -> the module's input tensors (``(ids, lengths)`` or ``(x,)``)."""
        if isinstance(items, (str, bytes)):
            raise InvalidTypeError("pass a list of inputs, got a single string; wrap it in a list")
        items = list(items)
        if not items:
            raise DataError("no inputs: pass at least one")
        if self.kind == "array":
            return (self._array(items),)
        if self.kind == "text":
            for i, text in enumerate(items):
                if not isinstance(text, str):
                    raise InvalidTypeError(
                        f"input {i} must be a str text, got {type(text).__name__}"
                    )
            assert self.vocabulary is not None
            sequences: list[Any] = self.vocabulary.encode(items)
        else:
            sequences = [self._numbers(item, i) for i, item in enumerate(items)]
        ids = self.kind != "numbers"
        assert self.maxlen is not None
        x, lengths = pad_with_lengths(
            sequences,
            self.maxlen,
            self.padding,
            self.truncating,
            dtype="int64" if ids else "float32",
            min_length=self.min_length,
        )
        if self.lengths == "nonzero":
            lengths = padded_lengths(x, self.padding)
        return torch.from_numpy(x), torch.from_numpy(lengths)

    def _numbers(self, item: Any, i: int) -> np.ndarray:
        """One sequence: a list / array of numbers, or a string of them."""
        if isinstance(item, str):
            words = [w for w in _NUMBER_SEPARATORS.split(item.strip()) if w]
            try:
                values = np.array([float(w) for w in words], dtype=np.float64)
            except ValueError:
                raise DataError(
                    f"input {i} must be numbers separated by spaces or commas for this model "
                    f"(it reads {self.kind}, not text), got {item[:60]!r}"
                ) from None
        else:
            values = np.asarray(item, dtype=np.float64).reshape(-1)
        if not np.isfinite(values).all():
            raise DataError(f"input {i} holds NaN or infinity")
        if self.kind == "ids":
            if (values != np.round(values)).any() or (values < 0).any():
                raise DataError(f"input {i} must hold non-negative whole-number token ids")
            return values.astype(np.int64)
        return values

    def _array(self, items: list[Any]) -> torch.Tensor:
        assert self.shape is not None
        size = int(np.prod(self.shape))
        rows = []
        for i, item in enumerate(items):
            row = self._numbers(item, i) if isinstance(item, str) else np.asarray(item, np.float64)
            if row.size != size:
                raise DataError(
                    f"input {i} has {row.size} values; this model takes samples of shape "
                    f"{self.shape} ({size} values)"
                )
            rows.append(row.reshape(self.shape))
        x = np.stack(rows)
        if self.dtype == "int64" and (x != np.round(x)).any():
            raise DataError("this model takes whole-number inputs (token ids), got fractions")
        return torch.from_numpy(x.astype(self.dtype))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (the vocabulary is saved beside, in its own file)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "array":
            out.update(shape=list(self.shape or ()), dtype=self.dtype)
        else:
            out.update(
                maxlen=self.maxlen,
                padding=self.padding,
                truncating=self.truncating,
                min_length=self.min_length,
                lengths=self.lengths,
            )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], vocabulary: Vocabulary | None = None) -> InputEncoder:
        settings = dict(data)
        if "shape" in settings:
            settings["shape"] = tuple(settings["shape"])
        return cls(**settings, vocabulary=vocabulary)
