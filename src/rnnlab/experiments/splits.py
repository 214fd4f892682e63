"""Stratified, seeded hold-out splits of a training part: every class in its proportion.

A file sorted by label must not give a validation set of one class, so the held-out
rows are drawn class by class: each class gives its share (``fraction`` of its rows,
rounded so the total is ``round(n * fraction)``), a class with a single row stays in
training (it cannot be both learned and checked), and the draw depends on ``seed`` only.

>>> y = np.array([0] * 4 + [1] * 6)
>>> train, held = stratified_split(y, 0.5, seed=0)
>>> len(train), np.bincount(y[held]).tolist()
(5, [2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnlab.errors import DataError, check_fraction


def stratified_split(
    y: Sequence[int] | np.ndarray, fraction: float, seed: int, name: str = "fraction"
) -> tuple[np.ndarray, np.ndarray]:
    """(kept rows, held-out rows), both sorted, for class labels ``y``.

    ``name`` is the setting ``fraction`` came from, for the messages. Raises DataError
    when ``fraction`` holds out no row, or more rows than the classes can spare.
    """
    fraction = check_fraction(name, fraction, low_open=True)
    y = np.asarray(y)
    n = len(y)
    n_held = int(round(n * fraction))
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    # Every class keeps at least one row for training; a single-row class gives none.
    capacity = np.maximum(counts - 1, 0)
    if n_held == 0 or n_held > capacity.sum():
        raise DataError(
            f"`{name}`={fraction} of {n} rows ({len(classes)} classes) holds out "
            f"{n_held} rows where between 1 and {int(capacity.sum())} can be (each class keeps "
            "a training row); use more data or another fraction"
        )
    rng = np.random.RandomState(seed)
    quota = np.minimum(counts * fraction, capacity)
    take = np.floor(quota).astype(np.int64)
    # Largest remainders first, ties in a seeded random order (as scikit-learn's
    # stratified splits do), until the held-out total is exact.
    short = n_held - int(take.sum())
    if short > 0:
        order = np.lexsort((rng.permutation(len(classes)), -(quota - take)))
        for c in order:
            if short == 0:
                break
            if take[c] < capacity[c]:
                take[c] += 1
                short -= 1
        # Only when some classes hit their capacity: fill from the others, biggest first.
        for c in np.argsort(-(capacity - take), kind="stable"):
            if short == 0:
                break
            extra = min(short, int(capacity[c] - take[c]))
            take[c] += extra
            short -= extra
    held = np.concatenate(
        [rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))]
    )
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


__all__ = ["stratified_split"]
