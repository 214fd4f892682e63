"""The ONNX graph of a `RecurrentClassifier`: padded ids and lengths in, class probabilities out.

Inputs ``ids`` (batch, time) int64 (``values`` float32 for a model on raw
numbers) and ``lengths`` (batch,) int64, both axes dynamic; output
``probabilities`` (batch, classes) float32, the binary model's as
``[1 - sigmoid, sigmoid]``. The graph computes what the module's forward does:

- masked models (``mask=True``): lengths are clamped to [0, time]; pre-padded
  rows are front-aligned by a time gather (row b's real steps move to the
  front), so every layer runs the native op with ``sequence_lens`` = lengths:
  Keras's mask skips padded steps, so a pre-padded row is the same row started
  at its first real step. Pooling masks the steps at and after each length.
- unmasked models (the tutorials): every step runs, padding included, and
  `lengths` is read by nothing.
- the last layer's final state is the op's ``Y_h`` (the state at each row's last
  real step, for the backward direction after its step 0); max / mean pooling
  reduce the last layer's outputs over time.

Time-major inside (the native ops' layout): the ids are transposed once, before
the embedding gather, the cheapest place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.errors import InvalidValueError
from rnnlab.export.onnx_graph import GraphBuilder
from rnnlab.export.recurrent_ops import add_recurrent_layer
from rnnlab.models.classifier import RecurrentClassifier
from rnnlab.pipeline import Pipeline

EXPORTED_KINDS = ("text", "ids", "numbers")  # an 'array' input is not a padded sequence


def input_names(pipeline: Pipeline) -> tuple[str, str]:
    """The graph's two input names: the padded sequences, then their lengths."""
    return ("values" if pipeline.inputs.kind == "numbers" else "ids"), "lengths"


def build_graph(pipeline: Pipeline, opset: int) -> Any:
    """The `onnx.ModelProto` of ``pipeline``, whose module is a `RecurrentClassifier`."""
    module = pipeline.module
    if not isinstance(module, RecurrentClassifier):
        raise InvalidValueError(
            f"the architecture is 'RecurrentClassifier' but the module is a {type(module).__name__}"
        )
    kind = pipeline.inputs.kind
    if kind not in EXPORTED_KINDS:
        raise InvalidValueError(
            f"a RecurrentClassifier reading {kind!r} inputs has no ONNX export; "
            f"exported: {', '.join(EXPORTED_KINDS)}"
        )
    outputs = module.head.out_features
    classes = 2 if outputs == 1 else outputs
    if classes != len(pipeline.labels):
        raise InvalidValueError(
            f"the model has {classes} classes but {len(pipeline.labels)} labels"
        )
    g = GraphBuilder(opset)
    values_name, lengths_name = input_names(pipeline)
    values = g.input(values_name, np.float32 if kind == "numbers" else np.int64, ["batch", "time"])
    lengths = g.input(lengths_name, np.int64, ["batch"])
    logits = add_logits(g, module, values, lengths, kind)
    add_probabilities(g, logits, outputs)
    return g.model("RecurrentClassifier", doc=__doc__.splitlines()[0])


def add_logits(
    g: GraphBuilder, module: RecurrentClassifier, values: str, lengths: str, kind: str
) -> str:
    """The module's (batch, outputs) logits from the graph's padded ``values`` and ``lengths``."""
    sequence_lens = valid = None
    if module.mask:
        values, lengths, sequence_lens, valid = _masking(g, values, lengths, module.padding)

    x = _input_stage(g, module, g.op("Transpose", values, perm=[1, 0]), kind)
    layers = list(module.recurrent)
    features = None
    for i, layer in enumerate(layers):
        final = i == len(layers) - 1
        x, features = add_recurrent_layer(
            g,
            layer,
            x,
            sequence_lens,
            need_sequence=not final or module.pooling != "last",
            need_last=final and module.pooling == "last",
        )
    if module.pooling != "last":
        features = _pool(g, module.pooling, x, valid, lengths)
    return g.op(
        "Gemm",
        features,
        g.constant("head_weight", _numpy(module.head.weight)),
        g.constant("head_bias", _numpy(module.head.bias)),
        transB=1,
    )


