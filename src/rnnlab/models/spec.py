"""`ModelSpec`: every architecture choice of a `RecurrentClassifier`, checked once.

The experiment config's ``model:`` section *is* this dataclass, and the
classifier's constructor takes exactly its fields (plus what the data decides:
``vocab_size``, ``num_classes`` and ``padding``), so the two cannot drift apart.

>>> ModelSpec(cell="gru", units=[64]).units
(64,)
>>> ModelSpec(pooling="max").to_dict()["pooling"]
'max'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rnnlab.errors import ConfigError, check_choice, check_fraction, check_int, check_type

CELLS = ("simple_rnn", "lstm", "gru")
INPUTS = ("embedding", "raw")
POOLINGS = ("last", "max", "mean")


@dataclass(frozen=True)
class ModelSpec:
    """The classifier: an input stage, stacked recurrent layers and a dense output."""

    cell: str = "lstm"  # 'simple_rnn', 'lstm' or 'gru'
    # 'embedding': ids -> learned vectors; 'raw': each id fed as one float feature (the
    # Reuters tutorial does this: input shape (49, 1)).
    input: str = "embedding"
    embedding_dim: int = 128  # ignored for 'raw' input
    units: tuple[int, ...] = (
        128,
    )  # one entry per stacked layer; all but the last return sequences
    bidirectional: bool = False  # wrap each layer in Bidirectional (concat)
    dropout: float = 0.0  # Keras `dropout` (variational, on the inputs of each layer)
    recurrent_dropout: float = 0.0  # Keras `recurrent_dropout` (one mask per gate, as Keras)
    mask: bool = False  # skip padded steps (the tutorials do not mask)
    output_dropout: float = 0.0  # dropout before the dense output layer
    # What the dense layer sees: the 'last' state (Keras), or 'max' / 'mean' over the last
    # layer's outputs at every real step, so evidence anywhere in a long text reaches it.
    pooling: str = "last"

    def __post_init__(self) -> None:
        # Frozen: normalise a list of units (YAML, JSON) to the tuple the type says.
        if isinstance(self.units, list):
            object.__setattr__(self, "units", tuple(self.units))
        if isinstance(self.units, int) and not isinstance(self.units, bool):
            object.__setattr__(self, "units", (self.units,))
        check_choice("cell", self.cell, CELLS)
        check_choice("input", self.input, INPUTS)
        check_choice("pooling", self.pooling, POOLINGS)
        check_int("embedding_dim", self.embedding_dim, minimum=1)
        if not isinstance(self.units, tuple) or not self.units:
            raise ConfigError(f"`units` must list at least one layer size, got {self.units!r}")
        for i, u in enumerate(self.units):
            check_int(f"units[{i}]", u, minimum=1)
        for name in ("bidirectional", "mask"):
            check_type(name, getattr(self, name), bool)
        for name in ("dropout", "recurrent_dropout", "output_dropout"):
            check_fraction(name, getattr(self, name))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (units as a list) that ``ModelSpec(**d)`` reads back."""
        out = dataclasses.asdict(self)
        out["units"] = list(self.units)
        return out
