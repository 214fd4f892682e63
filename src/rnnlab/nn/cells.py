"""SimpleRNN, LSTM and GRU cells: Keras gate order, init and step arithmetic.

The shared machinery (parameters in Keras layout, initialization, dropout
masks, the hoisted input projection, Keras weights) is `RecurrentCell` in
`base_cell.py`; each cell here adds its gates' step. Equations:
docs/recurrent_layers.md.
"""

from __future__ import annotations

from typing import Any

import torch

from rnnlab.errors import check_type
from rnnlab.nn.activations import activation_name, get_activation
from rnnlab.nn.base_cell import KERAS_WEIGHT_NAMES, RecurrentCell, State
from rnnlab.nn.initializers import initialize
from rnnlab.nn.paths.choose import torch_kernel

__all__ = ["KERAS_WEIGHT_NAMES", "GRUCell", "LSTMCell", "RecurrentCell", "SimpleRNNCell", "State"]


class SimpleRNNCell(RecurrentCell):
    """Fully connected RNN cell: h_t = activation(x_t @ W + h_{t-1} @ U + b).

    Args: as `rnnlab.nn.SimpleRNN` (units, input_size, activation, use_bias,
    initializers, dropout, recurrent_dropout).

    >>> cell = SimpleRNNCell(units=2, input_size=3, kernel_initializer=0.1,
    ...                      recurrent_initializer=0.1)
    >>> out, (h,) = cell(torch.ones(1, 3), torch.zeros(1, 2))
    >>> out.detach()
    tensor([[0.2913, 0.2913]])
    """

    gates = 1
    kind = "simple_rnn"
    additive_recurrence = True

    def __init__(self, units: int, input_size: int, **kwargs: Any):
        super().__init__(units, input_size, **kwargs)
        self.reset_parameters()

    def fused_kernel(self) -> tuple[str | None, str]:
        return torch_kernel(self.kind, activation_name(self.activation))

    def step(self, xp_t, states, rec_mask, prep, per_gate):
        hm = self._masked_state(states[0], rec_mask, False)
        return (self.activation(torch.addmm(xp_t, hm, prep[0])),)


class LSTMCell(RecurrentCell):
    """Long short-term memory cell (Hochreiter 1997), Keras gate order i, f, c, o.

    Args: as `rnnlab.nn.LSTM`; `recurrent_activation` ('sigmoid') is the gates'
    activation, `unit_forget_bias` (True) sets the forget-gate bias to 1 at init.

    >>> cell = LSTMCell(units=2, input_size=3, kernel_initializer=0.1,
    ...                 recurrent_initializer=0.1)
    >>> out, (h, c) = cell(torch.ones(1, 3), (torch.zeros(1, 2), torch.zeros(1, 2)))
    >>> c.detach()
    tensor([[0.1673, 0.1673]])
    """

    gates = 4
    kind = "lstm"
    n_states = 2
    additive_recurrence = True

    def __init__(
        self,
        units: int,
        input_size: int,
        *,
        recurrent_activation: Any = "sigmoid",
        unit_forget_bias: bool = True,
        **kwargs: Any,
    ):
        super().__init__(units, input_size, **kwargs)
        self.recurrent_activation = get_activation("recurrent_activation", recurrent_activation)
        self.unit_forget_bias = check_type("unit_forget_bias", unit_forget_bias, bool)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias is not None and self.unit_forget_bias:
            # Keras: bias_init(units), ones(units), bias_init(2 * units).
            u = self.units
            with torch.no_grad():
                initialize(self.bias[:u], self.bias_initializer)
                self.bias[u : 2 * u].fill_(1.0)
                initialize(self.bias[2 * u :], self.bias_initializer)

    def fused_kernel(self) -> tuple[str | None, str]:
        act, rec = activation_name(self.activation), activation_name(self.recurrent_activation)
        return torch_kernel(self.kind, act, rec)

    def step(self, xp_t, states, rec_mask, prep, per_gate):
        h, c = states
        hm = self._masked_state(h, rec_mask, per_gate)
        # One gate activation over all four blocks (the c block's result is
        # unused) instead of three calls: the loop is bound by op count, not FLOPs.
        if per_gate:
            z = torch.baddbmm(xp_t, hm, prep[0])  # (4, batch, units)
            i, f, _, o = self.recurrent_activation(z).unbind(0)
            g = self.activation(z[2])
        else:
            u = self.units
            z = torch.addmm(xp_t, hm, prep[0])  # (batch, 4 * units)
            i, f, _, o = self.recurrent_activation(z).chunk(4, 1)
            g = self.activation(z[:, 2 * u : 3 * u])
        c = torch.addcmul(f * c, i, g)
        h = o * self.activation(c)
        return h, c

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.unit_forget_bias else s + ", unit_forget_bias=False"


