"""`export_onnx`: what it writes, what it refuses, and how it finds an architecture's exporter."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from torch import nn

from rnnlab.errors import InvalidTypeError, InvalidValueError, ModelFileError
from rnnlab.export import (
    EXPORTERS,
    ExportParityError,
    MissingDependencyError,
    export_onnx,
    register_exporter,
)
from rnnlab.export.registry import exporter_for
from rnnlab.export.runtime import run, session, verify_export
from rnnlab.pipeline import Pipeline


def test_export_writes_a_checked_graph_and_its_sidecar(make_pipeline, make_inputs, tmp_path):
    pipeline = make_pipeline("lstm", bidirectional=True, mask=True, padding="pre")
    pipeline.save(tmp_path / "model")
    result = export_onnx(tmp_path / "model", tmp_path / "out.onnx")
    assert result.onnx_path == tmp_path / "out.onnx"
    assert result.sidecar_path == tmp_path / "out.json"
    assert result.opset == 17 and result.size_bytes == result.onnx_path.stat().st_size
    assert 0 <= result.max_abs_diff < 1e-5
    data = result.onnx_path.read_bytes()
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17 and model.producer_name == "rnnlab"
    # The lowest IR version that carries opset 17, so older runtimes load the file.
    assert model.ir_version == 8
    sidecar = json.loads(result.sidecar_path.read_text(encoding="utf-8"))
    assert sidecar["model"]["sha256"] == hashlib.sha256(data).hexdigest()
    values, lengths = make_inputs(pipeline, [1, 9, 4], 9)
    np.testing.assert_allclose(
        run(session(result.onnx_path), values, lengths),
        pipeline.predict_proba_encoded(values, lengths),
        atol=1e-5,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "out.json", "out.onnx"]


def test_the_native_ops_do_the_recurrence(make_pipeline):
    """One native op per layer: no unrolled time loop, no Loop / Scan, no packed sequences."""
    pipeline = make_pipeline("gru", units=(6, 5), mask=True, padding="pre", pooling="max")
    ops = [n.op_type for n in exporter_for(pipeline)(pipeline, 17).graph.node]
    assert ops.count("GRU") == 2
    assert not {"Loop", "Scan", "If"} & set(ops)
    assert len(ops) < 40


def test_export_replaces_existing_files(make_pipeline, tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"old")
    (tmp_path / "m.json").write_text("{}")
    export_onnx(make_pipeline("simple_rnn"), tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(tmp_path / "m.onnx"))
    assert json.loads((tmp_path / "m.json").read_text())["labels"][0] == "class_0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx"]


def test_a_graph_that_disagrees_is_refused_and_nothing_is_written(
    make_pipeline, tmp_path, monkeypatch
):
    other = make_pipeline("lstm", seed=1)
    pipeline = make_pipeline("lstm", seed=2)
    build = exporter_for(other)
    wrong = build(other, 17).SerializeToString()
    with pytest.raises(
        ExportParityError, match=r"differs from rnnlab by 0\.\d+ .*\(tolerance 1e-05\)"
    ):
        verify_export(pipeline, wrong)
    monkeypatch.setitem(EXPORTERS, "RecurrentClassifier", lambda p, opset: build(other, opset))
    with pytest.raises(ExportParityError, match="nothing was written"):
        export_onnx(pipeline, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_verify_false_skips_the_check(make_pipeline, tmp_path):
    result = export_onnx(make_pipeline("gru"), tmp_path / "m.onnx", verify=False)
    assert result.max_abs_diff is None and result.onnx_path.is_file()


@pytest.mark.parametrize(
    ("opset", "error", "message"),
    [
        (16, InvalidValueError, "`opset` must be an integer >= 17, got 16"),
        (
            999,
            InvalidValueError,
            "`opset` must be at most .*, the newest opset of the installed onnx",
        ),
        ("17", InvalidTypeError, "`opset` must be an integer >= 17, got str"),
    ],
)
def test_bad_opsets(opset, error, message, make_pipeline, tmp_path):
    with pytest.raises(error, match=message):
        export_onnx(make_pipeline(), tmp_path / "m.onnx", opset=opset)


def test_a_missing_directory_is_refused(make_pipeline, tmp_path):
    with pytest.raises(ModelFileError, match="the directory .*nowhere' does not exist"):
        export_onnx(make_pipeline(), tmp_path / "nowhere" / "m.onnx")


@pytest.mark.parametrize("architecture", ["keras_sequential", None])
def test_an_architecture_without_an_exporter_is_refused(architecture, make_pipeline, tmp_path):
    pipeline = make_pipeline()
    pipeline.architecture = architecture
    with pytest.raises(
        InvalidValueError,
        match=f"no ONNX exporter for the architecture "
        f"{architecture!r}; exportable: "
        "HybridClassifier, RecurrentClassifier$",
    ):
        export_onnx(pipeline, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_another_architecture_registers_its_exporter(make_pipeline, monkeypatch, tmp_path):
    """Dispatch is on the architecture's name: a registered builder is what runs."""
    monkeypatch.setattr("rnnlab.export.registry.EXPORTERS", dict(EXPORTERS))
    pipeline = make_pipeline("gru")
    calls = []

    @register_exporter("hybrid_ngram_rnn")
    def build(p, opset):
        calls.append(opset)
        return EXPORTERS["RecurrentClassifier"](p, opset)

    pipeline.architecture = "hybrid_ngram_rnn"
    export_onnx(pipeline, tmp_path / "m.onnx", opset=18)
    assert calls == [18]
    with pytest.raises(InvalidValueError, match="already registered"):
        register_exporter("hybrid_ngram_rnn")(lambda p, opset: None)


def test_modules_and_inputs_the_recurrent_exporter_does_not_take(make_pipeline, tmp_path):
    pipeline = make_pipeline()
    linear = Pipeline(nn.Linear(3, 2), ["a", "b"], pipeline.inputs, "RecurrentClassifier")
    with pytest.raises(InvalidValueError, match="the module is a Linear"):
        export_onnx(linear, tmp_path / "m.onnx")
    from rnnlab.input_encoder import InputEncoder

    pipeline.inputs = InputEncoder(kind="array", shape=(9,))
    with pytest.raises(InvalidValueError, match="reading 'array' inputs has no ONNX export"):
        export_onnx(pipeline, tmp_path / "m.onnx")


def test_without_onnx_the_error_names_the_extra(make_pipeline, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` meets when absent
    with pytest.raises(MissingDependencyError, match=r"pip install 'rnnlab\[export\]'"):
        export_onnx(make_pipeline(), tmp_path / "m.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match="needs the `onnxruntime` package"):
        session(b"")


def test_importing_rnnlab_export_imports_no_onnx():
    code = (
        "import sys, rnnlab.export, rnnlab.cli; "
        "print(sorted(m for m in ('onnx', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
