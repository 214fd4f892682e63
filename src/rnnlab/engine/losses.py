"""Losses by name, per sample, and class weighting with Keras semantics.

A loss is a callable ``loss(outputs, target)`` returning either per-sample
values of shape (batch,) or a scalar. The trainer averages per-sample values
over the batch, after multiplying them by the class weights when there are
some (a scalar loss cannot be class-weighted). Models output logits: every
named classification loss applies its softmax / sigmoid itself.

Class weights follow Keras: sample i gets weight ``w[class_i]`` and the batch
loss is ``sum_i w[class_i] * loss_i / batch_size`` (torch's ``weight=``
argument divides by the sum of the weights instead).

>>> import math
>>> outputs = torch.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]])  # p = [1/4, 3/4]
>>> target = torch.tensor([0, 1])
>>> values = get_loss("cross_entropy")(outputs, target)
>>> [round(v, 4) for v in values.tolist()], round(math.log(4), 4), round(math.log(4 / 3), 4)
([1.3863, 0.2877], 1.3863, 0.2877)
>>> round(weighted_mean(values, class_indices(outputs, target), torch.tensor([2.0, 1.0])).item(), 4)
1.5301
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from rnnlab.errors import DataError, InvalidTypeError, InvalidValueError, check_choice

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _per_sample(values: torch.Tensor) -> torch.Tensor:
    """Average every axis but the first: (batch, ...) -> (batch,)."""
    return values.reshape(values.shape[0], -1).mean(dim=1) if values.ndim > 1 else values


def _like(target: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """A float target shaped like ``outputs`` ((batch,) vs (batch, 1) both accepted)."""
    target = target.to(outputs.dtype)
    if target.shape != outputs.shape and target.numel() == outputs.numel():
        target = target.reshape(outputs.shape)
    return target


def cross_entropy(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy with integer class targets.

    Args:
        outputs: (batch, classes) or (batch, ..., classes) logits.
        target: (batch,) or (batch, ...) integer class indices.

    Returns:
        (batch,) per-sample losses.
    """
    classes = outputs.shape[-1]
    values = F.cross_entropy(
        outputs.reshape(-1, classes), target.reshape(-1).long(), reduction="none"
    )
    return _per_sample(values.reshape(target.shape))


def categorical_crossentropy(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy with one-hot or probability targets (Keras' name).

    Args:
        outputs: (batch, classes) logits.
        target: (batch, classes) one-hot rows or probabilities.
    """
    return _per_sample(-(target.to(outputs.dtype) * F.log_softmax(outputs, dim=-1)).sum(dim=-1))


def binary_crossentropy(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sigmoid cross-entropy for one logit per sample.

    Args:
        outputs: (batch,) or (batch, 1) logits.
        target: same number of elements, 0/1 labels or probabilities.
    """
    values = F.binary_cross_entropy_with_logits(outputs, _like(target, outputs), reduction="none")
    return _per_sample(values)


def mse(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample (averaged over the non-batch axes)."""
    return _per_sample((outputs - _like(target, outputs)) ** 2)


def mae(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per sample (averaged over the non-batch axes)."""
    return _per_sample((outputs - _like(target, outputs)).abs())


LOSSES: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "sparse_categorical_crossentropy": cross_entropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mse": mse,
    "mean_squared_error": mse,
    "mae": mae,
    "mean_absolute_error": mae,
}

# How `Trainer.predict_proba` turns each named loss's logits into probabilities.
PROBABILITY = {
    "cross_entropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
    "categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
}


def get_loss(loss: str | LossFn) -> LossFn:
    """Return the loss callable for a name in `LOSSES`, or ``loss`` itself if it is callable."""
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise InvalidTypeError(
            f"`loss` must be a loss name or a callable, got {type(loss).__name__} {loss!r}"
        )
    return LOSSES[check_choice("loss", loss, list(LOSSES))]


def class_indices(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The class each sample belongs to, for class weighting: (batch,) int64.

    Integer targets are the classes; one-hot / probability targets shaped like
    the outputs give their argmax; a single logit gives ``target > 0.5``.
    """
    if outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[-1] == 1):
        return (target.reshape(-1) > 0.5).long()
    if target.is_floating_point() and target.shape == outputs.shape:
        return target.argmax(dim=-1).reshape(target.shape[0], -1)[:, 0]
    return target.reshape(target.shape[0], -1)[:, 0].long()


def weighted_mean(
    values: torch.Tensor, classes: torch.Tensor, class_weight: torch.Tensor
) -> torch.Tensor:
    """Keras class-weighted mean: ``sum_i w[classes_i] * values_i / batch``.

    Args:
        values: (batch,) per-sample losses.
        classes: (batch,) int64 class of each sample.
        class_weight: (num_classes,) weights.
    """
    top = int(classes.max())
    if top >= class_weight.shape[0]:
        raise DataError(
            f"`class_weight` gives weights for classes 0..{class_weight.shape[0] - 1}, "
            f"but the targets hold class {top}"
        )
    return (values * class_weight[classes]).mean()


def class_weight_tensor(class_weight: object) -> torch.Tensor | None:
    """Normalise ``{class: weight}`` or a sequence of weights to a float tensor.

    Classes missing from a dict get weight 1.

    >>> class_weight_tensor({0: 1.0, 2: 5.0}).tolist()
    [1.0, 1.0, 5.0]
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, dict):
        if not class_weight:
            raise InvalidValueError(
                "`class_weight` is an empty dict; pass None for no class weights"
            )
        keys = list(class_weight)
        if any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in keys):
            raise InvalidValueError(f"`class_weight` keys must be class indices >= 0, got {keys}")
        weights = torch.ones(max(keys) + 1)
        for k, w in class_weight.items():
            weights[k] = float(w)
    else:
        try:
            weights = torch.as_tensor(class_weight, dtype=torch.get_default_dtype())
        except (TypeError, ValueError, RuntimeError):
            raise InvalidTypeError(
                "`class_weight` must be a dict {class: weight} or a sequence of weights, "
                f"got {type(class_weight).__name__}"
            ) from None
        if weights.ndim != 1 or weights.numel() == 0:
            raise InvalidValueError(
                f"`class_weight` must be one weight per class, got shape {tuple(weights.shape)}"
            )
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise InvalidValueError(
            f"`class_weight` must hold finite weights >= 0, got {weights.tolist()}"
        )
    return weights