class GRUCell(RecurrentCell):
    """Gated recurrent unit cell (Cho 2014), Keras gate order z, r, h.

    Args: as `rnnlab.nn.GRU`; `reset_after` (True) applies the reset gate after
    the recurrent matmul and keeps a separate recurrent bias (the cuDNN/torch
    formulation); False is the original paper's.

    >>> cell = GRUCell(units=2, input_size=3, kernel_initializer=0.1,
    ...                recurrent_initializer=0.1)
    >>> cell.bias.shape
    torch.Size([2, 6])
    >>> out, (h,) = cell(torch.ones(1, 3), torch.zeros(1, 2))
    >>> out.detach()
    tensor([[0.1240, 0.1240]])
    """

    gates = 3
    kind = "gru"

    def __init__(
        self,
        units: int,
        input_size: int,
        *,
        recurrent_activation: Any = "sigmoid",
        reset_after: bool = True,
        **kwargs: Any,
    ):
        self.reset_after = check_type("reset_after", reset_after, bool)
        super().__init__(units, input_size, **kwargs)
        self.recurrent_activation = get_activation("recurrent_activation", recurrent_activation)
        self.reset_parameters()

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self) -> torch.Tensor | None:
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def fused_kernel(self) -> tuple[str | None, str]:
        act, rec = activation_name(self.activation), activation_name(self.recurrent_activation)
        return torch_kernel(self.kind, act, rec, self.reset_after)

    def prepare(self, per_gate):
        u = self.units
        (rk,) = super().prepare(per_gate)
        rec_bias = self.bias[1] if self.bias is not None and self.reset_after else None
        if per_gate and rec_bias is not None:
            rec_bias = rec_bias.view(3, 1, u)
        return rk, rec_bias

    def step(self, xp_t, states, rec_mask, prep, per_gate):
        h = states[0]
        rk, rec_bias = prep
        hm = self._masked_state(h, rec_mask, per_gate)
        ra = self.recurrent_activation
        if per_gate:
            x_z, x_r, x_h = xp_t.unbind(0)
            if self.reset_after:
                rec = torch.bmm(hm, rk) if rec_bias is None else torch.baddbmm(rec_bias, hm, rk)
                r_z, r_r, r_h = rec.unbind(0)
                z, r = ra(x_z + r_z), ra(x_r + r_r)
                hh = self.activation(x_h + r * r_h)
            else:
                r_z, r_r = torch.bmm(hm[:2], rk[:2]).unbind(0)
                z, r = ra(x_z + r_z), ra(x_r + r_r)
                hh = self.activation(x_h + (r * hm[2]) @ rk[2])
        else:
            u = self.units
            x_z, x_r, x_h = xp_t.chunk(3, 1)
            if self.reset_after:
                rec = hm @ rk if rec_bias is None else torch.addmm(rec_bias, hm, rk)
                r_z, r_r, r_h = rec.chunk(3, 1)
                z, r = ra(x_z + r_z), ra(x_r + r_r)
                hh = self.activation(x_h + r * r_h)
            else:
                r_z, r_r = (hm @ rk[:, : 2 * u]).chunk(2, 1)
                z, r = ra(x_z + r_z), ra(x_r + r_r)
                hh = self.activation(x_h + (r * hm) @ rk[:, 2 * u :])
        return (z * h + (1 - z) * hh,)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.reset_after else s + ", reset_after=False"
