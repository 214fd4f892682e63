"""Guards between backward and step: `TerminateOnNaN` and `GradientClipping`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from rnnlab.engine.callbacks.base import Callback, state_number
from rnnlab.errors import InvalidValueError, check_positive

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer


class TerminateOnNaN(Callback):
    """Stop cleanly at the first batch whose loss (or, optionally, gradient) is not finite.

    The check runs between backward and the optimiser step and skips the bad
    step, so the model keeps the weights of the last good step: nothing
    non-finite ever reaches the weights or the optimiser state. The epoch then
    ends as usual (its logs show the non-finite loss) and fit returns.

    Args:
        check_gradients: also check every gradient (one extra pass over them per
            batch); catches a finite loss with overflowing gradients.

    Attributes:
        reason: why training stopped, or None; also in ``trainer.stop_reason``.
        stopped_at: (epoch, batch) of the bad batch, or None.
    """

    order = -10  # before anything else looks at the gradients

    def __init__(self, check_gradients: bool = False) -> None:
        self.check_gradients = bool(check_gradients)
        self.reason: str | None = None
        self.stopped_at: tuple[int, int] | None = None

    def on_fit_begin(self, trainer: Trainer) -> None:
        self.reason = None
        self.stopped_at = None

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
            return
        trainer.skip_step = True
        self.stopped_at = (trainer.epoch, batch)
        self.reason = (
            f"TerminateOnNaN: {what} in epoch {trainer.epoch + 1}, batch {batch + 1}; that step "
            "was skipped, the weights are those of the last finite step"
        )
        trainer.stop(self.reason)

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
        return f"TerminateOnNaN(check_gradients={self.check_gradients})"


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
