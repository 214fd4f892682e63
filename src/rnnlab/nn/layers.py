"""`SimpleRNN`, `LSTM` and `GRU`: Keras's recurrent layers, with Keras's arguments and defaults.

Each builds its cell (`cells.py`) and is otherwise the generic `Recurrent`
layer (`recurrent.py`). Keyword arguments are split between the two: the
cell takes the weights' settings and drop rates, the layer the rest.
"""

from __future__ import annotations

from typing import Any

from rnnlab.errors import InvalidTypeError, suggest
from rnnlab.nn.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnlab.nn.recurrent import Recurrent

_LAYER_ARGS = {
    "return_sequences": False,
    "return_state": False,
    "go_backwards": False,
    "zero_output_for_mask": False,
    "implementation": "auto",
    "shared_dropout_masks": False,
    "seed": None,
}


_CELL_ARGS = (
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "dropout",
    "recurrent_dropout",
)


# Arguments of earlier versions: refused with what replaced them.
_REMOVED_ARGS = {
    "use_fast_path": "`implementation` ('auto', 'fused', 'kernel' or 'loop'; "
    "use_fast_path=False is implementation='loop', True is 'fused')",
}


def _split(owner: str, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split keyword arguments between the cell and the layer; refuse unknown ones."""
    for k in kwargs:
        if k in _REMOVED_ARGS:
            raise InvalidTypeError(f"{owner} got `{k}`, which was replaced by {_REMOVED_ARGS[k]}")
        if k not in _LAYER_ARGS and k not in _CELL_ARGS:
            raise InvalidTypeError(
                f"{owner} got an unexpected argument `{k}`{suggest(k, [*_LAYER_ARGS, *_CELL_ARGS])}"
            )
    layer = {k: kwargs.pop(k) for k in list(kwargs) if k in _LAYER_ARGS}
    return kwargs, layer


class SimpleRNN(Recurrent):
    """Fully connected RNN whose output is fed back as input (Keras `SimpleRNN`).

    h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)

    Args:
        units: size of the output and state.
        input_size: features per step (Keras infers it; torch needs it).
        activation: 'tanh' (default), 'relu', 'linear'/None, or a callable.
        use_bias, kernel_initializer ('glorot_uniform'), recurrent_initializer
            ('orthogonal'), bias_initializer ('zeros'): as Keras. An initializer
            is a name, a number (constant) or an in-place callable.
        dropout, recurrent_dropout: variational drop rates for inputs and state.
        return_sequences, return_state, go_backwards, zero_output_for_mask,
            implementation, shared_dropout_masks, seed: see `Recurrent`.

    Shapes:
        x: (batch, time, input_size) -> (batch, units), or (batch, time, units)
        with return_sequences; the state h is (batch, units).

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> rnn = SimpleRNN(units=4, input_size=1, return_sequences=True)
    >>> rnn(torch.ones(2, 5, 1)).shape
    torch.Size([2, 5, 4])
    >>> out, h = SimpleRNN(units=4, input_size=1, return_state=True)(torch.ones(2, 5, 1))
    >>> out.shape, bool(torch.equal(out, h))
    (torch.Size([2, 4]), True)
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, *, input_size: int, activation: Any = "tanh", **kwargs: Any):
        cell_kwargs, layer_kwargs = _split(type(self).__name__, kwargs)
        super().__init__(
            SimpleRNNCell(units, input_size, activation=activation, **cell_kwargs), **layer_kwargs
        )


