"""ONNX export approaches for the IMDB tutorial LSTM: rnnlab's own graph vs `torch.onnx.export`.

Model: the tutorial's Embedding(20000, 128) -> LSTM(128) -> Dense(1), random
weights, unmasked (the one architecture every approach can express). Each
case exports it, then onnxruntime runs N rows of 80 ids (batch 256), and a
batch of 37 steps checks that the time axis stayed dynamic. Cases:

  rnnlab        rnnlab.export: the graph written with onnx.helper, ONNX's native LSTM op
  torch_legacy  torch.onnx.export(dynamo=False) of Embedding + nn.LSTM (the layer's `to_torch()`)
  torch_dynamo  torch.onnx.export(dynamo=True) of the same (needs onnxscript; skipped without)
  dynamo_loop   torch.onnx.export(dynamo=True) of rnnlab's own layer on its step loop
                (`implementation='loop'`): slow to export (minutes), so only when asked

The torch exporters see torch's nn.LSTM / nn.GRU / nn.RNN, which cannot express
a reset_after=False GRU, other gate activations, or Keras masking without
`pack_padded_sequence`; this script measures only what they can do.

    python benchmarks/bench_onnx_approaches.py [--rows 5000] [--threads 2]
    python benchmarks/bench_onnx_approaches.py --cases rnnlab dynamo_loop
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnlab.export.deps import require_onnx
from rnnlab.export.registry import exporter_for
from rnnlab.export.runtime import run, session
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.pipeline import Pipeline

CASES = ("rnnlab", "torch_legacy", "torch_dynamo", "dynamo_loop")
STEPS, OTHER_STEPS, BATCH = 80, 37, 256


class TorchLSTM(nn.Module):
    """Embedding -> torch nn.LSTM (the rnnlab layer's weights) -> the head: one logit."""

    def __init__(self, model: RecurrentClassifier):
        super().__init__()
        self.weight = model.embedding.weight
        self.lstm = model.recurrent[0].to_torch()
        self.head = model.head

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(F.embedding(ids, self.weight))[1][0][0])


class OwnLoop(nn.Module):
    """rnnlab's layer itself on its generic loop (F.embedding: rnnlab's Embedding checks its
    ids with a data-dependent min / max, which torch.export cannot trace)."""

    def __init__(self, model: RecurrentClassifier):
        super().__init__()
        self.weight, self.layer, self.head = model.embedding.weight, model.recurrent[0], model.head
        self.layer.implementation = "loop"

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer(F.embedding(ids, self.weight)))


def torch_export(module: nn.Module, dynamo: bool) -> bytes:
    example = (torch.randint(1, 20000, (8, STEPS)),)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dims = {"ids": {0: torch.export.Dim("batch"), 1: torch.export.Dim("time")}}
            torch.onnx.export(
                module,
                example,
                buffer,
                dynamo=True,
                input_names=["ids"],
                dynamic_shapes=dims,
                opset_version=18,
                verbose=False,
            )
        else:
            torch.onnx.export(
                module,
                example,
                buffer,
                dynamo=False,
                input_names=["ids"],
                dynamic_axes={"ids": {0: "batch", 1: "time"}},
                opset_version=17,
            )
    return buffer.getvalue()


def probabilities(onnx_session, ids: np.ndarray) -> np.ndarray:
    names = [i.name for i in onnx_session.get_inputs()]
    if len(names) == 2:
        return run(onnx_session, ids, np.full(len(ids), ids.shape[1], np.int64))
    z = onnx_session.run(None, {names[0]: ids})[0][:, 0].astype(np.float64)
    return np.column_stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))])


def measure(
    name: str,
    data: bytes,
    export_s: float,
    ids: np.ndarray,
    short: np.ndarray,
    want: np.ndarray,
    want_short: np.ndarray,
    threads: int,
) -> None:
    import onnx

    ops = [n.op_type for n in onnx.load_from_string(data).graph.node]
    onnx_session = session(data, threads=threads)
    probabilities(onnx_session, ids[:BATCH])  # warm-up
    start = time.perf_counter()
    got = np.concatenate(
        [probabilities(onnx_session, ids[i : i + BATCH]) for i in range(0, len(ids), BATCH)]
    )
    seconds = time.perf_counter() - start
    try:
        short_diff = f"{np.abs(probabilities(onnx_session, short) - want_short).max():.1e}"
    except Exception as exc:  # noqa: BLE001 - a frozen axis fails inside onnxruntime
        short_diff = f"fails ({type(exc).__name__}: time axis frozen?)"
    recurrent = sorted({op for op in ops if op in ("LSTM", "Loop", "Scan")}) or ["unrolled"]
    print(
        f"{name:13s} export {export_s:6.1f} s  {len(ops):4d} nodes ({'/'.join(recurrent)})  "
        f"onnxruntime {seconds:6.2f} s / {len(ids)} rows  max|dp| {np.abs(got - want).max():.1e}"
        f" at {STEPS} steps, {short_diff} at {OTHER_STEPS}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES[:3]))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    require_onnx()  # imported before any export is timed
    torch.manual_seed(0)
    model = RecurrentClassifier(
        vocab_size=20000, num_classes=2, units=(128,), embedding_dim=128, padding="pre"
    ).eval()
    pipeline = Pipeline(model, ["negative", "positive"], InputEncoder(kind="ids", maxlen=STEPS))
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20000, (args.rows, STEPS)).astype(np.int64)
    short = ids[:64, :OTHER_STEPS].copy()
    want = pipeline.predict_proba_encoded(ids, np.full(len(ids), STEPS))
    want_short = pipeline.predict_proba_encoded(short, np.full(len(short), OTHER_STEPS))
    print(
        f"IMDB tutorial LSTM, {args.threads} thread(s); rnnlab's predict_proba_encoded is the "
        "reference of every max|dp|"
    )
    for name in args.cases:
        if name == "torch_dynamo" and importlib.util.find_spec("onnxscript") is None:
            print(f"{name:13s} skipped: torch's dynamo exporter needs onnxscript")
            continue
        start = time.perf_counter()
        with torch.no_grad():
            if name == "rnnlab":
                data = exporter_for(pipeline)(pipeline, 17).SerializeToString()
            elif name == "dynamo_loop":
                data = torch_export(OwnLoop(model).eval(), dynamo=True)
            else:
                data = torch_export(TorchLSTM(model).eval(), dynamo=name == "torch_dynamo")
        measure(name, data, time.perf_counter() - start, ids, short, want, want_short, args.threads)


if __name__ == "__main__":
    main()
