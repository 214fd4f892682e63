"""Benchmark jobs on the PyTorch side: rnnlab's tutorial models and the plain torch reference.

Run by the driver (`benchmarks/run.py`) as a script in a fresh process; each job
returns a dict of raw measurements. rnnlab models are built and trained exactly
as `rnnlab train` builds them from the shipped configs (`rnnlab.experiments`),
and every job asserts which path its recurrent layers took ('kernel': rnnlab's
LSTM kernel, 'fused': torch's fused kernel), so a number never measures the wrong code.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnx_jobs import onnx_inference
from torch import nn
from worker import serve

from rnnlab.engine import seed_everything
from rnnlab.experiments import build_model, load_config, make_trainer
from rnnlab.experiments.prepare import PreparedData
from rnnlab.nn import LSTM, recurrent
from rnnlab.nn.paths import lstm_kernel


def load_prepared(path: str) -> PreparedData:
    """The driver's .npz (written by `data_files.py`) as the `PreparedData` experiments use."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    label_names = [str(s) for s in arrays.pop("label_names")]
    vocab_size = int(arrays.pop("vocab_size"))
    return PreparedData(
        **arrays, seq_train=[], seq_test=[], label_names=label_names, vocab_size=vocab_size
    )


def lstm_paths(model: nn.Module) -> list[str]:
    """The paths the model's recurrent layers took in their last forward."""
    return sorted({m.last_path for m in model.modules() if getattr(m, "last_path", None)})


def check_paths(model: nn.Module, expect: str) -> list[str]:
    paths = lstm_paths(model)
    if paths != [expect]:
        raise AssertionError(f"expected every recurrent layer on the {expect!r} path, got {paths}")
    return paths


def tutorial(config: str, overrides: list[str], data: PreparedData, seed: int):
    """The tutorial model and trainer, as `rnnlab train --config ...` builds them."""
    cfg = load_config(config, overrides)
    seed_everything(seed)
    model = build_model(cfg, data)
    return cfg, model, make_trainer(cfg, model, seed=seed, verbose=0)


