"""Every trainer of a model against every command that loads one: one saved-model format.

Trainers: `rnnlab train` (a recurrent and a hybrid model), `rnnlab reproduce`, TextClassifier, SequenceClassifier and a
ModelClassifier whose factory is registered. Loaders: `rnnlab.load`, `rnnlab predict`,
`rnnlab evaluate`. Each must give the probabilities the trainer itself gives.
"""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from torch import nn

import rnnlab
from rnnlab import nn as rnn
from rnnlab.cli import main
from rnnlab.experiments import prepare_data, reproduce, resolve_config, train_one
from rnnlab.experiments.config import load_config
from rnnlab.models.registry import ARCHITECTURES, register_model

FIXTURES = Path(__file__).parent / "fixtures" / "format_v1"
TEXTS = [
    "good fun film",
    "bad dull film",
    "great fun",
    "dull and bad",
    "fun fun great",
    "bad bad dull",
    "great good fun",
    "dull film bad",
]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"]
SMALL = {"epochs": 2, "batch_size": 4, "random_state": 0}


@register_model("test_saved_models_lstm")
def small_lstm(num_classes, input_shape, units=4):
    return nn.Sequential(rnn.LSTM(units, input_size=input_shape[-1]), nn.Linear(units, num_classes))


def _text_classifier(tmp):
    clf = rnnlab.TextClassifier(module__units=(4,), module__embedding_dim=4, **SMALL)
    clf.fit(TEXTS, LABELS).save(tmp / "m")
    return tmp / "m", TEXTS, LABELS, clf.predict_proba(TEXTS)


def _sequence_classifier(tmp):
    ids = [[1, 2, 3], [4, 5], [1, 2], [4, 5, 6, 7], [3, 3, 1], [6, 7], [2, 1], [5, 6, 7]]
    y = [0, 1, 0, 1, 0, 1, 0, 1]
    clf = rnnlab.SequenceClassifier(
        module__units=(4,), module__embedding_dim=4, module__mask=True, **SMALL
    )
    clf.fit(ids, y).save(tmp / "m")
    lines = [" ".join(map(str, s)) for s in ids]
    return tmp / "m", lines, [str(v) for v in y], clf.predict_proba(ids)


def _model_classifier(tmp):
    X = np.random.RandomState(0).normal(size=(8, 5, 1)).round(3)
    y = ["a", "b", "c", "a", "b", "c", "a", "b"]
    clf = rnnlab.ModelClassifier(small_lstm, module__units=3, **SMALL).fit(X, y)
    clf.save(tmp / "m")
    lines = [" ".join(f"{v:.3f}" for v in row.ravel()) for row in X]
    return tmp / "m", lines, y, clf.predict_proba(X)


def _experiment(tmp, how, name="reuters/lstm"):
    cfg = load_config(resolve_config(name))
    data = prepare_data(cfg.data, quick=True)
    if how == "train":
        train_one(name, out_dir=tmp / "run", quick=True, verbose=0)
        model_dir = tmp / "run" / "model"
    else:
        reproduce(["reuters/lstm"], seeds=[0], out_dir=tmp / "rep", quick=True)
        model_dir = tmp / "rep" / "reuters_lstm" / "seed0" / "model"
    texts = [data.vocabulary.decode(row[:n]) for row, n in zip(data.seq_test[:20], [49] * 20)]
    labels = [data.label_names[k] for k in data.y_test[:20]]
    expected = rnnlab.load(model_dir).predict_proba(texts)
    return model_dir, texts, labels, expected


TRAINERS = {
    "text_classifier": _text_classifier,
    "sequence_classifier": _sequence_classifier,
    "model_classifier": _model_classifier,
    "rnnlab_train": lambda tmp: _experiment(tmp, "train"),
    "rnnlab_reproduce": lambda tmp: _experiment(tmp, "reproduce"),
    "rnnlab_train_hybrid": lambda tmp: _experiment(tmp, "train", "reuters/hybrid"),
}


@pytest.fixture(scope="module", params=sorted(TRAINERS))
def saved(request, tmp_path_factory):
    return TRAINERS[request.param](tmp_path_factory.mktemp(request.param))


def _cli(*args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


def test_rnnlab_load_predicts_what_the_trainer_predicts(saved):
    model_dir, inputs, _, expected = saved
    model = rnnlab.load(model_dir)
    np.testing.assert_allclose(model.predict_proba(inputs), expected, rtol=0, atol=1e-12)


def test_predict_command_reads_every_saved_model(saved, tmp_path):
    model_dir, inputs, _, expected = saved
    src = tmp_path / "inputs.txt"
    src.write_text("\n".join(inputs) + "\n", encoding="utf-8")
    rows = list(csv.reader(io.StringIO(_cli("predict", str(model_dir), str(src)))))
    labels = rnnlab.load(model_dir).labels
    assert rows[0] == ["id", "label", *[f"p_{n}" for n in labels]]
    probs = np.array([[float(p) for p in row[2:]] for row in rows[1:]])
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert [row[1] for row in rows[1:]] == [labels[k] for k in expected.argmax(1)]
    jsonl = [
        json.loads(line)
        for line in _cli("predict", str(model_dir), str(src), "--format", "jsonl").splitlines()
    ]
    assert [r["label"] for r in jsonl] == [labels[k] for k in expected.argmax(1)]


def test_evaluate_command_reads_every_saved_model(saved, tmp_path):
    model_dir, inputs, labels, expected = saved
    known = rnnlab.load(model_dir).labels
    path = tmp_path / "labelled.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(zip(inputs, labels))
    accuracy = np.mean([known[k] == label for k, label in zip(expected.argmax(1), labels)])
    first = _cli("evaluate", str(model_dir), str(path)).splitlines()[0]
    assert first.startswith(f"{len(labels)} texts: accuracy {accuracy:.4f}")


def test_a_registered_model_classifier_loads_without_its_build_fn(tmp_path):
    model_dir, _, _, _ = _model_classifier(tmp_path)
    X = np.random.RandomState(0).normal(size=(8, 5, 1)).round(3)
    est = rnnlab.ModelClassifier.load(model_dir)  # no build_fn: the registry has it
    assert est.build_fn is ARCHITECTURES["test_saved_models_lstm"]
    np.testing.assert_array_equal(est.predict_proba(X), rnnlab.load(model_dir).predict_proba(X))


def test_format_1_directories_still_load_and_predict_as_they_did():
    expected = json.loads((FIXTURES / "expected.json").read_text())
    for name in ("text_classifier", "experiment_model"):
        model = rnnlab.load(FIXTURES / name)
        np.testing.assert_allclose(
            model.predict_proba(expected["texts"]), expected[name], rtol=0, atol=1e-7
        )
    clf = rnnlab.TextClassifier.load(FIXTURES / "text_classifier")
    np.testing.assert_allclose(
        clf.predict_proba(expected["texts"]), expected["text_classifier"], rtol=0, atol=1e-7
    )


def test_a_format_1_model_saved_again_is_written_in_the_current_format(tmp_path):
    rnnlab.TextClassifier.load(FIXTURES / "text_classifier").save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and "model.json" in manifest["files"]