def add_probabilities(g: GraphBuilder, logits: str, outputs: int) -> None:
    """The graph output ``probabilities`` (batch, classes) of (batch, outputs) logits, as
    rnnlab's `class_probabilities`: one logit is ``[1 - sigmoid, sigmoid]``, more a softmax."""
    if outputs == 1:
        # [sigmoid(-z), sigmoid(z)]: rnnlab's form of [1 - sigmoid, sigmoid], exact near 1.
        probabilities = g.op(
            "Sigmoid", g.op("Concat", g.op("Neg", logits), logits, axis=1), name="probabilities"
        )
    else:
        probabilities = g.op("Softmax", logits, axis=1, name="probabilities")
    g.output(probabilities, "probabilities", np.float32, ["batch", 2 if outputs == 1 else outputs])


def _numpy(parameter: Any) -> np.ndarray:
    return parameter.detach().cpu().numpy().astype(np.float32)


def _masking(g: GraphBuilder, values: str, lengths: str, padding: str) -> tuple[str, str, str, str]:
    """What a masked model needs: (front-aligned values, lengths clamped to [0, time],
    int32 ``sequence_lens`` for the native ops, (time, batch, 1) mask of the real steps)."""
    time = g.op("Shape", values, start=1, end=2)  # (1,): broadcasts against (batch,)
    lengths = g.op("Max", g.op("Min", lengths, time), g.ints("zero", [0]))
    steps = g.op(
        "Range",
        g.constant("start", np.int64(0)),
        g.op("Squeeze", time, g.ints("axis0", [0])),
        g.constant("delta", np.int64(1)),
    )
    if padding == "pre":
        values = _front_align(g, values, lengths, time, steps)
    sequence_lens = g.op("Cast", lengths, to=g.onnx.TensorProto.INT32)
    valid = g.op(
        "Unsqueeze",
        g.op(
            "Less",
            g.op("Unsqueeze", steps, g.ints("axis1", [1])),
            g.op("Unsqueeze", lengths, g.ints("axis0", [0])),
        ),
        g.ints("axis2", [2]),
    )
    return values, lengths, sequence_lens, valid


def _front_align(g: GraphBuilder, values: str, lengths: str, time: str, steps: str) -> str:
    """Pre-padded (batch, time) rows with their real steps moved to the front.

    Position t of row b reads position (t + time - lengths[b]) mod time: the real
    steps first, in order, then the padding.
    """
    shift = g.op("Sub", time, lengths)
    index = g.op(
        "Mod",
        g.op(
            "Add",
            g.op("Unsqueeze", steps, g.ints("axis0", [0])),
            g.op("Unsqueeze", shift, g.ints("axis1", [1])),
        ),
        time,
    )
    return g.op("GatherElements", values, index, axis=1)


def _input_stage(g: GraphBuilder, module: RecurrentClassifier, values: str, kind: str) -> str:
    """(time, batch) ids or numbers -> (time, batch, features) float32."""
    if module.embedding is not None:
        table = _numpy(module.embedding.weight)
        # A negative id would silently wrap around in Gather (-1 is the last row); mapped
        # to the table's size it fails as every id out of range does, as in rnnlab.
        negative = g.op("Less", values, g.ints("zero", [0]))
        ids = g.op("Where", negative, g.ints("vocab_size", [len(table)]), values)
        return g.op("Gather", g.constant("embedding", table), ids, axis=0)
    if kind != "numbers":  # 'raw' input: each id fed as one float feature
        values = g.op("Cast", values, to=g.onnx.TensorProto.FLOAT)
    return g.op("Unsqueeze", values, g.ints("axis2", [2]))


def _pool(g: GraphBuilder, pooling: str, x: str, valid: str | None, lengths: str) -> str:
    """(time, batch, features) -> (batch, features): max or mean over the real steps."""
    op = "ReduceMax" if pooling == "max" else "ReduceMean"
    if valid is None:  # unmasked: over every step
        return g.reduce(op, x, [0])
    if pooling == "max":
        filled = g.op("Where", valid, x, g.constant("minus_inf", np.float32(-np.inf)))
        pooled = g.reduce("ReduceMax", filled, [0])
        # An empty row (length 0) pools to zeros, as in rnnlab, not to -inf.
        nonempty = g.op(
            "Unsqueeze", g.op("Greater", lengths, g.ints("zero", [0])), g.ints("axis1", [1])
        )
        return g.op("Where", nonempty, pooled, g.constant("zero_float", np.float32(0.0)))
    total = g.reduce(
        "ReduceSum", g.op("Mul", x, g.op("Cast", valid, to=g.onnx.TensorProto.FLOAT)), [0]
    )
    count = g.op("Cast", g.op("Max", lengths, g.ints("one", [1])), to=g.onnx.TensorProto.FLOAT)
    return g.op("Div", total, g.op("Unsqueeze", count, g.ints("axis1", [1])))
