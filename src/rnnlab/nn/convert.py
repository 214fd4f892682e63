"""Weight conversion between Keras layout and torch's nn.LSTM / nn.GRU / nn.RNN layout.

Keras (what `get_weights()` returns, and what rnnlab stores):
    kernel (in, k*units), recurrent_kernel (units, k*units), bias (k*units,)
    or, for a GRU with reset_after=True, bias (2, 3*units) = [input bias; recurrent bias].
torch (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`):
    weight_ih (k*units, in), weight_hh (k*units, units), two biases (k*units,).

Gate orders: an LSTM is i, f, c, o in Keras and i, f, g, o in torch, the same
order under other names, so LSTM weights are only transposed and torch's two
biases are summed (Keras to torch: bias_ih = bias, bias_hh = 0). A GRU is
z, r, h in Keras and r, z, n in torch: the first two blocks swap. torch's GRU is
the reset-after formulation, so a Keras GRU with reset_after=False has no torch
equivalent. The conversions are differentiable: the fast path runs torch's
fused kernels on converted Keras-layout parameters and gradients flow back.

>>> k, rk, b = torch.randn(3, 8), torch.randn(2, 8), torch.randn(8)
>>> w_ih, w_hh, b_ih, b_hh = keras_to_torch("lstm", k, rk, b)
>>> tuple(w_ih.shape), tuple(w_hh.shape)
((8, 3), (8, 2))
>>> back = torch_to_keras("lstm", w_ih, w_hh, b_ih, b_hh)
>>> all(torch.equal(a, b) for a, b in zip(back, (k, rk, b)))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice

KINDS = ("simple_rnn", "lstm", "gru")


def check_keras_weights(
    owner: str,
    weights: Sequence[Any],
    shapes: Sequence[tuple[int, ...]],
    names: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Check a Keras `get_weights()`-style list against the expected shapes.

    Args:
        owner: the layer's name, for messages.
        weights: arrays (numpy, torch or nested lists).
        shapes: expected shapes, in order.
        names: of the arrays, for messages.

    Returns:
        The weights as numpy arrays.

    >>> check_keras_weights("LSTM", [np.zeros((3, 8))], [(3, 8), (2, 8)])
    Traceback (most recent call last):
    ...
    rnnlab.errors.InvalidValueError: LSTM expects 2 weight arrays with shapes [(3, 8), (2, 8)], got 1
    """
    if isinstance(weights, (str, bytes, np.ndarray, torch.Tensor)) or not isinstance(
        weights, Sequence
    ):
        raise InvalidTypeError(f"`weights` must be a list of arrays, got {type(weights).__name__}")
    if len(weights) != len(shapes):
        raise InvalidValueError(
            f"{owner} expects {len(shapes)} weight arrays with shapes "
            f"{[tuple(s) for s in shapes]}, got {len(weights)}"
        )
    out = []
    for i, (w, shape) in enumerate(zip(weights, shapes)):
        arr = w.detach().cpu().numpy() if isinstance(w, torch.Tensor) else np.asarray(w)
        name = f" ({names[i]})" if names is not None else ""
        if arr.shape != tuple(shape):
            raise InvalidValueError(
                f"{owner} weight {i}{name} must have shape {tuple(shape)}, got {arr.shape}"
            )
        if arr.dtype.kind not in "fiu":
            raise InvalidTypeError(
                f"{owner} weight {i}{name} must be numeric, got dtype {arr.dtype}"
            )
        out.append(arr)
    return out


def _swap_zr(t: torch.Tensor, dim: int) -> torch.Tensor:
    # Keras z, r, h <-> torch r, z, n: swapping the first two blocks is its own inverse.
    a, b, c = t.chunk(3, dim)
    return torch.cat([b, a, c], dim)


