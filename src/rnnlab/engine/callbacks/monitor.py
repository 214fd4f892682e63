"""`MonitorCallback`: what EarlyStopping and ReduceLROnPlateau share: watching one logged value."""

from __future__ import annotations

import warnings

from rnnlab.engine.callbacks.base import Callback
from rnnlab.errors import suggest


class MonitorCallback(Callback):
    """Base for callbacks that watch ``self.monitor`` in the epoch logs.

    Subclasses set ``monitor``, ``mode`` ('min' / 'max') and ``min_delta``, and
    reset ``_warned`` to False with the rest of their state.
    """

    monitor: str
    mode: str
    min_delta: float
    _warned: bool = False

    def improves(self, value: float, reference: float | None) -> bool:
        """True when ``value`` beats ``reference`` by more than ``min_delta`` (or there is none)."""
        if reference is None:
            return True
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def monitored(self, logs: dict[str, float]) -> float | None:
        """The monitored value of these logs; warns once (naming the nearest key) when absent."""
        current = logs.get(self.monitor)
        if current is None and not self._warned:
            warnings.warn(
                f"{type(self).__name__} monitors `{self.monitor}`, which is not in the logs "
                f"({', '.join(logs)}){suggest(self.monitor, logs)}",
                stacklevel=3,
            )
            self._warned = True
        return current
