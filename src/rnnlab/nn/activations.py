"""Keras activation names mapped to torch functions.

>>> get_activation("activation", "hard_sigmoid")(torch.tensor([-3.0, 0.0, 3.0]))
tensor([0.0000, 0.5000, 1.0000])
>>> activation_name(torch.tanh)
'tanh'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from rnnlab.errors import InvalidTypeError, check_choice

Activation = Callable[[torch.Tensor], torch.Tensor]


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


ACTIVATIONS: dict[str, Activation] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "linear": _linear,
    # Keras 3's hard_sigmoid is relu6(x + 3) / 6, which is torch's hardsigmoid.
    "hard_sigmoid": F.hardsigmoid,
    "softsign": F.softsign,
    "elu": F.elu,
    "selu": F.selu,
    "silu": F.silu,
    "swish": F.silu,
}


def get_activation(name: str, value: Any) -> Activation:
    """Resolve an activation argument (name, None for linear, or callable).

    Args:
        name: the argument's name, for the error message.
        value: a key of `ACTIVATIONS`, None (linear) or a callable on tensors.
    """
    if value is None:
        return _linear
    if isinstance(value, str):
        return ACTIVATIONS[check_choice(name, value, ACTIVATIONS)]
    if callable(value):
        return value
    raise InvalidTypeError(
        f"`{name}` must be an activation name, None or a callable, "
        f"got {type(value).__name__} {value!r}"
    )


def activation_name(fn: Activation) -> str | None:
    """The first name under which `fn` is registered, or None for a custom callable."""
    for key, f in ACTIVATIONS.items():
        if f is fn:
            return key
    return None
