"""The JSON sidecar holds all a service needs: its rules, applied without rnnlab, give rnnlab's ids.

`encode_from_sidecar` (conftest.py) is the tokenizer rule, the vocabulary
lookup, the padding and the lengths written from the JSON alone, as
docs/export.md describes them; it must agree with `Pipeline.encode` exactly,
and the graph fed its ids must give `Pipeline.predict_proba` on the raw texts.
"""

import json

import numpy as np
import pytest

from rnnlab.data.tokenize import Tokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import InvalidValueError
from rnnlab.export import export_onnx
from rnnlab.export.runtime import run, session
from rnnlab.export.sidecar import FORMAT, sidecar_path

TRAIN = [
    "The cat sat on the mat. The dog sat too!",
    "It's a dog's life: the DOG barked, the cat ran.",
    "École normale, école de la vie; the end",
    "mat mat mat cat dog ran sat on",
]
# What a service meets: case, punctuation, apostrophes, tabs and newlines (filtered), a
# carriage return and a no-break space (not filtered: they stay inside tokens), non-ASCII
# case, a character whose lowercase is two characters, no known word, no text at all, and
# texts longer than maxlen (truncation).
TEXTS = [
    "The CAT sat... on the mat!",
    "it's 9:30\tthe dog\nran",
    "ÉCOLE Normale école",
    "cat\r\ndog\u00a0mat",
    "İstanbul the cat",
    "zebra quagga",
    "",
    "the " * 5 + "cat dog " * 6 + "end",
    "mat,sat,dog,ran,on,the,cat",
]

SETTINGS = {
    # The Keras defaults, with num_words capping the rarer words to the oov id.
    "keras": {"vocab": {"num_words": 12}},
    # The Keras IMDB arrays' rule: A-Z lowered only; unknown words dropped, no start id.
    "ascii_drop_unknown": {
        "vocab": {"tokenizer": Tokenizer(lower="ascii"), "oov_id": None, "start_id": None},
        "encoder": {"padding": "post", "truncating": "post"},
    },
    # A regex rule, `nonzero` lengths and a least length of 1.
    "pattern_nonzero": {
        "vocab": {"tokenizer": Tokenizer(token_pattern=r"(?u)\b\w\w+\b")},
        "encoder": {"lengths": "nonzero", "min_length": 1},
    },
    # Another split character and filter set, no lowercasing, index_from 4.
    "custom_split": {
        "vocab": {
            "tokenizer": Tokenizer(lower=False, filters=".!:", split=","),
            "index_from": 4,
            "start_id": 3,
            "oov_id": 4,
        },
        "encoder": {"padding": "post", "truncating": "pre", "min_length": 1},
    },
}


def exported(make_pipeline, tmp_path, name):
    settings = SETTINGS[name]
    vocabulary = Vocabulary.fit(TRAIN, **settings["vocab"])
    pipeline = make_pipeline(
        "gru", mask=True, classes=3, maxlen=7, vocabulary=vocabulary, **settings.get("encoder", {})
    )
    result = export_onnx(pipeline, tmp_path / "model.onnx")
    return pipeline, result, json.loads(result.sidecar_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(SETTINGS))
def test_the_sidecar_alone_reproduces_rnnlabs_ids_and_probabilities(
    name, make_pipeline, sidecar_encode, tmp_path
):
    pipeline, result, sidecar = exported(make_pipeline, tmp_path, name)
    ids, lengths = sidecar_encode(sidecar, TEXTS)
    want_ids, want_lengths = pipeline.encode(TEXTS)
    np.testing.assert_array_equal(ids, want_ids.numpy())
    np.testing.assert_array_equal(lengths, want_lengths.numpy())
    probabilities = run(session(result.onnx_path), ids, lengths)
    np.testing.assert_allclose(probabilities, pipeline.predict_proba(TEXTS), rtol=0, atol=1e-5)
    labels = [sidecar["labels"][k] for k in probabilities.argmax(1)]
    assert labels == pipeline.predict(TEXTS)


def test_the_sidecar_fields(make_pipeline, tmp_path):
    pipeline, _, sidecar = exported(make_pipeline, tmp_path, "keras")
    vocabulary = pipeline.inputs.vocabulary
    assert sidecar["format"] == FORMAT and sidecar["version"] == 1
    assert sidecar["model"]["file"] == "model.onnx" and sidecar["model"]["opset"] == 17
    assert sidecar["labels"] == ["class_0", "class_1", "class_2"]
    assert sidecar["inputs"] == [
        {"name": "ids", "dtype": "int64", "shape": ["batch", "time"]},
        {"name": "lengths", "dtype": "int64", "shape": ["batch"]},
    ]
    assert sidecar["outputs"] == [
        {"name": "probabilities", "dtype": "float32", "shape": ["batch", 3]}
    ]
    assert sidecar["encoding"] == {
        "kind": "text",
        "maxlen": 7,
        "padding": "post",
        "truncating": "pre",
        "min_length": 0,
        "lengths": "count",
        "pad_value": 0,
    }
    assert sidecar["tokenizer"] == {"rule": "filters_split", **Tokenizer().to_dict()}
    table = sidecar["vocabulary"].pop("ids")
    assert sidecar["vocabulary"] == {
        "pad_id": 0,
        "start_id": 1,
        "oov_id": 2,
        "index_from": 3,
        "num_words": 12,
        "size": 12,
    }
    # num_words=12 keeps ids 4..11: the 8 most frequent words, in rank order.
    assert table == {w: i for i, w in enumerate(vocabulary.words[:8], start=4)}
    assert list(table)[:5] == ["the", "mat", "cat", "sat", "dog"]  # ties: first seen first


def test_models_on_ids_have_no_tokenizer(make_pipeline, tmp_path):
    result = export_onnx(make_pipeline("lstm", mask=True, padding="pre"), tmp_path / "m.onnx")
    sidecar = json.loads(result.sidecar_path.read_text(encoding="utf-8"))
    assert sidecar["tokenizer"] is None and sidecar["vocabulary"] is None
    assert sidecar["encoding"]["kind"] == "ids" and sidecar["encoding"]["padding"] == "pre"


def test_the_sidecar_path():
    assert sidecar_path("out/model.onnx").as_posix() == "out/model.json"
    assert sidecar_path("model").as_posix() == "model.json"
    with pytest.raises(InvalidValueError, match="overwritten by its own JSON sidecar"):
        sidecar_path("model.json")
