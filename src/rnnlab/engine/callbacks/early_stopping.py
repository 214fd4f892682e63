"""`EarlyStopping` with Keras 3 semantics (patience, min_delta, baseline, restore_best_weights)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from rnnlab.engine.callbacks.base import state_number
from rnnlab.engine.callbacks.monitor import MonitorCallback
from rnnlab.engine.metrics import monitor_mode
from rnnlab.errors import InvalidValueError, check_int, check_positive, check_type

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer


def snapshot(model: Any) -> dict[str, Any]:
    """A detached copy of a module's state (weights and buffers)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    An epoch improves when its value beats the best so far by more than
    ``min_delta`` (Keras: ``current - min_delta < best`` in 'min' mode). The
    counter restarts only when the value also beats ``baseline`` (if given).
    Training never stops in epoch 0, as in Keras.

    Args:
        monitor: a key of the epoch logs, e.g. 'val_loss' or 'val_accuracy'.
        min_delta: the smallest change that counts as an improvement (>= 0).
        patience: epochs without improvement before stopping.
        mode: 'min', 'max' or 'auto' (from the name: losses go down, accuracies up).
        baseline: a value the monitor must beat to reset the counter.
        restore_best_weights: when fit ends, put back the weights of the best
            epoch (Keras 3 does so whether or not training stopped early).
        start_from_epoch: epochs of warm-up during which nothing is tracked.

    Attributes:
        best, best_epoch, wait, stopped_epoch: as in Keras (stopped_epoch 0 = never stopped).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        self.monitor = check_type("monitor", monitor, str)
        self.min_delta = check_positive("min_delta", min_delta, integer=False, allow_zero=True)
        self.patience = check_int("patience", patience, minimum=0)
        self.mode = monitor_mode(monitor, mode)
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, minimum=0)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.best_weights: dict[str, Any] | None = None
        self._warned = False

    def on_fit_begin(self, trainer: Trainer) -> None:
        self._reset()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        current = self.monitored(logs)
        if current is None:
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = snapshot(trainer.model)
            self.best_epoch = epoch
        self.wait += 1
        if self.improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = snapshot(trainer.model)
            if self.baseline is None or self.improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            trainer.stop(
                f"EarlyStopping: `{self.monitor}` did not improve for {self.wait} epochs "
                f"(best {self.best:.6g} in epoch {self.best_epoch + 1})"
            )

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait = state_number(self, "wait", state["wait"])
        self.stopped_epoch = state_number(self, "stopped_epoch", state["stopped_epoch"])
        self.best = state_number(self, "best", state["best"], allow_none=True)
        self.best_epoch = state_number(self, "best_epoch", state["best_epoch"])
        weights = state["best_weights"]
        if weights is not None and not (
            isinstance(weights, dict) and all(isinstance(v, torch.Tensor) for v in weights.values())
        ):
            raise InvalidValueError(
                "the checkpointed state of EarlyStopping has `best_weights` that are not tensors"
            )
        self.best_weights = weights

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor='{self.monitor}', patience={self.patience}, "
            f"mode='{self.mode}', restore_best_weights={self.restore_best_weights})"
        )
