"""Per-sample metrics, averaged over an epoch, and which way each one improves.

A metric is a callable ``metric(outputs, target)`` returning one value per
sample, shape (batch,). The trainer sums those values over the epoch and
divides by the number of samples, so an epoch's accuracy is exact however the
batches fall. Outputs are logits, as everywhere in the engine.

>>> logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
>>> accuracy(logits, torch.tensor([0, 0, 0])).tolist()               # integer targets
[1.0, 0.0, 1.0]
>>> accuracy(logits, torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])).tolist()  # one-hot
[1.0, 1.0, 0.0]
>>> accuracy(torch.tensor([[-2.0], [0.5]]), torch.tensor([0, 0])).tolist()        # one logit
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice

MetricFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _is_binary(outputs: torch.Tensor) -> bool:
    return outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[-1] == 1)


def _per_sample(values: torch.Tensor) -> torch.Tensor:
    values = values.to(torch.get_default_dtype())
    return values.reshape(values.shape[0], -1).mean(dim=1) if values.ndim > 1 else values


def accuracy(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1.0 where the prediction is right, per sample: (batch,).

    Handles three layouts:
    - integer class targets (batch,) against (batch, classes) logits;
    - one-hot or probability targets shaped like the logits (argmax against argmax);
    - one logit per sample, (batch,) or (batch, 1), against 0/1 targets
      (predicted positive when the logit is > 0, i.e. probability > 0.5).
    """
    if _is_binary(outputs):
        predicted = outputs.reshape(-1) > 0
        return _per_sample(predicted == (target.reshape(-1) > 0.5))
    predicted = outputs.argmax(dim=-1)
    if target.is_floating_point() and target.shape == outputs.shape:
        target = target.argmax(dim=-1)
    return _per_sample(predicted == target.reshape(predicted.shape))


def top_k_accuracy(k: int) -> MetricFn:
    """A metric that is 1.0 where the true class is among the ``k`` largest logits.

    >>> top_k_accuracy(2)(torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([1])).tolist()
    [1.0]
    """

    def metric(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.is_floating_point() and target.shape == outputs.shape:
            target = target.argmax(dim=-1)
        top = outputs.topk(min(k, outputs.shape[-1]), dim=-1).indices
        return _per_sample((top == target.unsqueeze(-1)).any(dim=-1))

    metric.__name__ = f"top{k}_accuracy"
    return metric


def mean_absolute_error(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Absolute error per sample, averaged over the non-batch axes."""
    return _per_sample((outputs - target.to(outputs.dtype).reshape(outputs.shape)).abs())


def mean_squared_error(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared error per sample, averaged over the non-batch axes."""
    return _per_sample((outputs - target.to(outputs.dtype).reshape(outputs.shape)) ** 2)


METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "top5_accuracy": top_k_accuracy(5),
    "mae": mean_absolute_error,
    "mse": mean_squared_error,
}

# Names (after dropping 'val_') whose values improve upward / downward.
_UP = ("accuracy", "acc", "auc", "f1", "precision", "recall")
_DOWN = ("loss", "error", "mse", "mae", "perplexity")


def get_metrics(
    metrics: Iterable[str | MetricFn] | Mapping[str, MetricFn] | None,
) -> dict[str, MetricFn]:
    """Resolve metric names / callables to ``{log name: callable}``.

    >>> list(get_metrics(["accuracy", top_k_accuracy(3)]))
    ['accuracy', 'top3_accuracy']
    """
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        items: list[tuple[str, Any]] = list(metrics.items())
    elif isinstance(metrics, (str, bytes)) or callable(metrics):
        raise InvalidTypeError(
            "`metrics` must be a list of metric names or callables, e.g. ['accuracy']"
        )
    else:
        items = []
        for m in metrics:
            if isinstance(m, str):
                items.append((m, METRICS[check_choice("metrics", m, list(METRICS))]))
            elif callable(m):
                items.append((getattr(m, "__name__", type(m).__name__), m))
            else:
                raise InvalidTypeError(
                    f"`metrics` items must be names or callables, got {type(m).__name__} {m!r}"
                )
    resolved: dict[str, MetricFn] = {}
    for name, fn in items:
        if not callable(fn):
            raise InvalidTypeError(f"metric `{name}` must be callable, got {type(fn).__name__}")
        if name == "loss" or name.startswith("val_") or name in resolved:
            raise InvalidValueError(
                f"metric name `{name}` is reserved or used twice; give it another name"
            )
        resolved[name] = fn
    return resolved


def monitor_mode(monitor: str, mode: str = "auto") -> str:
    """'min' or 'max': which way ``monitor`` improves ('auto' infers it from the name).

    >>> monitor_mode("val_loss"), monitor_mode("val_accuracy"), monitor_mode("x", "max")
    ('min', 'max', 'max')
    """
    check_choice("mode", mode, ("auto", "min", "max"))
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name.endswith(_UP):
        return "max"
    if name.endswith(_DOWN):
        return "min"
    raise InvalidValueError(
        f"cannot tell whether `{monitor}` should go up or down; pass mode='min' or mode='max'"
    )
