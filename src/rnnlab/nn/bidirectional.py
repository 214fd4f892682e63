"""`Bidirectional`: a recurrent layer run forwards and backwards, outputs merged (Keras semantics).

The backward layer is a copy of the given layer with `go_backwards=True` and
freshly initialized parameters (and, when the layer has a `seed`, a generator
seeded with `seed + 1`, so the two directions draw different dropout masks). Its output sequence is flipped back to the
input's time order before merging. As in Keras, when the layers return
sequences, masked steps output zeros (`zero_output_for_mask` is forced to
`return_sequences` on both layers).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.errors import InvalidValueError, check_choice, check_type
from rnnlab.nn import convert
from rnnlab.nn.cells import KERAS_WEIGHT_NAMES
from rnnlab.nn.layers import GRU, LSTM, SimpleRNN
from rnnlab.nn.recurrent import Recurrent

MERGE_MODES = ("concat", "sum", "mul", "ave", None)
_LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


class Bidirectional(nn.Module):
    """Run `layer` in both directions and merge the outputs (Keras `Bidirectional`).

    Args:
        layer: a SimpleRNN, LSTM or GRU with go_backwards=False; it becomes the
            forward layer (its own parameters are kept).
        merge_mode: 'concat' (default), 'sum', 'mul', 'ave', or None for the
            pair (forward, backward) unmerged.
        backward_layer: optional explicit backward layer (must have
            go_backwards=True and the same return_* settings).

    Shapes:
        x: (batch, time, input_size) -> (batch, [time,] 2*units) for 'concat',
        (batch, [time,] units) otherwise. With `return_state` the forward
        states follow the output, then the backward ones:
        (output, h_fw, [c_fw,] h_bw[, c_bw]).

    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> bi = Bidirectional(LSTM(units=4, input_size=3, return_sequences=True))
    >>> bi(torch.randn(2, 5, 3), lengths=torch.tensor([5, 3])).shape
    torch.Size([2, 5, 8])
    >>> [w.shape for w in bi.get_keras_weights()]
    [(3, 16), (4, 16), (16,), (3, 16), (4, 16), (16,)]
    """

    def __init__(
        self,
        layer: Recurrent,
        merge_mode: str | None = "concat",
        backward_layer: Recurrent | None = None,
    ):
        super().__init__()
        check_type("layer", layer, Recurrent, "a SimpleRNN, LSTM or GRU layer")
        self.merge_mode = check_choice("merge_mode", merge_mode, MERGE_MODES)
        if layer.go_backwards:
            raise InvalidValueError(
                "`layer` must have go_backwards=False; the backward copy is made here"
            )
        if backward_layer is None:
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = True
            backward_layer.reset_parameters()
            if layer.generator is not None:
                # A copied generator would draw the forward layer's masks again.
                backward_layer.generator = torch.Generator().manual_seed(
                    int(layer.generator.initial_seed()) + 1
                )
        else:
            check_type(
                "backward_layer", backward_layer, Recurrent, "a SimpleRNN, LSTM or GRU layer"
            )
            if not backward_layer.go_backwards:
                raise InvalidValueError("`backward_layer` must have go_backwards=True")
            for a in ("return_sequences", "return_state", "input_size"):
                if getattr(layer, a) != getattr(backward_layer, a):
                    raise InvalidValueError(
                        f"`layer` and `backward_layer` must have the same `{a}`, got "
                        f"{getattr(layer, a)} and {getattr(backward_layer, a)}"
                    )
        for sub in (layer, backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.forward_layer = layer
        self.backward_layer = backward_layer

    return_sequences = property(lambda self: self.forward_layer.return_sequences)
    return_state = property(lambda self: self.forward_layer.return_state)
    input_size = property(lambda self: self.forward_layer.input_size)

    @property
    def output_size(self) -> int:
        """Features of the merged output (2 * units for 'concat')."""
        u = self.forward_layer.units
        return u + self.backward_layer.units if self.merge_mode == "concat" else u

    def forward(
        self,
        x: torch.Tensor,
        lengths: Any = None,
        mask: Any = None,
        initial_state: Sequence[torch.Tensor] | None = None,
        padding: str = "post",
    ):
        """Args as `Recurrent.forward`; `initial_state` is forward states then backward states."""
        fw_state = bw_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        kw = {"lengths": lengths, "mask": mask, "padding": padding}
        y = self.forward_layer(x, initial_state=fw_state, **kw)
        y_rev = self.backward_layer(x, initial_state=bw_state, **kw)
        states: tuple[torch.Tensor, ...] = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        if self.merge_mode == "concat":
            out: Any = torch.cat([y, y_rev], -1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            out = (y, y_rev)
        if self.return_state:
            return (*out, *states) if self.merge_mode is None else (out, *states)
        return out

    # -- weights ------------------------------------------------------------------

    def get_keras_weights(self) -> list[np.ndarray]:
        """Forward layer's weights then backward layer's, as Keras `get_weights()`."""
        return self.forward_layer.get_keras_weights() + self.backward_layer.get_keras_weights()

    def set_keras_weights(self, weights: Sequence[Any]) -> None:
        """Load Keras `Bidirectional.get_weights()`: forward then backward (shapes checked)."""
        fw = self.forward_layer.cell.keras_weight_shapes()
        bw = self.backward_layer.cell.keras_weight_shapes()
        names = [
            f"{side} {name}"
            for side, shapes in (("forward", fw), ("backward", bw))
            for name in KERAS_WEIGHT_NAMES[: len(shapes)]
        ]
        convert.check_keras_weights("Bidirectional", weights, fw + bw, names)
        self.forward_layer.set_keras_weights(list(weights[: len(fw)]))
        self.backward_layer.set_keras_weights(list(weights[len(fw) :]))

    def to_torch(self) -> nn.Module:
        """A bidirectional torch module with these weights (forward = l0, backward = l0_reverse).

        Equivalent outputs for unpadded or post-padded (packed) input with
        return_sequences and merge_mode='concat': torch's backward direction
        reverses each sequence within its length, as Keras's backward layer does.
        """
        kernels = [sub.cell.fused_kernel() for sub in (self.forward_layer, self.backward_layer)]
        for kernel, why in kernels:
            if kernel is None:
                raise InvalidValueError(f"Bidirectional has no torch equivalent: {why}")
        if kernels[0][0] != kernels[1][0]:
            raise InvalidValueError(
                "the forward and backward layers map to different torch kernels"
            )
        kernel = kernels[0][0]
        nonlin = kernel.split("_")[1] if kernel.startswith("rnn_") else "tanh"
        weights = [
            [p.detach() for p in (sub.kernel, sub.recurrent_kernel, sub.bias) if p is not None]
            for sub in (self.forward_layer, self.backward_layer)
        ]
        return convert.make_torch_module(self.forward_layer.cell.kind, weights, nonlinearity=nonlin)

    @classmethod
    def from_torch(cls, module: nn.Module, merge_mode: str | None = "concat", **kwargs: Any):
        """A Bidirectional layer from a one-layer bidirectional torch nn.RNN / LSTM / GRU.

        Args:
            module: the torch module (bidirectional=True, num_layers=1).
            merge_mode: as the constructor.
            **kwargs: layer arguments (return_sequences, dropout, ...).
        """
        kind = convert.torch_kind(module)
        if not module.bidirectional:
            raise InvalidValueError(
                "`module` must be bidirectional; use LSTM/GRU/SimpleRNN.from_torch"
            )
        layer_cls = _LAYERS[kind]
        if kind == "simple_rnn":
            kwargs.setdefault("activation", module.nonlinearity)
        args = {
            "units": module.hidden_size,
            "input_size": module.input_size,
            "use_bias": module.bias,
        }
        fw = layer_cls(**args, **kwargs)
        bw = layer_cls(**args, **kwargs, go_backwards=True)
        bi = cls(fw, merge_mode=merge_mode, backward_layer=bw)
        weight = module.weight_ih_l0
        assert isinstance(weight, torch.Tensor)
        bi.to(dtype=weight.dtype, device=weight.device)
        fw.set_keras_weights(convert.module_weights_to_keras(module))
        bw.set_keras_weights(convert.module_weights_to_keras(module, reverse=True))
        return bi

    def extra_repr(self) -> str:
        return f"merge_mode={self.merge_mode!r}"
