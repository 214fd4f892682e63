"""`Callback`: the one base class of everything that hooks into `Trainer.fit`.

Every hook does nothing by default; a callback overrides the few it needs.
The trainer calls all of them through one method, `Trainer.dispatch`, in the
order of their ``order`` attribute (stable for equal values):

    on_fit_begin
    for each epoch:
        on_epoch_begin
        for each batch:
            on_batch_begin
            (forward, loss, backward)
            on_after_backward      between backward and the optimiser step
            on_batch_end           logs hold the epoch's running averages
        (validation)
        on_epoch_end           logs hold the epoch's metrics, val_ ones too
    on_fit_end                 only when fit returns normally

Hooks receive the trainer and read or change its state: ``trainer.model``,
``trainer.optimizer``, ``trainer.epoch``, ``trainer.batch``,
``trainer.stop(reason)``, ``trainer.skip_step``.

Resume. A callback with state that matters for the rest of the run returns
it from `state_dict` (tensors, numbers, strings, None and lists / tuples /
dicts of them only) and takes it back in `load_state_dict`. Checkpoints store
it; a resumed fit calls ``on_fit_begin`` first and ``load_state_dict`` after,
so resetting in ``on_fit_begin`` is safe. When a run resumes mid-epoch,
``on_epoch_begin`` runs again for that epoch with ``trainer.batch`` already
past the finished batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from rnnlab.errors import InvalidValueError

if TYPE_CHECKING:  # the trainer imports callbacks, not the other way round
    from rnnlab.engine.trainer import Trainer


class Callback:
    """Base class: hooks that do nothing, and an empty state.

    Attributes:
        order: dispatch position; lower runs first. Callbacks that read what
            others wrote run late: History 50, ProgressBar 60, checkpoints 100
            (so a checkpoint holds every other callback's state for the epoch).
    """

    order: int = 0

    def on_fit_begin(self, trainer: Trainer) -> None:
        """Called once when `Trainer.fit` starts (also when it resumes a run)."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once when `Trainer.fit` finishes normally."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Called before the first batch of epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        """Called after validation, with the epoch's metrics (``val_`` prefix for validation)."""

    def on_batch_begin(self, trainer: Trainer, batch: int) -> None:
        """Called before training batch ``batch`` (0-based within the epoch)."""

    def on_after_backward(self, trainer: Trainer, batch: int, loss: torch.Tensor) -> None:
        """Called after ``loss.backward()`` and before the optimiser step.

        Gradients are in ``p.grad``; set ``trainer.skip_step = True`` to skip this
        batch's step. ``loss`` is the detached scalar batch loss.
        """

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, float]) -> None:
        """Called after the optimiser step, with the epoch's running averages so far."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint for resuming; empty for stateless callbacks."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def state_number(owner: Callback, key: str, value: Any, allow_none: bool = False) -> Any:
    """``value`` from a checkpointed state, refused unless it is a number (or None if allowed).

    A checkpoint passes its checksum only as written; this catches a state written
    wrongly (by another program), before a comparison deep in training fails on it.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidValueError(
            f"the checkpointed state of {type(owner).__name__} has `{key}` = {value!r:.40}, "
            "not a number"
        )
    return value


HOOKS = (
    "on_fit_begin",
    "on_fit_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_begin",
    "on_after_backward",
    "on_batch_end",
)
