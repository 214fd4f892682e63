"""Running an exported model on onnxruntime, and the parity check every export passes.

`verify_export` feeds the graph and rnnlab's own `Pipeline.predict_proba_encoded`
the same probe batches (every length from 1 to maxlen, and a time axis other
than maxlen, so a frozen axis fails too; every other row repeats a few ids) and
refuses an export whose probabilities differ by more than `TOLERANCE` or whose
labels differ.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from rnnlab.errors import RnnlabError
from rnnlab.export.deps import require_onnxruntime
from rnnlab.pipeline import Pipeline

TOLERANCE = 1e-5  # absolute, on probabilities (float32 graph vs rnnlab's float32 module)


class ExportParityError(RnnlabError, RuntimeError):
    """An exported graph computes other probabilities than the model it was exported from."""


def session(model: bytes | str | os.PathLike[str], threads: int | None = None) -> Any:
    """An onnxruntime CPU `InferenceSession` of a serialized model or an .onnx file.

    Args:
        threads: intra-op threads (None: onnxruntime's default, one per core).
    """
    ort = require_onnxruntime()
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(onnx_session: Any, values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(batch, classes) float32 probabilities of padded inputs and their lengths."""
    first, second = (i.name for i in onnx_session.get_inputs())
    dtype = np.float32 if first == "values" else np.int64
    feed = {
        first: np.ascontiguousarray(values, dtype=dtype),
        second: np.ascontiguousarray(lengths, dtype=np.int64),
    }
    return onnx_session.run(None, feed)[0]


def probe_inputs(
    pipeline: Pipeline, time: int, rows: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Padded random inputs the way the model's encoder pads them, lengths from 1 to ``time``."""
    rng = np.random.default_rng(seed)
    encoder = pipeline.inputs
    low = max(1, encoder.min_length)
    lengths = np.concatenate([[low, time], rng.integers(low, time + 1, max(rows - 2, 0))])
    lengths = np.minimum(lengths, time).astype(np.int64)[:rows]
    if encoder.kind == "numbers":
        values: np.ndarray = rng.standard_normal((len(lengths), time)).astype(np.float32)
    else:
        vocab_size = max(_vocab_size(pipeline.config), 2)
        values = rng.integers(1, vocab_size, (len(lengths), time)).astype(np.int64)
        # Every other row from a few ids only: words and word pairs repeat in it (a model
        # that counts distinct n-grams must count each once).
        values[1::2] = values[1::2] % min(5, vocab_size - 1) + 1
    steps = np.arange(time)
    real = (
        steps[None, :] < lengths[:, None]
        if encoder.padding == "post"
        else steps[None, :] >= (time - lengths)[:, None]
    )
    return np.where(real, values, 0).astype(values.dtype), lengths


def _vocab_size(config: dict[str, Any]) -> int:
    """The embedding's rows: the config's ``vocab_size``, or its recurrent part's (a hybrid)."""
    if "vocab_size" in config:
        return int(config["vocab_size"])
    recurrent = config.get("recurrent")
    return int(recurrent.get("vocab_size", 2)) if isinstance(recurrent, dict) else 2


def verify_export(pipeline: Pipeline, model: bytes, rows: int = 16) -> float:
    """The largest |probability difference| over the probe batches; raises beyond `TOLERANCE`.

    Raises:
        ExportParityError: the graph and rnnlab disagree (a bug: please report it).
    """
    onnx_session = session(model, threads=1)
    maxlen = pipeline.inputs.maxlen or 1
    worst = 0.0
    for seed, time in enumerate(sorted({maxlen, max(1, maxlen // 2 + 1)})):
        values, lengths = probe_inputs(pipeline, time, rows, seed)
        ours = pipeline.predict_proba_encoded(values, lengths)
        theirs = run(onnx_session, values, lengths)
        diff = float(np.abs(theirs - ours).max())
        worst = max(worst, diff)
        # A label may flip only on a tie within the tolerance: anything else is a real
        # disagreement even when the probabilities are close.
        top2 = np.sort(ours, axis=1)[:, -2:]
        decided = top2[:, 1] - top2[:, 0] > 2 * TOLERANCE
        if diff > TOLERANCE or (decided & (theirs.argmax(1) != ours.argmax(1))).any():
            raise ExportParityError(
                f"the exported graph differs from rnnlab by {diff:.3g} in probability on "
                f"{len(lengths)} probe rows of {time} steps (tolerance {TOLERANCE:g}); nothing "
                "was written. This is a bug in the exporter: please report it"
            )
    return worst
