"""Learning-rate schedules: `LRScheduler` wraps any torch scheduler; `ReduceLROnPlateau`
follows Keras."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau as TorchPlateau

from rnnlab.engine.callbacks.base import Callback, state_number
from rnnlab.engine.callbacks.monitor import MonitorCallback
from rnnlab.engine.metrics import monitor_mode
from rnnlab.errors import (
    InvalidTypeError,
    InvalidValueError,
    UnknownKeyError,
    check_choice,
    check_int,
    check_positive,
    check_type,
    suggest,
)

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer

SchedulerFactory = Callable[[torch.optim.Optimizer], Any]


def _is_scheduler(obj: Any) -> bool:
    """A scheduler instance (a class is a factory: it is called with the optimiser)."""
    return not isinstance(obj, type) and callable(getattr(obj, "step", None))


class LRScheduler(Callback):
    """Steps a torch learning-rate scheduler once per epoch or once per batch.

    Args:
        scheduler: a scheduler already built on ``trainer.optimizer``, or a
            factory ``optimizer -> scheduler`` called when fit starts (handy
            because the trainer builds the optimiser), e.g.
            ``lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2)``.
        step_every: 'epoch' (after each epoch) or 'batch' (after each optimiser step).
        monitor: for torch's ``ReduceLROnPlateau`` only, the log key passed to
            ``step()`` at each epoch end (default 'val_loss').

    The scheduler's state is checkpointed, so a resumed run continues the schedule.
    """

    def __init__(
        self,
        scheduler: Any | SchedulerFactory,
        step_every: str = "epoch",
        monitor: str = "val_loss",
    ) -> None:
        if not _is_scheduler(scheduler) and not callable(scheduler):
            raise InvalidTypeError(
                "`scheduler` must be a torch LR scheduler or a function optimizer -> scheduler, "
                f"got {type(scheduler).__name__}"
            )
        self._given = scheduler
        self.step_every = check_choice("step_every", step_every, ("epoch", "batch"))
        self.monitor = check_type("monitor", monitor, str)
        self.scheduler: Any = None

    def on_fit_begin(self, trainer: Trainer) -> None:
        if _is_scheduler(self._given):
            self.scheduler = self._given
        else:
            self.scheduler = self._given(trainer.optimizer)
        if getattr(self.scheduler, "optimizer", trainer.optimizer) is not trainer.optimizer:
            raise InvalidValueError(
                "the scheduler given to LRScheduler drives another optimiser than the trainer's; "
                "pass a factory, e.g. LRScheduler(lambda opt: StepLR(opt, step_size=2))"
            )
        if isinstance(self.scheduler, TorchPlateau) and self.step_every != "epoch":
            raise InvalidValueError(
                "ReduceLROnPlateau needs an epoch metric: use step_every='epoch'"
            )

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, float]) -> None:
        if self.step_every == "batch":
            self.scheduler.step()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.step_every != "epoch":
            return
        if isinstance(self.scheduler, TorchPlateau):
            if self.monitor not in logs:
                raise UnknownKeyError(
                    f"LRScheduler monitors `{self.monitor}`, which is not in the logs "
                    f"({', '.join(logs)}){suggest(self.monitor, logs)}"
                )
            self.scheduler.step(logs[self.monitor])
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()} if self.scheduler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])

    def __repr__(self) -> str:
        name = type(self.scheduler or self._given).__name__
        return f"LRScheduler({name}, step_every='{self.step_every}')"


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls (Keras 3 semantics).

    After ``patience`` epochs without an improvement larger than ``min_delta``,
    every parameter group's rate becomes ``max(lr * factor, min_lr)`` (groups
    already at ``min_lr`` stay), then ``cooldown`` epochs pass before counting again.

    Args:
        monitor: a key of the epoch logs.
        factor: in (0, 1).
        patience: epochs without improvement before reducing.
        mode: 'min', 'max' or 'auto'.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the floor.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        self.monitor = check_type("monitor", monitor, str)
        factor = check_positive("factor", factor, integer=False)
        if factor >= 1.0:
            raise InvalidValueError(
                f"`factor` must be in (0, 1): it multiplies the learning rate, got {factor}"
            )
        self.factor = factor
        self.patience = check_int("patience", patience, minimum=0)
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = check_positive("min_delta", min_delta, integer=False, allow_zero=True)
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_positive("min_lr", min_lr, integer=False, allow_zero=True)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0
        self._warned = False

    def on_fit_begin(self, trainer: Trainer) -> None:
        self._reset()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        current = self.monitored(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improves(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                reduced = False
                for group in trainer.optimizer.param_groups:
                    # Keras compares against the float32 floor.
                    if group["lr"] > float(torch.tensor(self.min_lr, dtype=torch.float32)):
                        group["lr"] = max(group["lr"] * self.factor, self.min_lr)
                        reduced = True
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state_number(self, "best", state["best"], allow_none=True)
        self.wait = state_number(self, "wait", state["wait"])
        self.cooldown_counter = state_number(self, "cooldown_counter", state["cooldown_counter"])

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(monitor='{self.monitor}', factor={self.factor}, "
            f"patience={self.patience})"
        )
