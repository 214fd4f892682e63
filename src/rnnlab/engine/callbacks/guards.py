"""Guards between backward and step: `TerminateOnNaN` and `GradientClipping`."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import torch

from rnnlab.engine.callbacks.base import Callback, state_number
from rnnlab.engine.rng import get_rng_state
from rnnlab.errors import InvalidValueError, check_positive

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer


class TerminateOnNaN(Callback):
    """Stop cleanly at the first batch whose loss (or, optionally, gradient) is not finite.

    The check runs between backward and the optimiser step and skips the bad
    step, so the model keeps the weights of the last good step: nothing
    non-finite ever reaches the weights or the optimiser state. The epoch then
    ends as usual (its logs show the non-finite loss) and fit returns.

    A step can also overflow the weights from a finite loss and finite gradients
    (a learning rate far too high); the next loss is then NaN, but the weights
    already are. ``check_weights=True`` catches that step itself: it keeps a copy
    of the weights and optimiser state before each step, and when the step leaves
    a weight non-finite, puts the copy back and stops.

    With checkpoints (a `Checkpoint` callback, or ``fit(checkpoint_dir=...)``),
    the last good state is also what is saved: the state just before the bad
    batch (weights, optimiser, running sums, every random generator, the
    position), and no later save of that fit replaces it. A resumed run
    continues from there, so after a fix that makes the batch finite (a lower
    learning rate, repaired data) it ends as if the bad step never happened;
    with nothing changed it meets the same batch and stops again.

    Args:
        check_gradients: also check every gradient (one extra pass over them per
            batch); catches a finite loss with overflowing gradients.
        check_weights: also check the weights after every step, undoing a step
            that makes one non-finite (a copy of the weights and optimiser state
            per batch: use it where that cost is small).

    Attributes:
        reason: why training stopped, or None; also in ``trainer.stop_reason``.
        stopped_at: (epoch, batch) of the bad batch, or None.
    """

    order = -10  # before anything else looks at the gradients, or at the batch's end

    def __init__(self, check_gradients: bool = False, check_weights: bool = False) -> None:
        self.check_gradients = bool(check_gradients)
        self.check_weights = bool(check_weights)
        self.reason: str | None = None
        self.stopped_at: tuple[int, int] | None = None
        self._before: dict[str, Any] | None = None
        self._weights: tuple[list[torch.Tensor], dict[str, Any]] | None = None

    def on_fit_begin(self, trainer: Trainer) -> None:
        self.reason = None
        self.stopped_at = None
        self._before = None
        self._weights = None

    def on_batch_begin(self, trainer: Trainer, batch: int) -> None:
        # Where the run stands before this batch draws anything (dropout masks): what a
        # checkpoint of the last good state holds. Only needed with checkpoints.
        if trainer.checkpoints:
            data_rng = trainer._data_rng(trainer._train)
            if trainer.batch == 0 and trainer._epoch_data_rng is not None:
                data_rng = trainer._epoch_data_rng  # before this epoch's shuffle was drawn
            self._before = {
                "rng": get_rng_state(),
                "data_rng": data_rng,
                "batch": trainer.batch,
                "step": trainer.step,
                "sums": dict(trainer._sums),
                "count": trainer._count,
            }

    def on_after_backward(self, trainer: Trainer, batch: int, loss: torch.Tensor) -> None:
        value = float(loss)
        what = None
        if not math.isfinite(value):
            what = f"the loss is {value}"
        elif self.check_gradients:
            for name, p in trainer.model.named_parameters():
                if p.grad is not None and not torch.isfinite(p.grad).all():
                    what = f"the gradient of `{name}` is not finite"
                    break
        if what is None:
            if self.check_weights:
                self._weights = (
                    [p.detach().clone() for p in trainer.model.parameters()],
                    copy.deepcopy(trainer.optimizer.state_dict()),
                )
            return
        trainer.skip_step = True
        self._stop(trainer, batch, what, "skipped")

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, float]) -> None:
        if not self.check_weights or self._weights is None or trainer.stop_training:
            return
        bad = next(
            (n for n, p in trainer.model.named_parameters() if not torch.isfinite(p).all()), None
        )
        if bad is None:
            return
        weights, optimizer_state = self._weights
        with torch.no_grad():
            for p, old in zip(trainer.model.parameters(), weights, strict=True):
                p.copy_(old)
        trainer.optimizer.load_state_dict(optimizer_state)
        self._stop(trainer, batch, f"the step made `{bad}` non-finite", "undone")

    def _stop(self, trainer: Trainer, batch: int, what: str, action: str) -> None:
        self._save_last_good_state(trainer)
        self.stopped_at = (trainer.epoch, batch)
        self.reason = (
            f"TerminateOnNaN: {what} in epoch {trainer.epoch + 1}, batch {batch + 1}; that step "
            f"was {action}, the weights are those of the last finite step"
        )
        if trainer.checkpoints:
            self.reason += " (saved in the checkpoint, which a resumed run continues from)"
            for cb in trainer.checkpoints:
                cb.hold(self.reason)
        trainer.stop(self.reason)

    def _save_last_good_state(self, trainer: Trainer) -> None:
        """Checkpoint the state before this batch: its step undone, its sums not added."""
        before = self._before
        if not trainer.checkpoints or before is None:
            return
        state = trainer.state_dict()  # taken before this callback records the stop
        state["position"].update(batch=before["batch"], step=before["step"])
        state["sums"], state["count"] = before["sums"], before["count"]
        state["rng"], state["data_rng"] = before["rng"], before["data_rng"]
        state["epoch_data_rng"] = trainer._epoch_data_rng if before["batch"] else None
        for cb in trainer.checkpoints:
            if cb.held is None:
                cb.write(state)

    def state_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "stopped_at": self.stopped_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        reason, at = state["reason"], state["stopped_at"]
        if reason is not None and not isinstance(reason, str):
            raise InvalidValueError("the checkpointed state of TerminateOnNaN has no valid reason")
        self.reason = reason
        self.stopped_at = (
            None
            if at is None
            else (state_number(self, "epoch", at[0]), state_number(self, "batch", at[1]))
        )

    def __repr__(self) -> str:
        return (
            f"TerminateOnNaN(check_gradients={self.check_gradients}, "
            f"check_weights={self.check_weights})"
        )


class GradientClipping(Callback):
    """Clip gradients before each optimiser step, with Keras' three options (give exactly one).

    Args:
        clipnorm: clip each parameter's gradient to this L2 norm on its own
            (Keras ``clipnorm``: ``g * clipnorm / max(||g||, clipnorm)``).
        global_clipnorm: scale all gradients together so their joint L2 norm is
            at most this (Keras ``global_clipnorm``, torch ``clip_grad_norm_``).
        clipvalue: clamp every gradient element to [-clipvalue, clipvalue].

    Attributes:
        last_norm: the joint L2 norm of the gradients before clipping, at the last batch.
    """

    def __init__(
        self,
        clipnorm: float | None = None,
        global_clipnorm: float | None = None,
        clipvalue: float | None = None,
    ) -> None:
        given = {
            k: v
            for k, v in (
                ("clipnorm", clipnorm),
                ("global_clipnorm", global_clipnorm),
                ("clipvalue", clipvalue),
            )
            if v is not None
        }
        if len(given) != 1:
            raise InvalidValueError(
                "GradientClipping needs exactly one of `clipnorm`, `global_clipnorm`, `clipvalue`, "
                f"got {', '.join(given) or 'none'}"
            )
        ((self.kind, value),) = given.items()
        self.value = check_positive(self.kind, value, integer=False)
        self.last_norm: float | None = None

    def on_after_backward(self, trainer: Trainer, batch: int, loss: torch.Tensor) -> None:
        grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
        if not grads:
            return
        if self.kind == "global_clipnorm":
            self.last_norm = float(
                torch.nn.utils.clip_grad_norm_(
                    [p for p in trainer.model.parameters() if p.grad is not None], self.value
                )
            )
            return
        norms = torch.stack([torch.linalg.vector_norm(g.detach().float()) for g in grads])
        self.last_norm = float(torch.linalg.vector_norm(norms))
        if self.kind == "clipnorm":
            for g, norm in zip(grads, norms):
                g.mul_((self.value / torch.clamp(norm, min=self.value)).to(g.dtype))
        else:
            for g in grads:
                g.clamp_(-self.value, self.value)

    def __repr__(self) -> str:
        return f"GradientClipping({self.kind}={self.value})"