def fit_epochs(
    config: str,
    overrides: list[str],
    data: str,
    warmup_rows: int,
    epochs: int,
    expect_path: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Seconds per training epoch (`Trainer.fit`) after a warm-up fit on the first rows."""
    d = load_prepared(data)
    cfg, model, trainer = tutorial(config, overrides, d, seed)
    bs = cfg.train.batch_size
    x, lengths, y = d.x_train, d.len_train, d.y_train
    trainer.fit(((x[:warmup_rows], lengths[:warmup_rows]), y[:warmup_rows]), batch_size=bs)
    start = time.perf_counter()
    trainer.fit(((x, lengths), y), epochs=epochs, batch_size=bs)
    seconds = (time.perf_counter() - start) / epochs
    return {
        "seconds": seconds,
        "rows": len(y),
        "batches": -(-len(y) // bs),
        "paths": check_paths(model, expect_path),
    }


def predict_rows(
    config: str, data: str, batch_size: int, warmup_rows: int, seed: int = 0
) -> dict[str, Any]:
    """Seconds for `Trainer.predict` over the test rows (after a short warm-up)."""
    d = load_prepared(data)
    _, model, trainer = tutorial(config, [], d, seed)
    x = (d.x_test, d.len_test)
    trainer.predict((x[0][:warmup_rows], x[1][:warmup_rows]), batch_size=batch_size)
    start = time.perf_counter()
    trainer.predict(x, batch_size=batch_size)
    return {
        "seconds": time.perf_counter() - start,
        "rows": len(d.x_test),
        "batches": -(-len(d.x_test) // batch_size),
        "paths": check_paths(model, "fused"),
    }


def onnx_predict_rows(
    config: str, data: str, batch_size: int, warmup_rows: int, rounds: int, seed: int = 0
) -> dict[str, Any]:
    """Seconds over the test rows of the exported model on onnxruntime and of rnnlab's
    `Pipeline.predict_proba_encoded`, in turns (`onnx_jobs.py`)."""
    d = load_prepared(data)
    cfg, model, _ = tutorial(config, [], d, seed)
    result = onnx_inference(cfg, model, d, batch_size, warmup_rows, rounds)
    return {**result, "paths": check_paths(model, "fused")}


def first_batch(config: str, data: str, seed: int = 0) -> dict[str, Any]:
    """Train the tutorial model on one batch; the driver times this from the process spawn."""
    d = load_prepared(data)
    cfg, model, trainer = tutorial(config, [], d, seed)
    bs = cfg.train.batch_size
    trainer.fit(((d.x_train[:bs], d.len_train[:bs]), d.y_train[:bs]), batch_size=bs)
    return {"done_at": time.time(), "paths": lstm_paths(model)}


class TorchLSTMClassifier(nn.Module):
    """The reference: torch's own Embedding -> nn.LSTM -> Linear, no dropout of any kind."""

    def __init__(self, vocab_size: int, embedding_dim: int, units: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, units, batch_first=True)
        self.head = nn.Linear(units, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(self.embedding(ids))[1][0][0]).squeeze(-1)


def torch_fit_epochs(
    data: str,
    vocab_size: int,
    embedding_dim: int,
    units: int,
    lr: float,
    epsilon: float,
    batch_size: int,
    warmup_rows: int,
    epochs: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Seconds per epoch of the plain torch loop a torch user would write (shuffled batches)."""
    d = load_prepared(data)
    torch.manual_seed(seed)
    model = TorchLSTMClassifier(vocab_size, embedding_dim, units).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=epsilon, fused=True)
    loss_fn = nn.BCEWithLogitsLoss()
    x, y = torch.from_numpy(d.x_train).long(), torch.from_numpy(d.y_train).float()

    def epoch(rows: int) -> None:
        order = torch.randperm(rows)
        for i in range(0, rows, batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()

    epoch(warmup_rows)
    start = time.perf_counter()
    for _ in range(epochs):
        epoch(len(y))
    seconds = (time.perf_counter() - start) / epochs
    return {"seconds": seconds, "rows": len(y), "batches": -(-len(y) // batch_size)}


def train_pass(layer: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> None:
    """One forward + backward of `layer` on `x`, the loss a fixed projection of its output."""
    layer.zero_grad(set_to_none=True)
    (layer(x) * weight).sum().backward()


def lstm_scaling(
    hiddens: list[int], lengths: list[int], batch: int, samples: int, seed: int = 0
) -> dict[str, Any]:
    """Tokens per second of one recurrent-dropout LSTM layer (input size = hidden size).

    Each length is timed as the fastest of `samples` samples (other processes only
    ever add time) of the same number of tokens, as many forward + backward passes
    as make one pass of the longest length; the lengths take turns, sample by
    sample, so machine drift hits them alike.
    """
    table: dict[str, dict[str, float]] = {}
    for hidden in hiddens:
        torch.manual_seed(seed)
        layer = LSTM(hidden, input_size=hidden, dropout=0.2, recurrent_dropout=0.2).train()
        weight = torch.randn(batch, hidden)
        inputs = {T: torch.randn(batch, T, hidden, requires_grad=True) for T in lengths}
        best = {T: float("inf") for T in lengths}
        for T in lengths:  # warm-up
            train_pass(layer, inputs[T], weight)
            check_paths(layer, "kernel")
        for _ in range(samples):
            for T in lengths:
                passes = max(1, max(lengths) // T)
                start = time.perf_counter()
                for _ in range(passes):
                    train_pass(layer, inputs[T], weight)
                best[T] = min(best[T], (time.perf_counter() - start) / passes)
        table[str(hidden)] = {str(T): batch * T / best[T] for T in lengths}
    return {"tokens_per_s": table, "batch": batch}


@contextlib.contextmanager
def counted_kernel_calls():
    """Count the calls of rnnlab's LSTM kernel, so each side is known to have taken its path.

    The layer's `implementation` ('kernel' or 'loop') picks the side, as in the
    project's own parity tests; `last_path` is checked too.
    """
    calls: list[int] = []
    real = recurrent.run_lstm

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    recurrent.run_lstm = counted
    try:
        yield calls
    finally:
        recurrent.run_lstm = real


def kernel_parity(batch: int, steps: int, units: int, seed: int = 0) -> dict[str, Any]:
    """Max |difference| of output and gradients: the LSTM kernel vs the generic autograd loop.

    One float32 training forward of LSTM(units, dropout=0.2, recurrent_dropout=0.2)
    on a fixed random batch, with the same dropout masks on both paths; the loss
    is a fixed random projection of the output, so every gradient is non-trivial.
    """
    torch.manual_seed(seed)
    layer = LSTM(units, input_size=units, dropout=0.2, recurrent_dropout=0.2, seed=seed).train()
    x0 = torch.randn(batch, steps, units)
    weight = torch.randn(batch, units)

    def run(use_generic: bool) -> tuple[dict[str, torch.Tensor], int]:
        layer.generator.manual_seed(seed)  # the same masks on both paths
        layer.zero_grad(set_to_none=True)
        x = x0.clone().requires_grad_(True)
        layer.implementation = "loop" if use_generic else "kernel"
        with counted_kernel_calls() as calls:
            out = layer(x)
            (out * weight).sum().backward()
        check_paths(layer, "loop" if use_generic else "kernel")
        grads = {f"grad_{n}": p.grad for n, p in layer.named_parameters()}
        return {"output": out.detach(), "grad_input": x.grad, **grads}, len(calls)

    fast, fast_calls = run(use_generic=False)
    ref, ref_calls = run(use_generic=True)
    if (fast_calls, ref_calls) != (1, 0):
        raise AssertionError(f"kernel calls: fast {fast_calls}, reference {ref_calls}")
    diffs = {k: float((fast[k] - ref[k]).abs().max()) for k in fast}
    scale = {k: float(ref[k].abs().max()) for k in ref}
    return {
        "max_abs_diff": max(diffs.values()),
        "diffs": diffs,
        "max_abs_value": scale,
        "kernel": lstm_kernel.__name__,
        "dtype": str(x0.dtype),
    }


def serve_load(**params: Any) -> dict[str, Any]:
    """`rnnlab serve` under load, batched and not: `benchmarks/load_test.py`'s job."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from load_test import benchmark_job

    return benchmark_job(**params)


def data_parallel(rows: int, rounds: int) -> dict[str, Any]:
    """2 gloo workers x 1 thread vs 1 process x 2 threads: `bench_distributed.py`'s job."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench_distributed import benchmark_job

    return benchmark_job(rows, rounds, log=lambda line: print(line, file=sys.stderr))


def streamed_epoch(rows: int, rounds: int) -> dict[str, Any]:
    """Token store vs in-memory arrays, one epoch each: `bench_streaming.py compare`'s job."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench_streaming import compare_job

    return compare_job(rows, rounds, log=lambda line: print(line, file=sys.stderr))


JOBS = {
    f.__name__: f
    for f in (
        fit_epochs,
        predict_rows,
        onnx_predict_rows,
        first_batch,
        torch_fit_epochs,
        lstm_scaling,
        kernel_parity,
        serve_load,
        data_parallel,
        streamed_epoch,
    )
}

if __name__ == "__main__":
    serve(JOBS)