class LSTM(Recurrent):
    """Long short-term memory layer (Keras `LSTM`), gate order i, f, c, o.

    i = σ(x W_i + h U_i + b_i)   f = σ(x W_f + h U_f + b_f)   o = σ(x W_o + h U_o + b_o)
    c_t = f * c_{t-1} + i * tanh(x W_c + h U_c + b_c)        h_t = o * tanh(c_t)

    W = kernel (input_size, 4*units), U = recurrent_kernel (units, 4*units), each
    split into the four gates' column blocks in order i, f, c, o; see
    docs/recurrent_layers.md for the full equations and the dropout masks.

    Args:
        units: size of the output and of the states h and c.
        input_size: features per step.
        activation ('tanh'), recurrent_activation ('sigmoid'): of the cell
            candidate / output, and of the gates.
        use_bias, kernel_initializer ('glorot_uniform'), recurrent_initializer
            ('orthogonal'), bias_initializer ('zeros'): as Keras.
        unit_forget_bias: set the forget-gate bias to 1 at init (True).
        dropout, recurrent_dropout: variational drop rates; with
            recurrent_dropout > 0 one mask per gate (Keras implementation 1).
        return_sequences, return_state, go_backwards, zero_output_for_mask,
            implementation, shared_dropout_masks, seed: see `Recurrent`.

    Shapes:
        x: (batch, time, input_size) -> (batch, units), or (batch, time, units)
        with return_sequences; with return_state also h and c, each (batch, units).

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> lstm = LSTM(units=8, input_size=3, return_state=True)
    >>> out, h, c = lstm(torch.randn(2, 5, 3), lengths=torch.tensor([5, 2]))
    >>> out.shape, c.shape
    (torch.Size([2, 8]), torch.Size([2, 8]))
    >>> [w.shape for w in lstm.get_keras_weights()]
    [(3, 32), (8, 32), (32,)]
    """

    cell_class = LSTMCell

    def __init__(
        self,
        units: int,
        *,
        input_size: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        unit_forget_bias: bool = True,
        **kwargs: Any,
    ):
        cell_kwargs, layer_kwargs = _split(type(self).__name__, kwargs)
        cell = LSTMCell(
            units,
            input_size,
            activation=activation,
            recurrent_activation=recurrent_activation,
            unit_forget_bias=unit_forget_bias,
            **cell_kwargs,
        )
        super().__init__(cell, **layer_kwargs)


class GRU(Recurrent):
    """Gated recurrent unit layer (Keras `GRU`), gate order z, r, h.

    z = σ(x W_z + b_z + h U_z + b'_z)    r = σ(x W_r + b_r + h U_r + b'_r)
    reset_after=True:  hh = tanh(x W_h + b_h + r * (h U_h + b'_h))
    reset_after=False: hh = tanh(x W_h + b_h + (r * h) U_h)
    h_t = z * h_{t-1} + (1 - z) * hh

    b is bias[0] and b' bias[1] (shape (2, 3*units)) with reset_after; without
    it the bias is one (3*units,) vector. See docs/recurrent_layers.md.

    Args:
        units, input_size, activation ('tanh'), recurrent_activation
            ('sigmoid'), use_bias, initializers, dropout, recurrent_dropout: as LSTM.
        reset_after: reset gate after the recurrent matmul (True, Keras 3 and
            torch convention); False runs on the loop only.
        return_sequences, return_state, go_backwards, zero_output_for_mask,
            implementation, shared_dropout_masks, seed: see `Recurrent`.

    Shapes:
        x: (batch, time, input_size) -> (batch, units) or (batch, time, units);
        the state h is (batch, units).

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> gru = GRU(units=4, input_size=3, return_sequences=True)
    >>> gru(torch.randn(2, 6, 3), mask=torch.ones(2, 6, dtype=torch.bool)).shape
    torch.Size([2, 6, 4])
    >>> [w.shape for w in gru.get_keras_weights()]
    [(3, 12), (4, 12), (2, 12)]
    """

    cell_class = GRUCell

    def __init__(
        self,
        units: int,
        *,
        input_size: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        reset_after: bool = True,
        **kwargs: Any,
    ):
        cell_kwargs, layer_kwargs = _split(type(self).__name__, kwargs)
        cell = GRUCell(
            units,
            input_size,
            activation=activation,
            recurrent_activation=recurrent_activation,
            reset_after=reset_after,
            **cell_kwargs,
        )
        super().__init__(cell, **layer_kwargs)
