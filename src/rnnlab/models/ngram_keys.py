"""Word n-grams over token ids as integer keys: one layout for the n-gram features and scorers.

Unigram ``a`` is ``a``; bigram ``a b`` is ``V + a * V + b``; trigram ``a b c`` is
``V + V^2 + (a * V + b) * V + c``, with ``V`` the number of ids. Keys sort by n-gram
length first, so one sorted table holds every kept n-gram, and the linear baselines
(`rnnlab.experiments.baselines.IdNgrams`), the hybrid model's `NgramScorer` and its
ONNX graph all compute the same keys.
"""

from __future__ import annotations

from rnnlab.errors import DataError, InvalidValueError

MAX_ORDER = 3  # words, pairs, triples


def check_order(order: int) -> int:
    """``order`` if it is 1, 2 or 3; a clear error otherwise."""
    if (
        isinstance(order, bool)
        or not isinstance(order, int)
        or order not in range(1, MAX_ORDER + 1)
    ):
        raise InvalidValueError(
            f"the n-gram order must be 1, 2 or 3 (words, pairs, triples), not {order!r}"
        )
    return order


def ngram_offsets(num_ids: int, order: int) -> list[int]:
    """Where the keys of each n-gram length start: ``[0, V, V + V^2, ...]``, ``order`` entries."""
    offsets, start = [0], 0
    for n in range(1, order):
        start += num_ids**n
        offsets.append(start)
    return offsets


def check_key_range(num_ids: int, order: int) -> None:
    """Refuse a vocabulary whose ``order``-gram keys would not fit in a signed 64-bit int."""
    if ngram_offsets(num_ids, order + 1)[-1] >= 2**63:
        raise DataError(
            f"{num_ids} ids are too many for {order}-gram keys in 64 bits: keep fewer words "
            "(num_words) or use a lower n-gram order"
        )
