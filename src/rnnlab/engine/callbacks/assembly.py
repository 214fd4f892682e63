"""The callback list of one fit: the user's callbacks, the defaults, the order, the state keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rnnlab.engine.callbacks.base import Callback
from rnnlab.engine.callbacks.checkpoint import Checkpoint
from rnnlab.engine.callbacks.history import History
from rnnlab.engine.callbacks.progress import ProgressBar
from rnnlab.errors import InvalidTypeError, InvalidValueError


def check_callbacks(callbacks: Any, name: str = "callbacks") -> list[Callback]:
    """Validate a sequence of `Callback` instances and return it as a list."""
    if isinstance(callbacks, Callback):
        raise InvalidTypeError(
            f"`{name}` must be a list of callbacks; wrap the one you passed: [{callbacks!r}]"
        )
    callbacks = list(callbacks or ())
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise InvalidTypeError(
                f"`{name}` must hold Callback instances, got {type(cb).__name__} {cb!r}"
            )
    return callbacks


def assemble(
    callbacks: list[Callback], verbose: int, checkpoint_dir: str | os.PathLike[str] | None
) -> tuple[list[Callback], list[str], History]:
    """Add the defaults, sort by ``order`` and name each callback's checkpoint state.

    A `History` is added unless one is given; a `ProgressBar` when ``verbose``
    and none is given; a `Checkpoint` into ``checkpoint_dir`` unless one writes
    there already. Duplicate classes get keys ``Name``, ``Name#2``, ...

    Returns:
        (sorted callbacks, their state keys, the History).

    >>> cbs, keys, history = assemble([History(), Callback(), Callback()], 0, None)
    >>> keys
    ['Callback', 'Callback#2', 'History']
    """
    cbs = list(callbacks)
    if len({id(cb) for cb in cbs}) != len(cbs):
        raise InvalidValueError("the same callback object is given twice")
    histories = [cb for cb in cbs if isinstance(cb, History)]
    if len(histories) > 1:
        raise InvalidValueError("give at most one History callback")
    if not histories:
        histories.append(History())
        cbs.append(histories[0])
    if verbose and not any(isinstance(cb, ProgressBar) for cb in cbs):
        cbs.append(ProgressBar(verbose))
    if checkpoint_dir is not None and not any(
        isinstance(cb, Checkpoint) and cb.directory == Path(checkpoint_dir) for cb in cbs
    ):
        cbs.append(Checkpoint(checkpoint_dir))
    cbs.sort(key=lambda cb: cb.order)  # stable: equal orders keep the given order
    seen: dict[str, int] = {}
    keys = []
    for cb in cbs:
        name = type(cb).__name__
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return cbs, keys, histories[0]
