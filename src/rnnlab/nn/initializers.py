"""Keras weight initializers, by name, for tensors in Keras layout.

Keras computes fans from its own layout: a kernel of shape (in, out) has
fan_in = in and fan_out = out (torch's layout is transposed, so
`torch.nn.init.xavier_uniform_` on a Keras-layout tensor would be right only by
symmetry). Every initializer here fills a tensor in Keras layout in place.

An initializer is given as a name (see `INITIALIZERS`), a number (a constant,
like `keras.initializers.Constant(0.03)`), or a callable that fills a tensor in
place (any `torch.nn.init` function works).

>>> w = torch.empty(3, 8)
>>> _ = initialize(w, "glorot_uniform")
>>> bool(w.abs().max() <= (6 / (3 + 8)) ** 0.5)
True
>>> initialize(torch.empty(2), 0.5)
tensor([0.5000, 0.5000])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from rnnlab.errors import InvalidTypeError, check_choice

Initializer = str | float | Callable[[torch.Tensor], Any]

# Keras truncates normals at two standard deviations; this is the std of
# a unit normal truncated so, which Keras divides by to keep the variance.
_TRUNC_STD = 0.87962566103423978


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _variance_scaling(t: torch.Tensor, scale: float, mode: str, distribution: str) -> torch.Tensor:
    fan_in, fan_out = _fans(tuple(t.shape))
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    var = scale / max(1.0, n)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * var)
        return torch.nn.init.uniform_(t, -limit, limit)
    std = math.sqrt(var) / _TRUNC_STD
    return torch.nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std)


INITIALIZERS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "zeros": torch.nn.init.zeros_,
    "ones": torch.nn.init.ones_,
    "uniform": lambda t: torch.nn.init.uniform_(t, -0.05, 0.05),
    "random_uniform": lambda t: torch.nn.init.uniform_(t, -0.05, 0.05),
    "normal": lambda t: torch.nn.init.normal_(t, 0.0, 0.05),
    "random_normal": lambda t: torch.nn.init.normal_(t, 0.0, 0.05),
    "truncated_normal": lambda t: torch.nn.init.trunc_normal_(t, 0.0, 0.05, -0.1, 0.1),
    "glorot_uniform": lambda t: _variance_scaling(t, 1.0, "fan_avg", "uniform"),
    "glorot_normal": lambda t: _variance_scaling(t, 1.0, "fan_avg", "normal"),
    "he_uniform": lambda t: _variance_scaling(t, 2.0, "fan_in", "uniform"),
    "he_normal": lambda t: _variance_scaling(t, 2.0, "fan_in", "normal"),
    "lecun_uniform": lambda t: _variance_scaling(t, 1.0, "fan_in", "uniform"),
    "lecun_normal": lambda t: _variance_scaling(t, 1.0, "fan_in", "normal"),
    # torch's orthogonal_ on an (a, b) tensor makes rows orthonormal when a < b,
    # exactly as keras.initializers.Orthogonal does for the same shape.
    "orthogonal": torch.nn.init.orthogonal_,
}


def check_initializer(name: str, value: Any) -> Initializer:
    """Validate an initializer argument; return it unchanged."""
    if isinstance(value, str):
        check_choice(name, value, INITIALIZERS)
    elif isinstance(value, bool) or not (isinstance(value, numbers.Real) or callable(value)):
        raise InvalidTypeError(
            f"`{name}` must be an initializer name, a number or a callable, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


@torch.no_grad()
def initialize(tensor: torch.Tensor, init: Initializer) -> torch.Tensor:
    """Fill `tensor` (Keras layout) in place with `init`; return it."""
    if isinstance(init, str):
        INITIALIZERS[init](tensor)
    elif callable(init):
        init(tensor)
    else:  # a number (`check_initializer` admits nothing else)
        tensor.fill_(float(init))
    return tensor
