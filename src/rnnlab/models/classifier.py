"""`RecurrentClassifier`: an input stage, stacked recurrent layers and a dense output.

It covers both tutorials and their better variants with one set of knobs:

- Reuters tutorial: ``input="raw"`` (each word id fed as one float feature, input
  shape (49, 1)), ``cell="simple_rnn" | "lstm"``, ``units=(50, 50)``, 46 outputs.
- IMDB tutorial: ``input="embedding"`` (20000 x 128), ``cell="lstm"``,
  ``units=(128,)``, ``dropout=0.2, recurrent_dropout=0.2``, one sigmoid output.

The model returns logits: the softmax / sigmoid of the Keras models lives in the
loss (cross-entropy on logits is the numerically stable form of the same thing).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import torch
from torch import nn

from rnnlab.errors import InvalidTypeError, check_choice, check_int, check_type, suggest
from rnnlab.models.spec import ModelSpec
from rnnlab.nn import GRU, LSTM, Bidirectional, Embedding, SimpleRNN

CELLS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


class RecurrentClassifier(nn.Module):
    """Sequence classifier over token ids.

    The architecture is a `ModelSpec`, passed as ``spec=`` or as its fields
    (``cell="gru", units=(64,)``); the data decides the rest.

    Args:
        vocab_size: number of distinct ids (ids are in [0, vocab_size)); 0 is padding.
        num_classes: classes; 2 gives one logit (Keras Dense(1, sigmoid)),
            more give one logit per class (Dense(n, softmax)).
        cell: 'simple_rnn', 'lstm' or 'gru'.
        input: 'embedding' (learned vectors) or 'raw' (the id itself as one float).
        embedding_dim: embedding size (ignored for 'raw').
        units: units of each stacked layer; all but the last return sequences.
        bidirectional: wrap each layer in Bidirectional (concat).
        dropout / recurrent_dropout: Keras's variational dropout of each layer.
        mask: skip padded steps (needs `lengths`); the tutorials do not mask.
        padding: where the batches are padded ('pre' or 'post'), used with `mask`.
        pooling: what the dense layer sees: 'last' (the final state, as Keras's
            `return_sequences=False`), or 'max' / 'mean' over the last layer's
            outputs at every real step (padding excluded when `mask` is on), which
            lets evidence anywhere in a long review reach the output.
        output_dropout: dropout on the final features before the dense layer.

    Shapes:
        ids: (batch, time) int64; lengths: (batch,) int64 or None.
        returns: (batch, 1) logits for 2 classes, else (batch, num_classes).

    >>> torch.manual_seed(0) and None
    >>> model = RecurrentClassifier(vocab_size=100, num_classes=3, units=(8,), embedding_dim=4)
    >>> model(torch.randint(1, 100, (2, 5))).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        spec: ModelSpec | None = None,
        *,
        vocab_size: int,
        num_classes: int,
        padding: str = "post",
        **settings: Any,
    ) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, minimum=1)
        check_int("num_classes", num_classes, minimum=2)
        check_choice("padding", padding, ("pre", "post"))
        if spec is None:
            unknown = [k for k in settings if k not in ModelSpec.field_names()]
            if unknown:
                raise InvalidTypeError(
                    f"RecurrentClassifier got an unexpected argument `{unknown[0]}`"
                    f"{suggest(unknown[0], ModelSpec.field_names())}; valid: "
                    + ", ".join(("vocab_size", "num_classes", "padding", *ModelSpec.field_names()))
                )
            spec = ModelSpec(**settings)
        elif settings:
            raise InvalidTypeError("pass either a `spec` or its settings as keywords, not both")
        check_type("spec", spec, ModelSpec)
        self.spec = spec
        # Everything needed to build the same module again (what a saved model stores).
        self.config: dict[str, Any] = {
            "vocab_size": vocab_size,
            "num_classes": num_classes,
            "padding": padding,
            **spec.to_dict(),
        }
        cell, units, pooling = spec.cell, spec.units, spec.pooling
        embedding_dim = spec.embedding_dim
        self.pooling = pooling
        self.mask = spec.mask
        self.padding = padding
        if spec.input == "embedding":
            self.embedding: nn.Module | None = Embedding(vocab_size, embedding_dim)
            features = embedding_dim
        else:
            self.embedding = None
            features = 1
        layers = []
        for i, u in enumerate(units):
            layer = CELLS[cell](
                units=u,
                input_size=features,
                dropout=spec.dropout,
                recurrent_dropout=spec.recurrent_dropout,
                return_sequences=i < len(units) - 1 or pooling != "last",
            )
            if spec.bidirectional:
                layer = Bidirectional(layer)
                u *= 2
            layers.append(layer)
            features = u
        self.recurrent = nn.ModuleList(layers)
        self.output_dropout = nn.Dropout(spec.output_dropout)
        self.head = nn.Linear(features, 1 if num_classes == 2 else num_classes)
        # Keras Dense: glorot_uniform kernel, zero bias.
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def cuts_padding(self) -> str | None:
        """The padding side when masking makes the outputs blind to padding beyond each row's
        length, so a batch may be cut to its longest row (`rnnlab.engine.inference`); else None."""
        return self.padding if self.mask else None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embedding(ids) if self.embedding is not None else ids.unsqueeze(-1).float()
        lengths = lengths if self.mask else None
        for layer in self.recurrent:
            x = layer(x, lengths=lengths, padding=self.padding) if lengths is not None else layer(x)
        if self.pooling != "last":
            x = self._pool(x, lengths)
        return self.head(self.output_dropout(x))

    def _pool(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """(batch, time, features) -> (batch, features) over the real steps; zeros for empty rows."""
        if lengths is None:
            return x.amax(dim=1) if self.pooling == "max" else x.mean(dim=1)
        steps = torch.arange(x.shape[1], device=x.device)
        lengths = lengths.to(x.device)
        if self.padding == "post":
            valid = steps[None, :] < lengths[:, None]
        else:
            valid = steps[None, :] >= (x.shape[1] - lengths)[:, None]
        valid = valid.unsqueeze(-1)
        if self.pooling == "max":
            pooled = x.masked_fill(~valid, float("-inf")).amax(dim=1)
            return torch.where(lengths[:, None] > 0, pooled, torch.zeros_like(pooled))
        return (x * valid).sum(dim=1) / lengths.clamp(min=1)[:, None].to(x.dtype)


def _signature() -> inspect.Signature:
    """The constructor as callers see it: the data-given sizes, then every `ModelSpec` field."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("vocab_size", kw, annotation=int),
        inspect.Parameter("num_classes", kw, annotation=int),
        inspect.Parameter("padding", kw, default="post", annotation=str),
    ]
    params += [
        inspect.Parameter(f.name, kw, default=f.default, annotation=f.type)
        for f in dataclasses.fields(ModelSpec)
    ]
    return inspect.Signature(params)


RecurrentClassifier.__signature__ = _signature()  # type: ignore[attr-defined]
