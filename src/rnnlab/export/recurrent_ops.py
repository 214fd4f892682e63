"""rnnlab recurrent layers as ONNX's native LSTM / GRU / RNN ops: weights, gate order, activations.

The ONNX ops compute the Keras equations (docs/recurrent_layers.md) once the
weights are laid out their way:

- W (directions, gates * units, input) and R (directions, gates * units, units)
  are the transposed Keras kernels, gate blocks in ONNX's order: LSTM i, o, f, c
  (Keras i, f, c, o); GRU z, r, h and RNN are in Keras's order already;
- B (directions, 2 * gates * units) is the input bias then the recurrent bias:
  Keras's one bias and zeros, or a `reset_after` GRU's two bias rows;
- GRU `linear_before_reset` is Keras's `reset_after` (1 applies the reset gate
  to ``h @ U_h + b'_h``, 0 to ``h`` before the matmul);
- `activations` are the cell's: LSTM (gates, candidate, output) = Keras
  (recurrent_activation, activation, activation), GRU (gates, candidate), RNN
  (activation), per direction.

With `sequence_lens`, row b runs its first ``lengths[b]`` steps only: the state
stays at the last real step, the outputs after it are zeros, and the reverse
direction starts at row b's last real step. That is Keras's masking of
post-padded rows (a masked step leaves the state unchanged), so the exporter
front-aligns pre-padded rows before the first layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.errors import InvalidValueError
from rnnlab.export.onnx_graph import GraphBuilder
from rnnlab.nn import Bidirectional
from rnnlab.nn.activations import activation_name
from rnnlab.nn.cells import GRUCell, LSTMCell, SimpleRNNCell
from rnnlab.nn.recurrent import Recurrent

OPS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}
CELLS = {"lstm": LSTMCell, "gru": GRUCell, "simple_rnn": SimpleRNNCell}
# The Keras gate blocks in ONNX's order.
GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (0, 1, 2), "simple_rnn": (0,)}
# Keras activation -> (ONNX activation, its alpha, its beta): onnxruntime takes an
# alpha / beta from the lists only for the functions that have one.
ACTIVATIONS: dict[str, tuple[str, float | None, float | None]] = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1 / 6, 0.5),  # Keras 3: relu6(x + 3) / 6
    "linear": ("Affine", 1.0, 0.0),
    "softsign": ("Softsign", None, None),
    "elu": ("Elu", 1.0, None),
}


def directions_of(layer: Any) -> list[Recurrent]:
    """The one-direction layers of ``layer`` (a SimpleRNN / LSTM / GRU or a Bidirectional)."""
    if isinstance(layer, Bidirectional):
        if layer.merge_mode != "concat":
            raise InvalidValueError(
                f"a Bidirectional with merge_mode={layer.merge_mode!r} has no ONNX export; "
                "only 'concat' (what RecurrentClassifier builds) is exported"
            )
        fw, bw = layer.forward_layer, layer.backward_layer
        if fw.go_backwards or not bw.go_backwards:
            raise InvalidValueError("a Bidirectional's layers must run forwards and backwards")
        if (fw.cell.kind, fw.units) != (bw.cell.kind, bw.units):
            raise InvalidValueError(
                "a Bidirectional whose two layers differ in cell or units has no ONNX export "
                f"(one op, one hidden size), got {fw.cell.kind}({fw.units}) and "
                f"{bw.cell.kind}({bw.units})"
            )
        return [fw, bw]
    if not isinstance(layer, Recurrent):
        raise InvalidValueError(f"cannot export a {type(layer).__name__} as a recurrent layer")
    if layer.go_backwards:
        raise InvalidValueError(
            "a layer with go_backwards=True outside a Bidirectional has no ONNX export "
            "(its output sequence comes back reversed)"
        )
    return [layer]


def _activation(name: str | None, role: str, layer: Recurrent) -> tuple[str, Any, Any]:
    if name not in ACTIVATIONS:
        what = "a custom callable" if name is None else repr(name)
        raise InvalidValueError(
            f"{type(layer).__name__}'s {role} is {what}, which the ONNX recurrent ops cannot "
            f"compute; exportable: {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


def _activations(layer: Recurrent) -> list[tuple[str, Any, Any]]:
    """The ONNX activations of one direction, in the op's order (see the module docstring)."""
    cell = layer.cell
    act = _activation(activation_name(cell.activation), "activation", layer)
    if cell.kind == "simple_rnn":
        return [act]
    gates = _activation(activation_name(cell.recurrent_activation), "recurrent_activation", layer)
    return [gates, act, act] if cell.kind == "lstm" else [gates, act]


