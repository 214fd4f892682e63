"""Small random models of every kind rnnlab trains, and their inputs, for the export tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.nn import GRU, LSTM, Bidirectional, SimpleRNN
from rnnlab.pipeline import Pipeline

VOCAB = 40

try:  # the test extra installs both; without them there is nothing here to run
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
except ImportError:
    collect_ignore_glob = ["test_*.py"]


def _swap_layers(model: RecurrentClassifier, make) -> None:
    """Replace each recurrent layer by ``make(old one-direction layer)``: the cells that
    `ModelSpec` cannot ask for (a relu SimpleRNN, a reset_after=False GRU)."""
    for i, old in enumerate(model.recurrent):
        bidirectional = isinstance(old, Bidirectional)
        base = old.forward_layer if bidirectional else old
        new = make(base)
        model.recurrent[i] = Bidirectional(new) if bidirectional else new


def build(
    cell: str = "lstm",
    *,
    bidirectional: bool = False,
    mask: bool = False,
    padding: str = "post",
    pooling: str = "last",
    input: str = "embedding",
    units: tuple[int, ...] = (6,),
    classes: int = 3,
    maxlen: int = 9,
    kind: str = "ids",
    activation=None,
    recurrent_activation=None,
    vocabulary=None,
    truncating: str = "pre",
    min_length: int = 0,
    lengths: str = "count",
    seed: int = 0,
) -> Pipeline:
    """A random-weight pipeline. ``cell`` may also be 'simple_rnn_relu' or 'gru_reset_before';
    a ``vocabulary`` (of at most `VOCAB` ids) makes it a text model.

    Every parameter (biases too, which Keras initialises to zeros) is drawn from
    U(-0.6, 0.6): a wrong gate order or bias row cannot hide behind a zero.
    """
    torch.manual_seed(seed)
    base_cell = {"simple_rnn_relu": "simple_rnn", "gru_reset_before": "gru"}.get(cell, cell)
    model = RecurrentClassifier(
        vocab_size=VOCAB,
        num_classes=classes,
        cell=base_cell,
        units=units,
        embedding_dim=5,
        bidirectional=bidirectional,
        mask=mask,
        padding=padding,
        pooling=pooling,
        input=input,
    )
    layer_args = {}
    if activation is not None:
        layer_args["activation"] = activation
    if recurrent_activation is not None:
        layer_args["recurrent_activation"] = recurrent_activation
    if cell == "simple_rnn_relu":
        layer_args["activation"] = "relu"
    if cell == "gru_reset_before":
        layer_args["reset_after"] = False
    if layer_args:
        cls = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[base_cell]
        _swap_layers(
            model,
            lambda old: cls(
                old.units,
                input_size=old.input_size,
                return_sequences=old.return_sequences,
                **layer_args,
            ),
        )
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.6, 0.6)
    if input == "raw":
        # Raw ids are fed as numbers: scale the input weights so ids up to VOCAB do not
        # saturate every unit (a saturated model would agree with anything).
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.startswith("recurrent.0") and name.endswith("cell.kernel"):
                    p.mul_(1 / VOCAB)
    labels = [f"class_{k}" for k in range(classes)]
    encoder = InputEncoder(
        kind="text" if vocabulary is not None else kind,
        maxlen=maxlen,
        padding=padding,
        truncating=truncating,
        min_length=min_length,
        lengths=lengths,
        vocabulary=vocabulary,
    )
    return Pipeline(model.eval(), labels, encoder, "RecurrentClassifier", dict(model.config))


def padded(pipeline: Pipeline, lengths, time: int, seed: int = 0):
    """Random (len(lengths), time) inputs padded the way the model pads, and the lengths."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths, dtype=np.int64)
    if pipeline.inputs.kind == "numbers":
        values = rng.standard_normal((len(lengths), time)).astype(np.float32)
    else:
        values = rng.integers(1, VOCAB, (len(lengths), time)).astype(np.int64)
    steps = np.arange(time)
    real = (
        steps[None, :] < lengths[:, None]
        if pipeline.module.padding == "post"
        else steps[None, :] >= (time - lengths)[:, None]
    )
    return np.where(real, values, 0).astype(values.dtype), lengths


def session_of(pipeline: Pipeline, opset: int = 17):
    """An onnxruntime session of ``pipeline``'s graph, checked by onnx.checker first."""
    import onnx

    from rnnlab.export.registry import exporter_for
    from rnnlab.export.runtime import session

    graph = exporter_for(pipeline)(pipeline, opset)
    onnx.checker.check_model(graph, full_check=True)
    return session(graph.SerializeToString(), threads=1)


@pytest.fixture
def make_session():
    return session_of


@pytest.fixture
def make_pipeline():
    return build


@pytest.fixture
def make_inputs():
    return padded


def encode_from_sidecar(sidecar: dict, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Texts -> (ids, lengths) from the sidecar JSON alone, as a service in another language
    would do it, step by step as docs/export.md describes (no rnnlab code)."""
    import re

    tok, voc, enc = sidecar["tokenizer"], sidecar["vocabulary"], sidecar["encoding"]
    maxlen = enc["maxlen"]
    rows, lengths = [], []
    for text in texts:
        if tok["lower"] is True:
            text = text.lower()
        elif tok["lower"] == "ascii":
            text = "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)
        if tok["rule"] == "token_pattern":
            tokens = re.findall(tok["token_pattern"], text)
        else:
            for ch in tok["filters"]:
                text = text.replace(ch, tok["split"])
            tokens = [t for t in text.split(tok["split"]) if t]
        ids = [] if voc["start_id"] is None else [voc["start_id"]]
        for token in tokens:
            token_id = voc["ids"].get(token, voc["oov_id"])
            if token_id is not None:
                ids.append(token_id)
        kept = ids[-maxlen:] if enc["truncating"] == "pre" else ids[:maxlen]
        padding = [enc["pad_value"]] * (maxlen - len(kept))
        row = padding + kept if enc["padding"] == "pre" else kept + padding
        if enc["lengths"] == "count":
            length = max(len(kept), enc["min_length"])
        else:  # 'nonzero': the span outside the padding; an all-padding row counts 1
            real = [i for i, v in enumerate(row) if v != enc["pad_value"]]
            if not real:
                length = 1
            else:
                length = maxlen - real[0] if enc["padding"] == "pre" else real[-1] + 1
        rows.append(row)
        lengths.append(length)
    return np.array(rows, dtype=np.int64), np.array(lengths, dtype=np.int64)


@pytest.fixture
def sidecar_encode():
    return encode_from_sidecar
