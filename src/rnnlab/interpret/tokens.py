"""Which token of an input sits at which step of the padded tensor the model reads.

An explanation is per token, but the model reads a padded, truncated row of ids
with a start token in front. `align` redoes what the `InputEncoder` does, one
input at a time, keeping each token's step: the words as the vocabulary's
tokenizer splits them (raw-text models), or the ids / numbers as written
(sequence models). A token cut off by truncation, or an unknown word the
vocabulary drops (no oov id), has no step. The start token and the padding
are not tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rnnlab.errors import InvalidTypeError, InvalidValueError
from rnnlab.input_encoder import InputEncoder


@dataclass
class Token:
    """One token of the input.

    Attributes:
        text: the word (or the id / number as written).
        id: what the model reads for it (an id; a number for 'numbers' models),
            or None when the vocabulary drops it.
        position: its step in the padded row, or None (dropped, or truncated away).
    """

    text: str
    id: int | float | None
    position: int | None


@dataclass
class Aligned:
    """An input as tokens and as the model's tensors.

    Attributes:
        tokens: every token of the input, in order.
        sequence: what is padded (start token, then the kept tokens' ids).
        first: index in `sequence` of the first token (1 after a start token).
        tensors: the model's inputs for this one item, ``pipeline.encode([item])``.
    """

    tokens: list[Token]
    sequence: list[Any]
    first: int
    tensors: tuple[torch.Tensor, ...]


def sequence_encoder(encoder: InputEncoder) -> InputEncoder:
    """An encoder of already-made id (or number) sequences, padded as ``encoder`` pads."""
    kind = "numbers" if encoder.kind == "numbers" else "ids"
    return InputEncoder(
        kind,
        maxlen=encoder.maxlen,
        padding=encoder.padding,
        truncating=encoder.truncating,
        min_length=encoder.min_length,
        lengths=encoder.lengths,
    )


def align(encoder: InputEncoder, item: Any) -> Aligned:
    """Tokens of one input with their steps in ``encoder.encode([item])``."""
    if encoder.kind == "array":
        raise InvalidValueError(
            "this model takes fixed-shape arrays, not sequences of tokens: "
            "there is nothing to attribute per token"
        )
    if encoder.kind == "text":
        if not isinstance(item, str):
            raise InvalidTypeError(f"this model reads text: pass a str, got {type(item).__name__}")
        vocab = encoder.vocabulary
        assert vocab is not None
        words = vocab.tokenizer.tokenize(item)
        ids = [vocab.token_id(w) for w in words]
        texts = words
        first = 0 if vocab.start_id is None else 1
        sequence: list[Any] = [] if vocab.start_id is None else [vocab.start_id]
    else:
        values = encoder._numbers(item, 0)
        ids = [int(v) if encoder.kind == "ids" else float(v) for v in values.tolist()]
        texts = [str(v) if encoder.kind == "ids" else f"{v:g}" for v in ids]
        first, sequence = 0, []
    index: list[int | None] = []
    for i in ids:
        index.append(len(sequence) if i is not None else None)
        if i is not None:
            sequence.append(i)
    assert encoder.maxlen is not None
    n, maxlen = len(sequence), encoder.maxlen
    cut = max(0, n - maxlen)  # how many leave: from the front ('pre') or the back ('post')
    kept = n - cut
    pad = maxlen - kept
    tokens = []
    for text, i, k in zip(texts, ids, index):
        position = None
        if k is not None:
            k_kept = k - cut if encoder.truncating == "pre" else k
            if 0 <= k_kept < kept:
                position = k_kept + (pad if encoder.padding == "pre" else 0)
        tokens.append(Token(text, i, position))
    tensors = encoder.encode([item])
    row = tensors[0][0]
    for token in tokens:
        if token.position is not None:
            # The same padding rule, applied twice, must put each id where the encoder did.
            expected = torch.tensor(token.id, dtype=row.dtype)
            assert bool(row[token.position] == expected), (token, row)
    return Aligned(tokens, sequence, first, tensors)
