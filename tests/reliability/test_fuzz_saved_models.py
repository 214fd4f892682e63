"""Fuzzing saved-model directories: every load gives the identical model or a ModelFileError.

Two kinds of damage:

- **damage the manifest can see** (a flipped byte in any file, the manifest
  included; a file cut at every offset class; a file missing; extra files; a
  safetensors header length claiming gigabytes): `rnnlab.load` gives a model
  whose predictions are bit-identical to the saved one's, or raises
  `ModelFileError`;
- **edits with a consistent manifest** (valid JSON with wrong types or values,
  damaged safetensors, re-hashed into the manifest as a careless or hostile
  writer would): the load raises an `RnnlabError`, or gives a model that
  predicts, or refuses to predict with an `RnnlabError`. Never another exception.

The templates are a text model saved by this rnnlab and the two format-1
directories of tests/fixtures (rnnlab 0.1), which load through the upgrade path.
A manifest can name only plain files inside its own directory.
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import rnnlab
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import ModelFileError, RnnlabError
from rnnlab.input_encoder import InputEncoder
from rnnlab.models import RecurrentClassifier
from rnnlab.pipeline import Pipeline
from tests.reliability import corrupt
from tests.reliability.fuzzing import bounded

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "format_v1"
TEXTS = ["good fun film", "bad dull film", "great fun", "dull and bad plot", "fine"]
PROBES = ["good film", "bad plot and dull", "unknown words only", "fun"]
# A model may legitimately ask for enormous inputs (maxlen 10**9 after an edit); predicting
# with one would only measure this machine's memory, so the fuzzers predict up to this size.
MAX_PREDICT_CELLS = 10**6


def _text_model(directory):
    torch.manual_seed(0)
    vocab = Vocabulary.fit(TEXTS)
    module = RecurrentClassifier(
        vocab_size=vocab.size, num_classes=3, units=(3,), embedding_dim=4, cell="gru"
    ).eval()
    inputs = InputEncoder("text", maxlen=6, padding="post", vocabulary=vocab)
    Pipeline(module, ["neg", "neutral", "pos"], inputs).save(directory)


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """name -> (pristine directory, its probabilities on PROBES)."""
    root = tmp_path_factory.mktemp("templates")
    _text_model(root / "text")
    shutil.copytree(FIXTURES / "experiment_model", root / "v1_experiment")
    shutil.copytree(FIXTURES / "text_classifier", root / "v1_estimator")
    out = {}
    for name in ("text", "v1_experiment", "v1_estimator"):
        model = rnnlab.load(root / name)
        out[name] = (root / name, model.labels, model.predict_proba(PROBES))
    return out


def _load_and_predict(directory):
    """The loaded model's (labels, probabilities), or the RnnlabError it raised."""
    try:
        model = rnnlab.load(directory)
    except RnnlabError as exc:
        return exc
    maxlen = getattr(model.inputs, "maxlen", None) or 1
    if maxlen * len(PROBES) > MAX_PREDICT_CELLS:
        return model.labels, None
    try:
        probs = model.predict_proba(PROBES)
    except RnnlabError as exc:
        return exc
    assert probs.shape == (len(PROBES), len(model.labels))
    assert model.predict(PROBES[:1])[0] in model.labels
    return model.labels, probs


@st.composite
def visible_damage(draw, directory):
    """(description, function that damages a copy of ``directory``)."""
    files = sorted(p.name for p in directory.iterdir())
    name = draw(st.sampled_from(files))
    data = (directory / name).read_bytes()
    safetensors = name.endswith(".safetensors")
    kind = draw(
        st.sampled_from(["flip", "flip", "truncate", "truncate", "missing", "extra", "header"])
    )
    if kind == "flip":
        new = draw(corrupt.byte_flip(data))
        return f"flip in {name}", lambda d: (d / name).write_bytes(new)
    if kind == "truncate":
        new = draw(corrupt.truncation(data, safetensors))
        return f"{name} cut to {len(new)} bytes", lambda d: (d / name).write_bytes(new)
    if kind == "missing":
        return f"{name} missing", lambda d: (d / name).unlink()
    if kind == "header":
        claimed = draw(st.sampled_from([2**31, 2**40, 2**63 - 1, len(data), 0]))
        target = "model.safetensors"
        new = corrupt.with_header_length((directory / target).read_bytes(), claimed)
        return f"header length {claimed}", lambda d: (d / target).write_bytes(new)
    extra = draw(st.sampled_from(["extra.json", "model.safetensors.bak", ".hidden", "x"]))
    junk = draw(st.binary(max_size=64))

    def add(d):
        if draw_dir:
            (d / extra).mkdir()
        else:
            (d / extra).write_bytes(junk)

    draw_dir = draw(st.booleans())
    return f"extra {extra}", add


@bounded(250, deadline_ms=5000)
@given(data=st.data())
def test_damage_the_manifest_sees_gives_the_same_model_or_a_model_file_error(templates, data):
    template = data.draw(st.sampled_from(sorted(templates)))
    pristine, labels, probs = templates[template]
    what, damage = data.draw(visible_damage(pristine))
    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "model"
        shutil.copytree(pristine, target)
        damage(target)
        try:
            model = rnnlab.load(target)
        except ModelFileError:
            return
        # Loaded despite the damage: only harmless damage may load (an extra file, a
        # whitespace change in the manifest), and then the model must be the same.
        assert model.labels == labels, what
        assert np.array_equal(model.predict_proba(PROBES), probs), what


