"""Benchmark jobs on the Keras side: the tutorial models written as the tutorials write them.

Run by the driver (`benchmarks/run.py`) as a script in a fresh process, in the
Keras/TensorFlow venv (`KERAS_BACKEND=tensorflow`) for real runs, or with
`KERAS_BACKEND=torch` in rnnlab's venv for the smoke test. It imports only
numpy, keras and the standard library: the model comes as a plain dict `spec`
that the driver reads from the same shipped config rnnlab builds from, and the
data as the driver's .npz.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
from worker import serve

CELLS = {"lstm": keras.layers.LSTM, "simple_rnn": keras.layers.SimpleRNN}


def build(spec: dict[str, Any], seed: int) -> keras.Model:
    """Input -> [Embedding] -> stacked recurrent layers -> Dense, compiled with Adam."""
    keras.utils.set_random_seed(seed)
    raw = spec["input"] == "raw"
    layers: list[Any] = [keras.Input((spec["steps"], 1) if raw else (spec["steps"],))]
    if not raw:
        layers.append(keras.layers.Embedding(spec["vocab_size"], spec["embedding_dim"]))
    units = spec["units"]
    for i, u in enumerate(units):
        layers.append(
            CELLS[spec["cell"]](
                u,
                dropout=spec["dropout"],
                recurrent_dropout=spec["recurrent_dropout"],
                return_sequences=i < len(units) - 1,
            )
        )
    binary = spec["num_classes"] == 2
    layers.append(
        keras.layers.Dense(
            1 if binary else spec["num_classes"], activation="sigmoid" if binary else "softmax"
        )
    )
    model = keras.Sequential(layers)
    optimizer = keras.optimizers.Adam(learning_rate=spec["lr"], epsilon=spec["epsilon"])
    model.compile(
        loss="binary_crossentropy" if binary else "categorical_crossentropy",
        optimizer=optimizer,
        metrics=["accuracy"],
    )
    return model


def arrays(spec: dict[str, Any], data: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one split as the tutorial feeds them: raw ids as (n, steps, 1) floats,
    one-hot targets for softmax models."""
    with np.load(data, allow_pickle=False) as f:
        x, y = f[f"x_{split}"], f[f"y_{split}"]
    if spec["input"] == "raw":
        x = x.astype("float32")[..., None]
    if spec["num_classes"] == 2:
        return x, y.astype("float32")
    return x, np.eye(spec["num_classes"], dtype="float32")[y]


def fit_epochs(
    spec: dict[str, Any], data: str, warmup_rows: int, epochs: int, seed: int = 0
) -> dict[str, Any]:
    """Seconds per `model.fit` epoch, after a warm-up fit on the first rows (which traces
    the train function for full and partial batches)."""
    model = build(spec, seed)
    x, y = arrays(spec, data, "train")
    bs = spec["batch_size"]
    model.fit(x[:warmup_rows], y[:warmup_rows], epochs=1, batch_size=bs, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=bs, verbose=0)
    seconds = (time.perf_counter() - start) / epochs
    return {
        "seconds": seconds,
        "rows": len(y),
        "batches": -(-len(y) // bs),
        "backend": keras.backend.backend(),
        "jit_compile": bool(model.jit_compile),
    }


def predict_rows(
    spec: dict[str, Any], data: str, batch_size: int, warmup_rows: int, seed: int = 0
) -> dict[str, Any]:
    """Seconds for `model.predict` over the test rows (after a warm-up predict)."""
    model = build(spec, seed)
    x, _ = arrays(spec, data, "test")
    model.predict(x[:warmup_rows], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.predict(x, batch_size=batch_size, verbose=0)
    return {
        "seconds": time.perf_counter() - start,
        "rows": len(x),
        "batches": -(-len(x) // batch_size),
        "backend": keras.backend.backend(),
    }


def first_batch(spec: dict[str, Any], data: str, seed: int = 0) -> dict[str, Any]:
    """Train the tutorial model on one batch; the driver times this from the process spawn."""
    model = build(spec, seed)
    x, y = arrays(spec, data, "train")
    bs = spec["batch_size"]
    model.fit(x[:bs], y[:bs], epochs=1, batch_size=bs, verbose=0)
    return {"done_at": time.time(), "backend": keras.backend.backend()}


JOBS = {f.__name__: f for f in (fit_epochs, predict_rows, first_batch)}

if __name__ == "__main__":
    serve(JOBS)
