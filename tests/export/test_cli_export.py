"""`rnnlab export MODEL OUT.onnx [--opset N]`: what it prints, and one line per error."""

import json

import pytest
import torch
from torch import nn

from rnnlab.cli import main
from rnnlab.input_encoder import InputEncoder
from rnnlab.models.registry import ARCHITECTURES
from rnnlab.pipeline import Pipeline


@pytest.fixture
def model_dir(make_pipeline, tmp_path):
    make_pipeline("gru", mask=True, padding="pre", classes=2).save(tmp_path / "model")
    return tmp_path / "model"


def test_export_prints_what_it_wrote(model_dir, tmp_path, capsys):
    out = tmp_path / "served.onnx"
    assert main(["export", str(model_dir), str(out), "--opset", "18"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        f"wrote {out} (ONNX opset 18, 0.0 MB; matches rnnlab on the "
        "probe batches: max |probability difference| "
    )
    assert lines[1] == (
        f"wrote {tmp_path / 'served.json'} (labels, tokenizer, vocabulary and "
        "padding: see docs/export.md)"
    )
    assert json.loads((tmp_path / "served.json").read_text())["model"]["opset"] == 18


def test_no_verify(model_dir, tmp_path, capsys):
    assert main(["export", str(model_dir), str(tmp_path / "m.onnx"), "--no-verify"]) == 0
    assert "not checked against rnnlab (--no-verify)" in capsys.readouterr().out


def test_errors_are_one_line(model_dir, tmp_path, capsys, monkeypatch):
    cases = [
        (["export", str(tmp_path / "missing"), str(tmp_path / "m.onnx")], "no saved model at"),
        (
            ["export", str(model_dir), str(tmp_path / "m.onnx"), "--opset", "12"],
            "`opset` must be an integer >= 17, got 12",
        ),
        (["export", str(model_dir), str(tmp_path / "m.json")], "overwritten by its own JSON"),
        (["export", str(model_dir), str(tmp_path / "no" / "m.onnx")], "does not exist"),
    ]
    # A saved model of an architecture without an exporter.
    monkeypatch.setitem(ARCHITECTURES, "tiny_mlp", lambda: nn.Linear(2, 3))
    torch.manual_seed(0)
    Pipeline(
        nn.Linear(2, 3), ["a", "b", "c"], InputEncoder(kind="array", shape=(2,)), "tiny_mlp", {}
    ).save(tmp_path / "mlp")
    cases.append(
        (
            ["export", str(tmp_path / "mlp"), str(tmp_path / "m.onnx")],
            (
                "no ONNX exporter for the architecture 'tiny_mlp'; exportable: "
                "HybridClassifier, RecurrentClassifier"
            ),
        )
    )
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("rnnlab: error: "), err
        assert message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp", "model"]
