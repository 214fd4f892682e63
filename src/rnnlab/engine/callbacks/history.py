"""`History`: every epoch's metrics, Keras style (``history.history["val_loss"]``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnlab.engine.callbacks.base import Callback, state_number

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer


class History(Callback):
    """Records the logs of each epoch. `Trainer.fit` always has one and returns it.

    Attributes:
        epoch: the indices of the recorded epochs.
        history: metric name -> one value per recorded epoch, e.g.
            ``{"loss": [...], "accuracy": [...], "val_loss": [...], "learning_rate": [...]}``.

    >>> h = History()
    >>> h.on_fit_begin(None)
    >>> h.on_epoch_end(None, 0, {"loss": 0.5, "val_loss": 0.6})
    >>> h.history, h.epoch
    ({'loss': [0.5], 'val_loss': [0.6]}, [0])
    """

    order = 50  # after callbacks that add to the logs

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_fit_begin(self, trainer: Trainer) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = [state_number(self, "epoch", e) for e in state["epoch"]]
        self.history = {
            str(k): [state_number(self, f"history.{k}", x) for x in v]
            for k, v in state["history"].items()
        }

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
