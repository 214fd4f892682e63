"""Benchmark job of the ONNX export: the IMDB tutorial model on onnxruntime vs rnnlab, one process.

`onnx_inference` takes the tutorial model as `rnnlab train` builds it (the
weights do not change the speed), exports it with `rnnlab.export.export_onnx`, and
times both over the same test rows with the same batch size and thread count:
onnxruntime running the .onnx file, and rnnlab's `Pipeline.predict_proba_encoded`.
The two take turns for `rounds` rounds (the fastest of each counts: on shared
cores other processes only ever add time), and every probability is compared.
Run by `benchmarks/run.py` (through `rnnlab_side.py`) and by
`benchmarks/onnx_inference.py`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.experiments.config import ExperimentConfig
from rnnlab.experiments.prepare import PreparedData
from rnnlab.export import export_onnx
from rnnlab.export.runtime import run, session
from rnnlab.input_encoder import InputEncoder
from rnnlab.pipeline import Pipeline


def tutorial_pipeline(cfg: ExperimentConfig, model: nn.Module, data: PreparedData) -> Pipeline:
    """The tutorial model as a `Pipeline` over padded ids (what `rnnlab train` saves)."""
    encoder = InputEncoder(
        kind="ids",
        maxlen=int(data.x_test.shape[1]),
        padding=cfg.data.padding,
        truncating=cfg.data.truncating,
    )
    return Pipeline(
        model.eval(), data.label_names, encoder, "RecurrentClassifier", dict(model.config)
    )


def onnx_batches(
    onnx_session: Any, x: np.ndarray, lengths: np.ndarray, batch_size: int
) -> np.ndarray:
    """Probabilities of every row, ``batch_size`` rows per onnxruntime call."""
    return np.concatenate(
        [
            run(onnx_session, x[i : i + batch_size], lengths[i : i + batch_size])
            for i in range(0, len(x), batch_size)
        ]
    )


def onnx_inference(
    cfg: ExperimentConfig,
    model: nn.Module,
    data: PreparedData,
    batch_size: int,
    warmup_rows: int,
    rounds: int,
) -> dict[str, Any]:
    """Seconds over the test rows: onnxruntime (``seconds``) and rnnlab (``rnnlab_seconds``).

    Args:
        cfg, model: the experiment config and the model it built.
        data: the prepared arrays (the test rows are timed).
        batch_size: rows per call, both sides.
        warmup_rows: rows each side runs once before timing.
        rounds: timed passes of each side, taking turns; the fastest counts.
    """
    pipeline = tutorial_pipeline(cfg, model, data)
    x, lengths = data.x_test.astype(np.int64), data.len_test.astype(np.int64)
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="rnnlab-onnx-") as tmp:
        exported = export_onnx(pipeline, Path(tmp) / "imdb.onnx")
        onnx_session = session(exported.onnx_path, threads=threads)
    warm = slice(0, warmup_rows)
    onnx_batches(onnx_session, x[warm], lengths[warm], batch_size)
    pipeline.predict_proba_encoded(x[warm], lengths[warm], batch_size=batch_size)
    best = {"onnx": float("inf"), "rnnlab": float("inf")}
    for _ in range(rounds):
        start = time.perf_counter()
        theirs = onnx_batches(onnx_session, x, lengths, batch_size)
        best["onnx"] = min(best["onnx"], time.perf_counter() - start)
        start = time.perf_counter()
        ours = pipeline.predict_proba_encoded(x, lengths, batch_size=batch_size)
        best["rnnlab"] = min(best["rnnlab"], time.perf_counter() - start)
    return {
        "seconds": best["onnx"],
        "rnnlab_seconds": best["rnnlab"],
        "rows": len(x),
        "batches": -(-len(x) // batch_size),
        "batch_size": batch_size,
        "threads": threads,
        "max_abs_diff": float(np.abs(theirs - ours).max()),
        "labels_equal": bool((theirs.argmax(1) == ours.argmax(1)).all()),
        "onnx_bytes": exported.size_bytes,
        "opset": exported.opset,
    }