def onnx_weights(layer: Recurrent) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(W, R, B) of one direction in ONNX layout, float32; B is None without a bias."""
    cell = layer.cell
    kind, units, order = cell.kind, cell.units, GATE_ORDER[cell.kind]
    gates = len(order)
    weights = [np.asarray(w, dtype=np.float32) for w in layer.get_keras_weights()]
    kernel, recurrent = weights[0], weights[1]

    def blocks(matrix: np.ndarray) -> np.ndarray:
        # (rows, gates * units) -> (gates * units, rows), gate blocks in ONNX's order.
        rows = matrix.shape[0]
        return matrix.reshape(rows, gates, units)[:, order].transpose(1, 2, 0).reshape(-1, rows)

    w, r = blocks(kernel), blocks(recurrent)
    if len(weights) < 3:
        return w, r, None
    bias = weights[2]
    if kind == "gru" and cell.reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    b = np.concatenate(
        [v.reshape(gates, units)[list(order)].reshape(-1) for v in (input_bias, recurrent_bias)]
    )
    return w, r, b


def add_recurrent_layer(
    g: GraphBuilder,
    layer: Any,
    x: str,
    sequence_lens: str | None,
    need_sequence: bool,
    need_last: bool,
) -> tuple[str | None, str | None]:
    """Run ``layer`` on ``x`` (time, batch, features) float32 in the graph.

    Args:
        g: the graph.
        layer: a SimpleRNN / LSTM / GRU, or a Bidirectional (concat) of one.
        x: the input value's name.
        sequence_lens: (batch,) int32 real steps of front-aligned rows, or None to run
            every step (an unmasked model).
        need_sequence / need_last: which results to produce.

    Returns:
        (sequence (time, batch, directions * units), last (batch, directions * units)):
        the outputs at every step, directions side by side as Keras's concat, and the
        final states; None where not needed.
    """
    layers = directions_of(layer)
    cell = layers[0].cell
    for sub in layers:
        if type(sub.cell).step is not CELLS[sub.cell.kind].step:
            raise InvalidValueError(
                f"{type(sub.cell).__name__} computes its own step, which has no ONNX op"
            )
    kind, units = cell.kind, cell.units
    ws, rs, bs = zip(*(onnx_weights(sub) for sub in layers))
    inputs = [x, g.constant(f"{kind}_W", np.stack(ws)), g.constant(f"{kind}_R", np.stack(rs))]
    has_bias = bs[0] is not None
    inputs.append(g.constant(f"{kind}_B", np.stack(bs)) if has_bias else "")
    if sequence_lens is not None:
        inputs.append(sequence_lens)
    functions = [a for sub in layers for a in _activations(sub)]
    attributes: dict[str, Any] = {
        "hidden_size": units,
        "direction": "bidirectional" if len(layers) == 2 else "forward",
        "activations": [name for name, _, _ in functions],
    }
    alphas = [a for _, a, _ in functions if a is not None]
    betas = [b for _, _, b in functions if b is not None]
    if alphas:
        attributes["activation_alpha"] = alphas
    if betas:
        attributes["activation_beta"] = betas
    if kind == "gru":
        attributes["linear_before_reset"] = int(cell.reset_after)
    # Outputs Y, Y_h (and an LSTM's Y_c, never needed): an omitted one is not produced.
    wanted = (need_sequence, need_last, False)[: 3 if kind == "lstm" else 2]
    omit = [i for i, needed in enumerate(wanted) if not needed]
    y, y_h = g.op(OPS[kind], *inputs, outputs=len(wanted), omit=omit, **attributes)[:2]
    sequence = last = None
    if len(layers) == 1:
        # Y is (time, 1, batch, units) and Y_h (1, batch, units).
        if need_sequence:
            sequence = g.op("Squeeze", y, g.ints("axis1", [1]))
        if need_last:
            last = g.op("Squeeze", y_h, g.ints("axis0", [0]))
        return sequence, last
    # Y is (time, 2, batch, units): the directions side by side, forward first.
    if need_sequence:
        sequence = g.op(
            "Reshape",
            g.op("Transpose", y, perm=[0, 2, 1, 3]),
            g.ints("time_batch_features", [0, 0, -1]),
        )
    if need_last:
        last = g.op(
            "Reshape", g.op("Transpose", y_h, perm=[1, 0, 2]), g.ints("batch_features", [0, -1])
        )
    return sequence, last
