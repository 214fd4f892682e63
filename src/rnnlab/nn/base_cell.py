"""`RecurrentCell`, the base of every cell: Keras-layout parameters, init, dropout masks.

A cell holds the parameters of one recurrent layer, in Keras layout:

* `kernel`: (input_size, gates * units), gates side by side along the columns;
* `recurrent_kernel`: (units, gates * units);
* `bias`: (gates * units,), or (2, 3 * units) for a GRU with `reset_after=True`
  (row 0 the input bias, row 1 the recurrent bias); None without `use_bias`.

Gate order along the columns: LSTM i, f, c, o; GRU z, r, h. The equations are in
docs/recurrent_layers.md.

A cell computes one step with `cell(x_t, states, masks)`. The time loop
(`loop.py`) does not call it step by step: it calls `project_inputs` once for
all time steps (one matmul) and then only `step` (h @ recurrent_kernel and the
gate arithmetic) inside the loop.

Two layouts of the projected inputs exist. Normally they are
(time, batch, gates * units). When dropout masks are drawn per gate (Keras with
`recurrent_dropout > 0`), each gate sees a differently masked input and state,
so projections are gate-major, (gates, time, batch, units), and a step's
recurrent product is one batched matmul over the gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnlab.errors import check_fraction, check_positive, check_type
from rnnlab.nn import convert
from rnnlab.nn.activations import activation_name, get_activation
from rnnlab.nn.dropout import DropoutMasks, draw_masks
from rnnlab.nn.initializers import check_initializer, initialize

State = tuple[torch.Tensor, ...]
KERAS_WEIGHT_NAMES = ("kernel", "recurrent_kernel", "bias")


class RecurrentCell(nn.Module):
    """Base class: parameters, init, dropout masks, input projection, Keras weights."""

    gates: ClassVar[int] = 1
    kind: ClassVar[str] = ""
    n_states: ClassVar[int] = 1
    # True when a step's pre-activations are `xp_t + hm @ recurrent_kernel` (prep[0]):
    # then the layer computes the recurrent kernel's gradient in one matmul.
    additive_recurrence: ClassVar[bool] = False

    def __init__(
        self,
        units: int,
        input_size: int,
        *,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
    ):
        super().__init__()
        self.units: int = check_positive("units", units)
        self.input_size: int = check_positive("input_size", input_size)
        self.activation = get_activation("activation", activation)
        self.use_bias = check_type("use_bias", use_bias, bool)
        self.kernel_initializer = check_initializer("kernel_initializer", kernel_initializer)
        self.recurrent_initializer = check_initializer(
            "recurrent_initializer", recurrent_initializer
        )
        self.bias_initializer = check_initializer("bias_initializer", bias_initializer)
        self.dropout = check_fraction("dropout", dropout)
        self.recurrent_dropout = check_fraction("recurrent_dropout", recurrent_dropout)
        k = self.gates * self.units
        self.kernel = nn.Parameter(torch.empty(self.input_size, k))
        self.recurrent_kernel = nn.Parameter(torch.empty(self.units, k))
        if self.use_bias:
            self.bias = nn.Parameter(torch.empty(self._bias_shape()))
        else:
            self.register_parameter("bias", None)

    # -- parameters -------------------------------------------------------------

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def _input_bias(self) -> torch.Tensor | None:
        return self.bias

    def reset_parameters(self) -> None:
        """Re-draw all parameters from the initializers (Keras order: kernel, recurrent, bias)."""
        initialize(self.kernel, self.kernel_initializer)
        initialize(self.recurrent_kernel, self.recurrent_initializer)
        if self.bias is not None:
            initialize(self.bias, self.bias_initializer)

    def keras_weight_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of `get_keras_weights()`: kernel, recurrent_kernel[, bias]."""
        shapes = [tuple(self.kernel.shape), tuple(self.recurrent_kernel.shape)]
        if self.bias is not None:
            shapes.append(tuple(self.bias.shape))
        return shapes

    def get_keras_weights(self) -> list[np.ndarray]:
        """[kernel, recurrent_kernel, bias] as numpy arrays, as Keras `get_weights()`."""
        params = [self.kernel, self.recurrent_kernel] + ([self.bias] if self.use_bias else [])
        return [p.detach().cpu().numpy().copy() for p in params]

    @torch.no_grad()
    def set_keras_weights(self, weights: Sequence[Any], owner: str | None = None) -> None:
        """Load Keras `get_weights()` arrays; lengths and shapes are checked first.

        `owner` names the layer in error messages (default: the cell's class).
        """
        shapes = self.keras_weight_shapes()
        arrays = convert.check_keras_weights(
            owner or type(self).__name__, weights, shapes, KERAS_WEIGHT_NAMES[: len(shapes)]
        )
        params = [self.kernel, self.recurrent_kernel] + ([self.bias] if self.use_bias else [])
        for p, a in zip(params, arrays):
            p.copy_(torch.as_tensor(a, dtype=p.dtype, device=p.device))

    # -- fused kernels --------------------------------------------------------------

    def fused_kernel(self) -> tuple[str | None, str]:
        """(torch kernel name, '') when torch's fused kernel computes this cell, else (None, why)."""
        return None, f"{type(self).__name__} has no fused kernel"

    # -- states and dropout -------------------------------------------------------

    def initial_state(self, batch: int, dtype: torch.dtype, device: torch.device) -> State:
        """Zeros: (batch, units) per state (h; or h, c for an LSTM)."""
        return tuple(
            torch.zeros(batch, self.units, dtype=dtype, device=device) for _ in range(self.n_states)
        )

    def draw_dropout_masks(
        self,
        batch: int,
        *,
        shared: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | None = None,
        generator: torch.Generator | None = None,
    ) -> DropoutMasks:
        """Masks for one batch of sequences (see `rnnlab.nn.dropout`)."""
        return draw_masks(
            batch,
            self.input_size,
            self.units,
            gates=self.gates,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            shared=shared,
            dtype=dtype or self.kernel.dtype,
            device=device or self.kernel.device,
            generator=generator,
        )

    # -- computation ----------------------------------------------------------------

    def per_gate(self, masks: DropoutMasks) -> bool:
        """Whether masks differ per gate, which needs the gate-major layout."""
        return self.gates > 1 and any(m is not None and m.shape[0] > 1 for m in masks)

    def project_inputs(
        self, x: torch.Tensor, in_mask: torch.Tensor | None, per_gate: bool
    ) -> torch.Tensor:
        """Input projections of all time steps at once.

        Args:
            x: (time, batch, input_size).
            in_mask: None, (1, batch, input_size) or (gates, batch, input_size).
            per_gate: return the gate-major layout.

        Returns:
            (time, batch, gates * units) x @ kernel + input bias, or gate-major
            (gates, time, batch, units) when `per_gate`.
        """
        T, B, n = x.shape
        k, u = self.gates, self.units
        bias = self._input_bias()
        if in_mask is not None and in_mask.shape[0] > 1:
            # One (T*B, in) @ (in, u) product per gate: k large matmuls, not T*k small ones.
            kernel = self.kernel.view(n, k, u).transpose(0, 1)  # (k, in, u)
            xm = (x.unsqueeze(0) * in_mask.unsqueeze(1)).reshape(k, T * B, n)
            if bias is None:
                xp = torch.bmm(xm, kernel)
            else:
                xp = torch.baddbmm(bias.view(k, 1, u), xm, kernel)
            return xp.view(k, T, B, u)
        if in_mask is not None:
            x = x * in_mask[0]
        x2 = x.reshape(T * B, n)
        xp = torch.addmm(bias, x2, self.kernel) if bias is not None else x2 @ self.kernel
        if per_gate:
            return xp.view(T, B, k, u).permute(2, 0, 1, 3)
        return xp.view(T, B, k * u)

    def prepare(self, per_gate: bool) -> tuple[torch.Tensor | None, ...]:
        """Weights the time loop needs, derived once per sequence batch."""
        rk: torch.Tensor = self.recurrent_kernel
        if per_gate:
            rk = (
                rk.view(self.units, self.gates, self.units).transpose(0, 1).contiguous()
            )  # (k, u, u)
        return (rk,)

    def _masked_state(self, h: torch.Tensor, rec_mask: torch.Tensor | None, per_gate: bool):
        if per_gate:
            hg = h.unsqueeze(0)
            return hg * rec_mask if rec_mask is not None else hg.expand(self.gates, -1, -1)
        return h if rec_mask is None else h * rec_mask[0]

    def step(
        self, xp_t, states: State, rec_mask, prep, per_gate: bool
    ) -> State:  # pragma: no cover
        """One time step from a projected input; returns the new states (output first)."""
        raise NotImplementedError

    def forward(
        self,
        inputs: torch.Tensor,
        states: torch.Tensor | Sequence[torch.Tensor],
        masks: DropoutMasks | None = None,
    ) -> tuple[torch.Tensor, State]:
        """One step, as a Keras cell's `call`.

        Args:
            inputs: (batch, input_size).
            states: (batch, units) tensor, or a sequence of them (h; h, c).
            masks: from `draw_dropout_masks`; reuse the same masks at every step.

        Returns:
            (output (batch, units), new states tuple).
        """
        states = (states,) if isinstance(states, torch.Tensor) else tuple(states)
        masks = masks or DropoutMasks(None, None)
        pg = self.per_gate(masks)
        xp = self.project_inputs(inputs.unsqueeze(0), masks.inputs, pg)
        xp = xp[:, 0] if pg else xp[0]
        new = self.step(xp, states, masks.recurrent, self.prepare(pg), pg)
        return new[0], new

    def extra_repr(self) -> str:
        s = f"units={self.units}, input_size={self.input_size}"
        act = activation_name(self.activation)
        if act != "tanh":
            s += f", activation={act or self.activation!r}"
        if self.dropout or self.recurrent_dropout:
            s += f", dropout={self.dropout}, recurrent_dropout={self.recurrent_dropout}"
        return s