def keras_to_torch(
    kind: str,
    kernel: torch.Tensor,
    recurrent_kernel: torch.Tensor,
    bias: torch.Tensor | None,
    *,
    reset_after: bool = True,
) -> list[torch.Tensor]:
    """Keras-layout tensors to torch's [weight_ih, weight_hh(, bias_ih, bias_hh)].

    Differentiable (views where possible). `kind` is 'simple_rnn', 'lstm' or 'gru'.
    """
    check_choice("kind", kind, KINDS)
    if kind == "gru":
        if not reset_after:
            raise InvalidValueError(
                "a GRU with reset_after=False has no torch equivalent "
                "(torch's GRU applies the reset gate after the matmul)"
            )
        w_ih = _swap_zr(kernel, 1).t()
        w_hh = _swap_zr(recurrent_kernel, 1).t()
        if bias is None:
            return [w_ih, w_hh]
        return [w_ih, w_hh, _swap_zr(bias[0], 0), _swap_zr(bias[1], 0)]
    w_ih, w_hh = kernel.t(), recurrent_kernel.t()
    if bias is None:
        return [w_ih, w_hh]
    return [w_ih, w_hh, bias, torch.zeros_like(bias)]


def torch_to_keras(
    kind: str,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """torch-layout tensors to Keras [kernel, recurrent_kernel(, bias)].

    The two torch biases are summed (SimpleRNN, LSTM) or stacked as the
    (2, 3*units) reset-after bias (GRU).
    """
    check_choice("kind", kind, KINDS)
    if (bias_ih is None) != (bias_hh is None):
        raise InvalidValueError("pass both `bias_ih` and `bias_hh`, or neither")
    if kind == "gru":
        out = [_swap_zr(weight_ih.t(), 1), _swap_zr(weight_hh.t(), 1)]
        if bias_ih is not None and bias_hh is not None:
            out.append(torch.stack([_swap_zr(bias_ih, 0), _swap_zr(bias_hh, 0)]))
        return out
    out = [weight_ih.t(), weight_hh.t()]
    if bias_ih is not None and bias_hh is not None:
        out.append(bias_ih + bias_hh)
    return out


_TORCH_CLASSES = {"simple_rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def torch_kind(module: nn.Module) -> str:
    """'lstm', 'gru' or 'simple_rnn' for a torch recurrent module; checks it is convertible."""
    kind = next((k for k, cls in _TORCH_CLASSES.items() if type(module) is cls), None)
    if kind is None:
        raise InvalidTypeError(
            f"`module` must be a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}"
        )
    if module.num_layers != 1:
        raise InvalidValueError(
            f"`module` must have num_layers=1 (stack rnnlab layers instead), "
            f"got {module.num_layers}"
        )
    if getattr(module, "proj_size", 0):
        raise InvalidValueError(f"`module` must have proj_size=0, got {module.proj_size}")
    return kind


@torch.no_grad()
def module_weights_to_keras(module: nn.Module, reverse: bool = False) -> list[torch.Tensor]:
    """Keras-layout weights of a one-layer torch module (`reverse`: its backward direction)."""
    kind = torch_kind(module)
    sfx = "_l0_reverse" if reverse else "_l0"
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if module.bias else [])
    return [w.clone() for w in torch_to_keras(kind, *(getattr(module, n + sfx) for n in names))]


def make_torch_module(
    kind: str,
    keras_weights: Sequence[Sequence[torch.Tensor]],
    *,
    nonlinearity: str = "tanh",
) -> nn.Module:
    """A batch-first torch nn.RNN/LSTM/GRU holding copies of Keras-layout weights.

    Args:
        kind: 'simple_rnn', 'lstm' or 'gru' (a GRU must be reset-after).
        keras_weights: one [kernel, recurrent_kernel(, bias)] list per direction
            (two lists make a bidirectional module).
        nonlinearity: of an nn.RNN ('tanh' or 'relu').
    """
    kernel, rk = keras_weights[0][0], keras_weights[0][1]
    has_bias = len(keras_weights[0]) == 3
    kwargs: dict[str, Any] = {
        "input_size": kernel.shape[0],
        "hidden_size": rk.shape[0],
        "bias": has_bias,
        "batch_first": True,
        "bidirectional": len(keras_weights) == 2,
        "dtype": kernel.dtype,
        "device": kernel.device,
    }
    if kind == "simple_rnn":
        kwargs["nonlinearity"] = nonlinearity
    module = _TORCH_CLASSES[kind](**kwargs)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if has_bias else [])
    with torch.no_grad():
        for weights, sfx in zip(keras_weights, ("_l0", "_l0_reverse")):
            bias = weights[2] if has_bias else None
            for name, t in zip(names, keras_to_torch(kind, weights[0], weights[1], bias)):
                getattr(module, name + sfx).copy_(t)
    return module
