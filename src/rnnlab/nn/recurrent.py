"""The recurrent layers: a cell run over time, with Keras masking and dropout semantics.

`Recurrent` is the generic layer (Keras `RNN`); `SimpleRNN`, `LSTM` and `GRU`
(`layers.py`) build their cell from Keras's arguments. A forward call:

1. draws the dropout masks for this batch (training mode only; `dropout.py`);
2. gathers the facts that decide the execution path (cell, activations,
   device, dtype, whether autograd records it, recurrent dropout in effect,
   the mask's shape: none, contiguous blocks or holes) and asks
   `paths/choose.py` once, honouring `implementation`;
3. runs that path: torch's fused kernel ('fused', `paths/fused.py`), rnnlab's
   own kernels ('kernel': `paths/lstm_kernel.py` and `paths/rnn_kernel.py`
   with C time loops, `paths/gru_kernel.py`), or the generic loop ('loop',
   `paths/loop.py`: all input projections in one matmul, then only
   h @ recurrent_kernel and the gate arithmetic per step). `last_path` names it.

Every path gives the same numbers. Masking follows Keras: a masked step leaves
the states unchanged and outputs the previous step's output (zeros before the
first valid step; zeros everywhere masked with `zero_output_for_mask`). With
`go_backwards` the sequence and its mask are processed last step first and
the output sequence comes back in that (reversed) order, as in Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnlab.errors import InvalidTypeError, InvalidValueError, check_choice, check_int, check_type
from rnnlab.nn import convert
from rnnlab.nn.activations import activation_name
from rnnlab.nn.cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from rnnlab.nn.dropout import DropoutMasks
from rnnlab.nn.paths import native
from rnnlab.nn.paths.choose import IMPLEMENTATIONS, MaskShape, PathChoice, PathFacts, choose_path
from rnnlab.nn.paths.fused import Blocks, mask_blocks, run_fused
from rnnlab.nn.paths.gru_kernel import run_gru_layer
from rnnlab.nn.paths.loop import run_loop
from rnnlab.nn.paths.lstm_kernel import run_lstm
from rnnlab.nn.paths.rnn_kernel import run_simple_rnn

# The built-in cells' own steps: a subclass with another step is a custom cell,
# which only the loop computes.
_BUILTIN_STEPS = {
    "simple_rnn": SimpleRNNCell.step,
    "lstm": LSTMCell.step,
    "gru": GRUCell.step,
}


_ALLOWED = "one of " + ", ".join(f"'{v}'" for v in IMPLEMENTATIONS)


def check_implementation(value: Any) -> str:
    """Validate the `implementation` argument: one of the strings in `IMPLEMENTATIONS`.

    The type first: `check_choice` compares with ==, where 0 == False and 1 == True.
    """
    if not isinstance(value, str):
        check_type("implementation", value, str, _ALLOWED)
    return check_choice("implementation", value, IMPLEMENTATIONS)


def lengths_to_mask(lengths: Any, maxlen: int, padding: str = "post") -> torch.Tensor:
    """(batch, maxlen) bool mask, True on the `lengths[i]` token steps of row i.

    >>> lengths_to_mask([2, 0], 3, padding="pre")
    tensor([[False,  True,  True],
            [False, False, False]])
    """
    check_choice("padding", padding, ("post", "pre"))
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise InvalidTypeError(
            f"`lengths` must be a 1-D integer tensor, got {lengths.dtype} of shape "
            f"{tuple(lengths.shape)}"
        )
    if len(lengths) and (int(lengths.min()) < 0 or int(lengths.max()) > maxlen):
        raise InvalidValueError(
            f"`lengths` must be in [0, {maxlen}] (the time dimension), got values from "
            f"{int(lengths.min())} to {int(lengths.max())}"
        )
    pos = torch.arange(maxlen, device=lengths.device)
    if padding == "post":
        return pos[None, :] < lengths[:, None]
    return pos[None, :] >= (maxlen - lengths)[:, None]


class Recurrent(nn.Module):
    """A recurrent layer around a cell (Keras `RNN`). Use SimpleRNN, LSTM or GRU.

    Args:
        cell: the cell holding the parameters.
        return_sequences: return the output of every step, (batch, time, units),
            instead of the last one, (batch, units).
        return_state: also return the final states: (output, h) or (output, h, c).
        go_backwards: process the sequence backwards (output sequence reversed).
        zero_output_for_mask: masked steps output zeros, not the previous output.
        implementation: the execution path (as Keras's `implementation=`, with
            other values): 'auto' (default: the fastest that computes the
            forward), 'fused' (torch's fused kernel), 'kernel' (rnnlab's own
            CPU kernel) or 'loop' (the generic step loop, always). 'fused' and
            'kernel' raise ValueError, saying why, on a forward they cannot
            compute. See `rnnlab.nn.paths.choose`.
        shared_dropout_masks: one input and one recurrent mask for all gates even
            with recurrent dropout. Faster, but not Keras (which draws one per gate).
        seed: seed a private generator for the dropout masks (else the global RNG).
    """

    cell_class: ClassVar[type[RecurrentCell]] = RecurrentCell

    def __init__(
        self,
        cell: RecurrentCell,
        *,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        zero_output_for_mask: bool = False,
        implementation: str = "auto",
        shared_dropout_masks: bool = False,
        seed: int | None = None,
    ):
        super().__init__()
        self.cell = check_type("cell", cell, RecurrentCell)
        self.return_sequences = check_type("return_sequences", return_sequences, bool)
        self.return_state = check_type("return_state", return_state, bool)
        self.go_backwards = check_type("go_backwards", go_backwards, bool)
        self.zero_output_for_mask = check_type("zero_output_for_mask", zero_output_for_mask, bool)
        self.implementation = implementation
        self.shared_dropout_masks = check_type("shared_dropout_masks", shared_dropout_masks, bool)
        check_int("seed", seed, allow_none=True)
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)
        # The path the last forward ran and why (see `last_path`).
        self.last_choice: PathChoice | None = None

    @property
    def last_path(self) -> str | None:
        """The path the last forward ran: 'fused', 'kernel' or 'loop' (None before any)."""
        return None if self.last_choice is None else self.last_choice.path

    @property
    def last_path_reason(self) -> str | None:
        """Why the last forward ran on `last_path` (one line; None before any forward)."""
        return None if self.last_choice is None else self.last_choice.reason

    @property
    def implementation(self) -> str:
        """'auto', 'fused', 'kernel' or 'loop' (validated on every assignment)."""
        return self._implementation

    @implementation.setter
    def implementation(self, value: str) -> None:
        self._implementation = check_implementation(value)

    def _refuse_use_fast_path(self, value: Any) -> None:
        # Without this, setting the removed attribute would silently change nothing.
        raise AttributeError(f"`use_fast_path` was replaced by `implementation`: {_ALLOWED}")

    use_fast_path = property(None, _refuse_use_fast_path)

    # Keras-style attributes, read from the cell.
    units = property(lambda self: self.cell.units)
    input_size = property(lambda self: self.cell.input_size)
    output_size = property(lambda self: self.cell.units)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)
    kernel = property(lambda self: self.cell.kernel)
    recurrent_kernel = property(lambda self: self.cell.recurrent_kernel)
    bias = property(lambda self: self.cell.bias)

    def reset_parameters(self) -> None:
        """Re-initialize the cell's parameters."""
        self.cell.reset_parameters()

    # -- weights ------------------------------------------------------------------

    def get_keras_weights(self) -> list[np.ndarray]:
        """[kernel, recurrent_kernel(, bias)], exactly as the Keras layer's `get_weights()`."""
        return self.cell.get_keras_weights()

    def set_keras_weights(self, weights: Sequence[Any]) -> None:
        """Load the list the Keras layer's `get_weights()` returns (shapes checked)."""
        self.cell.set_keras_weights(weights, owner=type(self).__name__)

    def to_torch(self) -> nn.Module:
        """A batch-first torch nn.RNN / nn.LSTM / nn.GRU with the same weights."""
        kernel, why = self.cell.fused_kernel()
        if kernel is None:
            raise InvalidValueError(f"{type(self).__name__} has no torch equivalent: {why}")
        weights = [
            p.detach() for p in (self.kernel, self.recurrent_kernel, self.bias) if p is not None
        ]
        nonlin = kernel.split("_")[1] if kernel.startswith("rnn_") else "tanh"
        return convert.make_torch_module(self.cell.kind, [weights], nonlinearity=nonlin)

    @classmethod
    def from_torch(cls, module: nn.Module, **kwargs: Any) -> Recurrent:
        """A layer with the weights of a one-layer, one-direction torch module.

        Args:
            module: nn.RNN for SimpleRNN, nn.LSTM for LSTM, nn.GRU for GRU (its
                `batch_first` does not matter: rnnlab layers are batch-first).
            **kwargs: other layer arguments (return_sequences, dropout, ...).
        """
        kind = convert.torch_kind(module)
        if kind != cls.cell_class.kind:
            raise InvalidTypeError(
                f"{cls.__name__}.from_torch needs a torch module of kind '{cls.cell_class.kind}', "
                f"got {type(module).__name__}"
            )
        if module.bidirectional:
            raise InvalidValueError(
                "`module` is bidirectional: use rnnlab.nn.Bidirectional.from_torch"
            )
        if kind == "simple_rnn":
            kwargs.setdefault("activation", module.nonlinearity)
        make: Callable[..., Recurrent] = cls  # a layer class: SimpleRNN, LSTM or GRU
        layer = make(
            units=module.hidden_size, input_size=module.input_size, use_bias=module.bias, **kwargs
        )
        weight = module.weight_ih_l0
        assert isinstance(weight, torch.Tensor)
        layer.to(dtype=weight.dtype, device=weight.device)
        layer.set_keras_weights(convert.module_weights_to_keras(module))
        return layer

    # -- forward ------------------------------------------------------------------

    def _check_input(self, x: Any) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise InvalidTypeError(f"`x` must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3 or x.shape[1] == 0 or x.shape[2] != self.input_size:
            raise InvalidValueError(
                f"`x` must have shape (batch, time >= 1, {self.input_size}) "
                f"(input_size={self.input_size}), got {tuple(x.shape)}"
            )
        dtype = self.cell.kernel.dtype
        return x if x.dtype == dtype else x.to(dtype)

    def _step_mask(self, x, lengths, mask, padding) -> torch.Tensor | None:
        B, T = x.shape[:2]
        if lengths is not None and mask is not None:
            raise InvalidValueError("pass `lengths` or `mask`, not both")
        if lengths is not None:
            m = lengths_to_mask(lengths, T, padding)
            if m.shape[0] != B:
                raise InvalidValueError(
                    f"`lengths` must have {B} entries (the batch size), got {m.shape[0]}"
                )
            return m.to(x.device)
        if mask is None:
            return None
        m = torch.as_tensor(mask, device=x.device)
        if tuple(m.shape) != (B, T):
            raise InvalidValueError(
                f"`mask` must have shape (batch, time) = {(B, T)}, got {tuple(m.shape)}"
            )
        return m if m.dtype == torch.bool else m != 0

    def _initial_state(self, initial_state, x) -> tuple[torch.Tensor, ...]:
        B = x.shape[0]
        if initial_state is None:
            return self.cell.initial_state(B, x.dtype, x.device)
        states = (
            (initial_state,) if isinstance(initial_state, torch.Tensor) else tuple(initial_state)
        )
        n = self.cell.n_states
        if len(states) != n:
            raise InvalidValueError(
                f"`initial_state` must hold {n} tensor(s) of shape (batch, units) for "
                f"{type(self).__name__}, got {len(states)}"
            )
        out = []
        for s in states:
            s = torch.as_tensor(s, dtype=x.dtype, device=x.device)
            if tuple(s.shape) != (B, self.units):
                raise InvalidValueError(
                    f"each `initial_state` tensor must have shape (batch, units) = "
                    f"{(B, self.units)}, got {tuple(s.shape)}"
                )
            out.append(s)
        return tuple(out)

    def forward(
        self,
        x: torch.Tensor,
        lengths: Any = None,
        mask: Any = None,
        initial_state: Any = None,
        padding: str = "post",
    ):
        """Run the layer over a batch of sequences.

        Args:
            x: (batch, time, input_size) float; integer inputs are cast.
            lengths: (batch,) valid steps per row, the padding at the end
                (`padding='post'`) or start ('pre'); or
            mask: (batch, time) bool, True for valid steps (any pattern).
            initial_state: (batch, units) tensor, or [h, c] for an LSTM.
            padding: where the padding is when `lengths` is given.

        Returns:
            output, (batch, units) or with `return_sequences` (batch, time, units);
            with `return_state`, the tuple (output, h) or (output, h, c).
        """
        x = self._check_input(x)
        step_mask = self._step_mask(x, lengths, mask, padding)
        if step_mask is not None and bool(step_mask.all()):
            step_mask = None  # nothing masked: skip the masking work on either path
        states = self._initial_state(initial_state, x)
        cell = self.cell
        if self.training and (cell.dropout > 0 or cell.recurrent_dropout > 0):
            masks = cell.draw_dropout_masks(
                x.shape[0],
                shared=self.shared_dropout_masks,
                dtype=x.dtype,
                device=x.device,
                generator=self.generator,
            )
        else:
            masks = DropoutMasks(None, None)

        facts, blocks = self._path_facts(x, masks, step_mask)
        choice = choose_path(facts, self.implementation)
        self.last_choice = choice
        output, states = self._run(choice, x, states, masks, step_mask, blocks)
        return (output, *states) if self.return_state else output

    def _path_facts(
        self, x: torch.Tensor, masks: DropoutMasks, step_mask: torch.Tensor | None
    ) -> tuple[PathFacts, Blocks | None]:
        """The facts that decide this forward's path, and the mask's blocks in processing
        order (for the paths that gather each row's block, computed once here)."""
        cell = self.cell
        blocks = None
        mask: MaskShape = "none"
        if step_mask is not None:
            # Only the paths that gather each row's block (torch's fused kernel, the GRU
            # kernel) depend on the mask's shape, and neither runs under recurrent dropout
            # or for a cell torch has no kernel for: there the shape changes no decision
            # (test_choose.py), so the mask is left unclassified, as if it had holes.
            mask = "holes"
            if masks.recurrent is None and cell.fused_kernel()[0] is not None:
                blocks = mask_blocks(step_mask.flip(1) if self.go_backwards else step_mask)
                mask = "holes" if blocks is None else "blocks"
        builtin = _BUILTIN_STEPS.get(cell.kind) is type(cell).step
        gates = getattr(cell, "recurrent_activation", None)  # a SimpleRNN has none
        facts = PathFacts(
            kind=cell.kind if builtin else "custom",
            activation=activation_name(cell.activation),
            recurrent_activation=None if gates is None else activation_name(gates),
            reset_after=getattr(cell, "reset_after", True),
            device=x.device.type,
            dtype=x.dtype,
            # recurse=False: a cell holds its parameters itself (and the module walk of
            # parameters() costs more than the rest of the facts together).
            backprop=torch.is_grad_enabled()
            and (x.requires_grad or any(p.requires_grad for p in cell.parameters(recurse=False))),
            recurrent_masks=0 if masks.recurrent is None else masks.recurrent.shape[0],
            mask=mask,
            return_state=self.return_state,
            native=native.loops() is not None,
        )
        return facts, blocks

    def _run(
        self,
        choice: PathChoice,
        x: torch.Tensor,
        states: tuple[torch.Tensor, ...],
        masks: DropoutMasks,
        step_mask: torch.Tensor | None,
        blocks: Blocks | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Run the chosen path: (output, final states)."""
        cell = self.cell
        common = {
            "go_backwards": self.go_backwards,
            "return_sequences": self.return_sequences,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if choice.path == "loop":
            return run_loop(cell, x, states, masks, step_mask, **common)
        if choice.path == "kernel" and cell.kind == "lstm":
            return run_lstm(cell, x, states, masks, step_mask, **common)
        if choice.path == "kernel" and cell.kind == "simple_rnn":
            return run_simple_rnn(cell, x, states, masks, step_mask, **common)
        # Torch's fused kernel and the GRU kernel see one shared input mask (no
        # recurrent dropout here), applied to x once.
        if masks.inputs is not None:
            x = x * masks.inputs[0].unsqueeze(1)
        if choice.path == "kernel":
            return run_gru_layer(cell, x, states, blocks, **common)
        assert choice.torch_kernel is not None
        return run_fused(
            cell, choice.torch_kernel, x, states, blocks, packed=choice.packed, **common
        )

    def extra_repr(self) -> str:
        flags = [
            name
            for name in ("return_sequences", "return_state", "go_backwards", "zero_output_for_mask")
            if getattr(self, name)
        ]
        s = ", ".join(f"{f}=True" for f in flags)
        if self.implementation != "auto":
            s += (", " if s else "") + f"implementation={self.implementation!r}"
        return s
