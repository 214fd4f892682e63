"""The ONNX graph of a `HybridClassifier`: the recurrent graph's logits blended with n-gram scores.

Same contract as `rnnlab.export.recurrent_classifier` (``ids`` (batch, time) and
``lengths`` (batch,) int64 in, ``probabilities`` (batch, classes) float32 out),
computing ``recurrent_weight * recurrent + linear_weight * ngrams`` as the module does:

- the recurrent part is the `RecurrentClassifier` graph's logits (`add_logits`);
- the n-gram part reads the ids as given (not front-aligned): ids that are
  padding (0), negative or at least ``num_ids`` become -1; each row is sorted by
  ``TopK`` (k = the time axis, ascending) and a key counts where it differs from
  its left neighbour, so each distinct n-gram adds its weights once;
- a unigram's weights are a ``Gather`` of the dense table; the key of a bigram or
  trigram (`rnnlab.models.ngram_keys`) is mapped to its row of the kept n-grams by an
  ai.onnx.ml ``LabelEncoder`` (default -1: an n-gram the model did not keep adds
  nothing), the one op that looks a key up in a sorted table;
- the blend, then the recurrent head's sigmoid / softmax (`add_probabilities`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnlab.errors import InvalidValueError
from rnnlab.export.onnx_graph import GraphBuilder
from rnnlab.export.recurrent_classifier import add_logits, add_probabilities
from rnnlab.models.hybrid import PADDING_ID, HybridClassifier, NgramScorer
from rnnlab.models.ngram_keys import ngram_offsets
from rnnlab.pipeline import Pipeline

EXPORTED_KINDS = ("text", "ids")  # the n-gram part reads ids


def build_graph(pipeline: Pipeline, opset: int) -> Any:
    """The `onnx.ModelProto` of ``pipeline``, whose module is a `HybridClassifier`."""
    module = pipeline.module
    if not isinstance(module, HybridClassifier):
        raise InvalidValueError(
            f"the architecture is 'HybridClassifier' but the module is a {type(module).__name__}"
        )
    kind = pipeline.inputs.kind
    if kind not in EXPORTED_KINDS:
        raise InvalidValueError(
            f"a HybridClassifier reading {kind!r} inputs has no ONNX export; "
            f"exported: {', '.join(EXPORTED_KINDS)}"
        )
    outputs = module.recurrent.head.out_features
    classes = 2 if outputs == 1 else outputs
    if classes != len(pipeline.labels):
        raise InvalidValueError(
            f"the model has {classes} classes but {len(pipeline.labels)} labels"
        )
    g = GraphBuilder(opset)
    ids = g.input("ids", np.int64, ["batch", "time"])
    lengths = g.input("lengths", np.int64, ["batch"])
    deep = add_logits(g, module.recurrent, ids, lengths, kind)
    logits = g.op("Mul", deep, g.constant("recurrent_weight", np.float32(module.recurrent_weight)))
    if module.linear_weight != 0.0:  # the module skips the n-gram part then, as the graph does
        wide = add_ngram_scores(g, module.ngrams, ids)
        linear_weight = g.constant("linear_weight", np.float32(module.linear_weight))
        logits = g.op("Add", logits, g.op("Mul", wide, linear_weight))
    add_probabilities(g, logits, outputs)
    return g.model("HybridClassifier", doc=__doc__.splitlines()[0])


def _array(buffer: Any, dtype: Any) -> np.ndarray:
    return buffer.detach().cpu().numpy().astype(dtype)


def add_ngram_scores(g: GraphBuilder, scorer: NgramScorer, ids: str) -> str:
    """`NgramScorer`'s (batch, outputs) scores of the (batch, time) ``ids``."""
    v = scorer.num_ids
    minus_one = g.ints("minus_one", [-1])
    real = g.op(
        "And",
        g.op("Not", g.op("Equal", ids, g.ints("padding_id", [PADDING_ID]))),
        g.op(
            "And",
            g.op("GreaterOrEqual", ids, g.ints("zero", [0])),
            g.op("Less", ids, g.ints("num_ids", [v])),
        ),
    )
    unigram_table, ngram_table = (_array(t, np.float32) for t in scorer.tables())
    unigrams, first = _distinct(g, g.op("Where", real, ids, minus_one))
    sums = _sum_rows(g, unigram_table, "unigram_weights", unigrams, first)
    keys = _array(scorer.ngram_keys, np.int64)
    if len(keys) and scorer.order >= 2:
        sums = g.op("Add", sums, _longer_ngram_sums(g, ngram_table, keys, scorer, ids, real))
    if scorer.normalized:
        # As the module: the weights' sums over the root of the norms' sum (the last column).
        norm = g.op(
            "Sqrt",
            g.op(
                "Max",
                _columns(g, sums, -1, None),
                g.constant("tiny", np.array([1e-12], np.float32)),
            ),
        )
        sums = g.op("Div", _columns(g, sums, 0, -1), norm)
    return g.op("Add", g.constant("ngram_bias", _array(scorer.bias, np.float32)), sums)


