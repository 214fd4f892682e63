"""The JSON beside an exported model: labels, and every rule that turns a text into its inputs.

A service in any language reads it to feed the ONNX graph: how a text becomes
tokens (the tokenizer settings), tokens become ids (the vocabulary with its
Keras id layout), ids become the padded ``ids`` and ``lengths`` inputs (maxlen,
padding, truncating, min_length, how lengths are counted), and which column of
``probabilities`` is which label. docs/export.md describes every field, with a
worked example.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rnnlab import __version__
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import InvalidValueError
from rnnlab.pipeline import Pipeline

FORMAT = "rnnlab.onnx-sidecar"
VERSION = 1


def sidecar_path(onnx_path: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``onnx_path`` goes: the same name with the suffix ``.json``."""
    path = Path(onnx_path)
    if path.suffix.lower() == ".json":
        raise InvalidValueError(
            f"the ONNX file {str(path)!r} would be overwritten by its own JSON sidecar; "
            "name it something.onnx"
        )
    return path.with_suffix(".json")


def value_specs(values: Any) -> list[dict[str, Any]]:
    """Name, dtype and shape (a string for each dynamic axis) of graph inputs or outputs."""
    from rnnlab.export.deps import require_onnx

    onnx = require_onnx()
    specs = []
    for value in values:
        tensor = value.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        shape = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        specs.append({"name": value.name, "dtype": str(dtype), "shape": shape})
    return specs


def vocabulary_fields(vocabulary: Vocabulary) -> dict[str, Any]:
    """The id layout and the word -> id table of every word `encode` keeps (rank order)."""
    table = {}
    for word in vocabulary.words:
        token_id = vocabulary.token_id(word)
        # Words past `num_words` encode as the oov id (or not at all): they are not listed.
        if token_id is None or token_id == vocabulary.oov_id:
            break
        table[word] = token_id
    return {
        "pad_id": Vocabulary.pad_id,
        "start_id": vocabulary.start_id,
        "oov_id": vocabulary.oov_id,
        "index_from": vocabulary.index_from,
        "num_words": vocabulary.num_words,
        "size": vocabulary.size,
        "ids": table,
    }


def describe(pipeline: Pipeline, model: Any, onnx_name: str, sha256: str) -> dict[str, Any]:
    """The sidecar of ``pipeline`` exported as ``model`` (an `onnx.ModelProto`)."""
    encoder = pipeline.inputs
    vocabulary = encoder.vocabulary if encoder.kind == "text" else None
    tokenizer = None
    if vocabulary is not None:
        settings = vocabulary.tokenizer.to_dict()
        rule = "filters_split" if settings["token_pattern"] is None else "token_pattern"
        tokenizer = {"rule": rule, **settings}
    return {
        "format": FORMAT,
        "version": VERSION,
        "rnnlab_version": __version__,
        "model": {
            "file": onnx_name,
            "sha256": sha256,
            "opset": int(model.opset_import[0].version),
            "architecture": pipeline.architecture,
        },
        "labels": list(pipeline.labels),
        "inputs": value_specs(model.graph.input),
        "outputs": value_specs(model.graph.output),
        "encoding": {
            "kind": encoder.kind,
            "maxlen": encoder.maxlen,
            "padding": encoder.padding,
            "truncating": encoder.truncating,
            "min_length": encoder.min_length,
            "lengths": encoder.lengths,
            "pad_value": 0,
        },
        "tokenizer": tokenizer,
        "vocabulary": None if vocabulary is None else vocabulary_fields(vocabulary),
    }