@st.composite
def consistent_edit(draw, directory):
    """(description, function that edits a copy of ``directory`` and re-signs the manifest)."""
    jsons = sorted(p.name for p in directory.iterdir() if p.suffix == ".json")
    kind = draw(st.sampled_from(["json", "json", "json", "manifest", "weights", "header"]))
    if kind in ("json", "manifest"):
        name = "manifest.json" if kind == "manifest" else draw(st.sampled_from(jsons))
        obj = json.loads((directory / name).read_text())
        edited = draw(corrupt.json_edit(obj))
        text = json.dumps(edited)

        def edit(d):
            (d / name).write_text(text)
            if name != "manifest.json":
                corrupt.resign(d)

        return f"{name} := {text[:200]}", edit
    data = (directory / "model.safetensors").read_bytes()
    if kind == "weights":
        new = draw(st.one_of(corrupt.byte_flip(data), corrupt.truncation(data, True)))
    else:
        claimed = draw(st.sampled_from([2**31, 2**40, 2**63 - 1, 1, 7]))
        new = corrupt.with_header_length(data, claimed)

    def edit_weights(d):
        (d / "model.safetensors").write_bytes(new)
        corrupt.resign(d)

    return f"model.safetensors {kind} ({len(new)} bytes)", edit_weights


@bounded(300, deadline_ms=5000)
@given(data=st.data())
def test_edits_with_a_consistent_manifest_load_or_are_refused_never_crash(templates, data):
    template = data.draw(st.sampled_from(sorted(templates)))
    pristine = templates[template][0]
    what, edit = data.draw(consistent_edit(pristine))
    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / "model"
        shutil.copytree(pristine, target)
        edit(target)
        _load_and_predict(target)  # an exception other than RnnlabError fails the property


@pytest.mark.parametrize(
    "name", ["../outside.json", "{abs}", "sub/../../outside.json", "./model.json", "a/b.json"]
)
def test_a_manifest_cannot_name_a_file_outside_its_directory(tmp_path, name):
    """Each entry names a real file with its true size and checksum: only the name is wrong."""
    _text_model(tmp_path / "m")
    outside = tmp_path / "outside.json"
    outside.write_text('{"secret": 1}')
    (tmp_path / "m" / "sub").mkdir()
    (tmp_path / "m" / "a").mkdir()
    (tmp_path / "m" / "a" / "b.json").write_text('{"secret": 2}')
    name = name.format(abs=outside)
    listed = Path(name) if os.path.isabs(name) else tmp_path / "m" / name
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": listed.stat().st_size, "sha256": corrupt.sha256(listed)}
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="not a plain file name"):
        rnnlab.load(tmp_path / "m")


def test_a_symlink_out_of_the_directory_is_refused(tmp_path):
    _text_model(tmp_path / "m")
    real = tmp_path / "elsewhere.json"
    shutil.move(tmp_path / "m" / "vocabulary.json", real)
    os.symlink(real, tmp_path / "m" / "vocabulary.json")  # same bytes, same checksum
    with pytest.raises(ModelFileError, match="leads out of the model directory"):
        rnnlab.load(tmp_path / "m")


# Regressions: what the fuzzers found (each crashed the loader with a non-project exception,
# or loaded a model that then failed or misbehaved).


def _edit_json(directory, name, change, resign=True):
    path = directory / name
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj))
    if resign:
        corrupt.resign(directory)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["files"]["model.json"].pop("sha256"), "no valid size and SHA-256"),
        (lambda m: m["files"].__setitem__("model.json", 5), "no valid size and SHA-256"),
        (lambda m: m.__setitem__("files", None), "no `files` table"),
        (lambda m: m.__setitem__("format_version", True), "model format True"),
    ],
)
def test_regression_a_damaged_manifest_is_a_model_file_error(tmp_path, change, message):
    _text_model(tmp_path / "m")
    _edit_json(tmp_path / "m", "manifest.json", change, resign=False)
    with pytest.raises(ModelFileError, match=message):
        rnnlab.load(tmp_path / "m")


def test_regression_labels_must_match_the_number_of_classes(tmp_path):
    _text_model(tmp_path / "m")
    _edit_json(tmp_path / "m", "model.json", lambda m: m.__setitem__("labels", ["a", "b"]))
    with pytest.raises(ModelFileError, match="2 class labels for a model of 3 classes"):
        rnnlab.load(tmp_path / "m")


def test_regression_a_vocabulary_larger_than_the_embedding_is_refused(tmp_path):
    _text_model(tmp_path / "m")
    _edit_json(tmp_path / "m", "vocabulary.json", lambda v: v.__setitem__("index_from", 50))
    with pytest.raises(
        ModelFileError, match="the vocabulary gives ids up to 59, the model embeds 13 ids"
    ):
        rnnlab.load(tmp_path / "m")


def test_regression_a_huge_config_is_refused_before_anything_is_allocated(tmp_path):
    _text_model(tmp_path / "m")
    _edit_json(tmp_path / "m", "model.json", lambda m: m["config"].__setitem__("units", [10**6]))
    start = time.perf_counter()  # the config alone asks for a GRU kernel of 12 TB
    with pytest.raises(ModelFileError, match="weights do not fit the RecurrentClassifier"):
        rnnlab.load(tmp_path / "m")
    assert time.perf_counter() - start < 5


def test_regression_a_malformed_tag_in_a_format_1_model_is_a_model_file_error(tmp_path):
    shutil.copytree(FIXTURES / "text_classifier", tmp_path / "m")
    _edit_json(
        tmp_path / "m", "fitted.json", lambda f: f.__setitem__("history_", {"__dict__": None})
    )
    with pytest.raises(ModelFileError, match="damaged format-1 model: malformed tagged value"):
        rnnlab.load(tmp_path / "m")


def test_regression_saving_never_deletes_a_directory_that_is_not_a_saved_model(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(ModelFileError, match="holds other files and no saved model"):
        _text_model(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError, match="exists and is not a directory"):
        _text_model(tmp_path / "file")