def _longer_ngram_sums(
    g: GraphBuilder, table: np.ndarray, keys: np.ndarray, scorer: NgramScorer, ids: str, real: str
) -> str:
    """The sum of ``table``'s rows over each row's distinct kept n-grams of two or more words."""
    v = scorer.num_ids
    minus_one = g.ints("minus_one", [-1])
    num_ids = g.ints("num_ids", [v])
    longer = []
    for n, offset in enumerate(ngram_offsets(v, scorer.order)[1:], start=2):
        # Steps with fewer than n ids left give no n-gram: the slices are empty there.
        key, ok = _columns(g, ids, 0, 1 - n), _columns(g, real, 0, 1 - n)
        for k in range(1, n):
            end = None if k == n - 1 else k + 1 - n
            key = g.op("Add", g.op("Mul", key, num_ids), _columns(g, ids, k, end))
            ok = g.op("And", ok, _columns(g, real, k, end))
        key = g.op("Add", key, g.ints(f"offset{n}", [offset]))
        longer.append(g.op("Where", ok, key, minus_one))
    # One more -1 column: a row too short for any n-gram still gives TopK >= 1 key.
    key = g.op(
        "Pad",
        g.op("Concat", *longer, axis=1),
        g.ints("pad_end", [0, 0, 0, 1]),
        g.constant("pad_minus_one", np.int64(-1)),
    )
    ngrams, first = _distinct(g, key)
    column = g.op(
        "LabelEncoder",
        ngrams,
        domain="ai.onnx.ml",
        keys_int64s=[int(k) for k in keys],
        values_int64s=list(range(len(keys))),
        default_int64=-1,
    )
    return _sum_rows(g, table, "ngram_weights", column, first)


def _columns(g: GraphBuilder, x: str, start: int, end: int | None) -> str:
    """``x[:, start:end]``."""
    stop = np.iinfo(np.int64).max if end is None else end
    return g.op("Slice", x, g.ints("start", [start]), g.ints("end", [stop]), g.ints("axis1", [1]))


def _distinct(g: GraphBuilder, keys: str) -> tuple[str, str]:
    """Each row's keys sorted ascending, and a mask of the first of each run of equal keys."""
    time = g.op("Shape", keys, start=1, end=2)
    ordered = g.op("TopK", keys, time, outputs=2, axis=1, largest=0, sorted=1)[0]
    # Row shifted right by one, led by -2 (below every key, -1 included).
    shifted = g.op(
        "Pad",
        _columns(g, ordered, 0, -1),
        g.ints("pad_begin", [0, 1, 0, 0]),
        g.constant("lead", np.int64(-2)),
    )
    return ordered, g.op("Not", g.op("Equal", ordered, shifted))


def _sum_rows(g: GraphBuilder, table: np.ndarray, hint: str, index: str, first: str) -> str:
    """Sum over time of ``table[index]`` where ``first`` and ``index >= 0``: (batch, outputs)."""
    counted = g.op("And", first, g.op("GreaterOrEqual", index, g.ints("zero", [0])))
    rows = g.op("Gather", g.constant(hint, table), g.op("Max", index, g.ints("zero", [0])), axis=0)
    weight = g.op(
        "Unsqueeze", g.op("Cast", counted, to=g.onnx.TensorProto.FLOAT), g.ints("axis2", [2])
    )
    return g.reduce("ReduceSum", g.op("Mul", rows, weight), [1])
