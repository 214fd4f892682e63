"""The one place that chooses a recurrent forward's execution path, from plain facts.

Three paths compute the same numbers (within float rounding):

* 'fused': torch's fused kernel (`fused.py`: `torch._VF.lstm` / `gru` / `rnn_tanh`
  / `rnn_relu`, what nn.LSTM / nn.GRU / nn.RNN run; cuDNN on a GPU);
* 'kernel': rnnlab's own CPU kernels, one autograd Function each: the LSTM and
  the tanh SimpleRNN kernels with C time loops (`lstm_kernel.py`,
  `rnn_kernel.py`) and the GRU kernel (`gru_kernel.py`);
* 'loop': the generic step loop (`loop.py`), which runs every cell, mask and
  dropout pattern.

`choose_path(facts, implementation)` is a pure function: the layer gathers the
`PathFacts` of one forward, calls it once and runs what it names. The layer
argument `implementation` asks for a path ('fused', 'kernel', 'loop': that path
or an error saying why it cannot run) or leaves the choice to 'auto', the
fastest path measured on CPU:

* a standard LSTM (tanh / sigmoid) takes its kernel under recurrent dropout
  (torch's fused kernel cannot apply per-gate recurrent masks), and in every
  float32 forward that autograd records when the C loops are built (they
  train faster than torch's oneDNN LSTM);
* a tanh SimpleRNN takes its kernel (float32, C loops built) under recurrent
  dropout or when autograd records the forward;
* otherwise torch's fused kernel when it computes the cell and neither
  recurrent dropout nor a mask with holes is in effect; on CPU a GRU then
  takes rnnlab's GRU kernel instead (torch's CPU GRU is a slow loop of small
  autograd operations);
* otherwise the loop.

>>> facts = PathFacts(kind="lstm", activation="tanh", recurrent_activation="sigmoid",
...                   backprop=False, mask="blocks")
>>> choice = choose_path(facts, "auto")
>>> choice.path, choice.torch_kernel, choice.packed
('fused', 'lstm', False)
>>> choose_path(PathFacts(kind="gru", activation="tanh", reset_after=False), "auto").path
'loop'
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch

from rnnlab.errors import InvalidValueError, check_choice

Path = Literal["fused", "kernel", "loop"]
MaskShape = Literal["none", "blocks", "holes"]

IMPLEMENTATIONS = ("auto", "fused", "kernel", "loop")
CELL_KINDS = ("simple_rnn", "lstm", "gru")  # any other kind is a custom cell: loop only


class PathFacts(NamedTuple):
    """What decides the path of one forward (a tuple: built on every forward, cheaply).

    Attributes:
        kind: 'simple_rnn', 'lstm' or 'gru' for the built-in cells' arithmetic;
            anything else (e.g. 'custom', a cell with its own `step`) runs on the loop.
        activation: Keras name of the cell's activation, None for a callable.
        recurrent_activation: Keras name of the gates' activation (LSTM, GRU).
        reset_after: the GRU's reset gate comes after the recurrent matmul.
        device: torch device type of the inputs ('cpu', 'cuda', ...).
        dtype: dtype of the inputs and parameters.
        backprop: autograd records this forward (grad mode on, and the inputs or
            a parameter require grad): a training forward, whatever the module mode.
        recurrent_masks: recurrent dropout masks in effect: 0 (none: eval mode or
            recurrent_dropout=0), 1 (shared by the gates) or one per gate.
        mask: 'none' (no step masked), 'blocks' (each row's valid steps are one
            contiguous block: post- or pre-padding) or 'holes' (any other mask, or
            one not classified: the safe answer, which only the paths that gather
            row blocks refuse).
        return_state: the final states are returned (the final c of a masked LSTM
            cannot be read from torch's outputs, so that case runs packed).
        native: rnnlab's C time loops are built and usable here (`native.py`).
    """

    kind: str
    activation: str | None
    recurrent_activation: str | None = "sigmoid"
    reset_after: bool = True
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    backprop: bool = True
    recurrent_masks: int = 0
    mask: MaskShape = "none"
    return_state: bool = False
    native: bool = True


class PathChoice(NamedTuple):
    """The path that runs and why.

    Attributes:
        path: 'fused', 'kernel' or 'loop' (what the layer's `last_path` reports).
        reason: one line: why this path.
        torch_kernel: on 'fused', torch's kernel: 'lstm', 'gru', 'rnn_tanh' or 'rnn_relu'.
        packed: on 'fused' with a mask, run as a packed sequence (a GPU, or a masked
            LSTM whose final c is returned); else each row's block is gathered to step 0.
    """

    path: Path
    reason: str
    torch_kernel: str | None = None
    packed: bool = False


def torch_kernel(
    kind: str,
    activation: str | None,
    recurrent_activation: str | None = "sigmoid",
    reset_after: bool = True,
) -> tuple[str | None, str]:
    """(name, '') of torch's fused kernel that computes a cell's arithmetic, else (None, why).

    >>> torch_kernel("simple_rnn", "relu")
    ('rnn_relu', '')
    >>> torch_kernel("gru", "tanh", reset_after=False)
    (None, 'reset_after=False has no torch fused equivalent')
    """
    standard = activation == "tanh" and recurrent_activation == "sigmoid"
    if kind == "simple_rnn":
        if activation in ("tanh", "relu"):
            return f"rnn_{activation}", ""
        name = repr(activation) if activation else "a custom callable"
        return None, f"activation {name} is not 'tanh' or 'relu'"
    if kind == "lstm":
        if standard:
            return "lstm", ""
        return None, "torch's fused LSTM needs activation='tanh', recurrent_activation='sigmoid'"
    if kind == "gru":
        if not reset_after:
            return None, "reset_after=False has no torch fused equivalent"
        if standard:
            return "gru", ""
        return None, "torch's fused GRU needs activation='tanh', recurrent_activation='sigmoid'"
    return None, f"a {kind!r} cell has no torch fused kernel"


def _fused(facts: PathFacts) -> PathChoice | str:
    """Torch's fused kernel for this forward, or why it cannot compute it."""
    kernel, why = torch_kernel(
        facts.kind, facts.activation, facts.recurrent_activation, facts.reset_after
    )
    if kernel is None:
        return why
    if facts.recurrent_masks:
        return "recurrent dropout is active (training with recurrent_dropout > 0)"
    if facts.mask == "holes":
        return "the mask has gaps inside a row"
    packed = facts.mask == "blocks" and (
        facts.device != "cpu" or (kernel == "lstm" and facts.return_state)
    )
    reason = "torch's fused kernel computes it (no recurrent dropout, no holes in the mask)"
    return PathChoice("fused", reason, torch_kernel=kernel, packed=packed)


def _kernel(facts: PathFacts) -> PathChoice | str:
    """rnnlab's kernel for this forward (whether or not it is the fastest), or why none applies."""
    if facts.kind not in CELL_KINDS:
        return f"rnnlab has no kernel for a {facts.kind!r} cell"
    if facts.device != "cpu":
        return f"rnnlab's kernels run on CPU only, got device type {facts.device!r}"
    if facts.kind == "lstm":
        if torch_kernel("lstm", facts.activation, facts.recurrent_activation)[0] is None:
            return "rnnlab's LSTM kernel needs activation='tanh', recurrent_activation='sigmoid'"
        if facts.recurrent_masks not in (0, 1, 4):
            return f"rnnlab's LSTM kernel needs 1 or 4 recurrent masks, got {facts.recurrent_masks}"
        return PathChoice("kernel", "rnnlab's LSTM kernel computes it")
    if facts.kind == "simple_rnn":
        if facts.activation != "tanh":
            name = repr(facts.activation) if facts.activation else "a custom callable"
            return f"rnnlab's SimpleRNN kernel needs activation='tanh', got {name}"
        if facts.dtype != torch.float32:
            return f"rnnlab's SimpleRNN kernel runs in float32 only, got {facts.dtype}"
        if not facts.native:
            return "rnnlab's SimpleRNN kernel needs its C loops, which are unavailable here"
        return PathChoice("kernel", "rnnlab's SimpleRNN kernel computes it")
    gru, why = torch_kernel("gru", facts.activation, facts.recurrent_activation, facts.reset_after)
    if gru is None:
        return f"rnnlab's GRU kernel computes what torch's does: {why}"
    if facts.recurrent_masks:
        return "rnnlab's GRU kernel has no recurrent dropout (training with recurrent_dropout > 0)"
    if facts.mask == "holes":
        return "rnnlab's GRU kernel needs each row's valid steps contiguous; the mask has gaps"
    return PathChoice("kernel", "rnnlab's GRU kernel computes it")


def choose_path(facts: PathFacts, implementation: str = "auto") -> PathChoice:
    """The path one forward takes: the one `implementation` asks for, or the fastest ('auto').

    Args:
        facts: what decides the path (see `PathFacts`).
        implementation: 'auto', 'fused', 'kernel' or 'loop'.

    Returns:
        The path and a one-line reason.

    Raises:
        ValueError: 'fused' or 'kernel' was asked for and cannot compute this forward,
            or `implementation` is none of the four.
    """
    if implementation == "loop":
        return PathChoice("loop", "implementation='loop' asked for it")
    if implementation in ("fused", "kernel"):
        chosen = _fused(facts) if implementation == "fused" else _kernel(facts)
        if isinstance(chosen, str):
            raise InvalidValueError(
                f"implementation='{implementation}' cannot run this forward: {chosen}"
            )
        return chosen
    check_choice("implementation", implementation, IMPLEMENTATIONS)  # 'auto' from here on
    kernel = _kernel(facts)
    if isinstance(kernel, PathChoice):
        if facts.recurrent_masks and facts.kind in ("lstm", "simple_rnn"):
            why = "recurrent dropout is active, which torch's fused kernel cannot apply"
            return PathChoice("kernel", f"{kernel.reason}; {why}")
        if facts.backprop and (
            (facts.kind == "lstm" and facts.dtype == torch.float32 and facts.native)
            or facts.kind == "simple_rnn"
        ):
            why = "a float32 training forward, where its C loops beat torch's fused kernel"
            return PathChoice("kernel", f"{kernel.reason}: {why}")
    fused = _fused(facts)
    if isinstance(fused, PathChoice):
        if facts.kind == "gru" and isinstance(kernel, PathChoice):
            why = "on CPU it beats torch's GRU, a loop of small autograd operations"
            return PathChoice("kernel", f"{kernel.reason}: {why}")
        return fused
    reason = f"torch's fused kernel cannot run it: {fused}"
    if isinstance(kernel, PathChoice):  # e.g. float64 training with holes in the mask
        reason += "; 'auto' takes rnnlab's kernel only under recurrent dropout or float32 training"
    return PathChoice("loop", reason)
