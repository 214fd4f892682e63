"""Reading saved models of format 1 (rnnlab 0.1): their parts, upgraded to the current ones.

Format 1 had two schemas: experiments wrote ``pipeline.json`` (a TextPipeline),
the estimators ``estimator.json`` + ``fitted.json``. Both carry everything the
current ``model.json`` needs, so they are translated in memory on load; save the
loaded model again to write the current format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnlab.errors import InvalidValueError, ModelFileError
from rnnlab.tagged_json import decode, encode


def upgrade(parts: dict[str, Any], directory: str | Path) -> dict[str, Any]:
    """Parts of a verified saved directory in the current format (format 2)."""
    version = parts["manifest"].get("format_version")
    if version != 1:
        return parts
    where = repr(str(directory))
    try:
        if isinstance(parts.get("pipeline"), dict):
            return _from_pipeline(parts)
        if isinstance(parts.get("estimator"), dict) and isinstance(parts.get("fitted"), dict):
            return _from_estimator(parts)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{where} is a damaged format-1 model: {exc}") from None
    raise ModelFileError(f"{where} is a format-1 directory that holds no model")


def _from_pipeline(parts: dict[str, Any]) -> dict[str, Any]:
    info = parts["pipeline"]
    inputs = {
        "kind": "text" if "vocabulary" in parts else "ids",
        "maxlen": info["maxlen"],
        "padding": info["padding"],
        "truncating": info["truncating"],
        "min_length": 0,
        "lengths": "count",
    }
    model = {
        "architecture": "RecurrentClassifier",
        "config": info["model"],
        "labels": info["label_names"],
        "inputs": inputs,
    }
    return {**_rest(parts, ("pipeline",)), "model": model}


def _from_estimator(parts: dict[str, Any]) -> dict[str, Any]:
    head, fitted_raw = parts["estimator"], parts["fitted"]
    params = {k: decode(v) for k, v in head["params"].items()}
    fitted = {k: decode(v) for k, v in fitted_raw.items()}
    name = head["class"]
    labels = [str(c) for c in fitted["classes_"]]
    sequence = {
        "padding": params.get("padding", "pre"),
        "truncating": params.get("truncating", "pre"),
        "min_length": 1,
    }
    if name == "TextClassifier":
        inputs = {"kind": "text", "maxlen": fitted["maxlen_"], "lengths": "count", **sequence}
        architecture, config = "RecurrentClassifier", fitted["module_config_"]
    elif name == "SequenceClassifier":
        kind = "ids" if fitted["input_"] == "embedding" else "numbers"
        lengths = "nonzero" if "n_features_in_" in fitted else "count"
        inputs = {"kind": kind, "maxlen": fitted["maxlen_"], "lengths": lengths, **sequence}
        architecture, config = "RecurrentClassifier", fitted["module_config_"]
    elif name == "ModelClassifier":
        inputs = {
            "kind": "array",
            "shape": list(fitted["input_shape_"]),
            "dtype": "int64" if params.get("dtype") == "int64" else "float32",
        }
        architecture, config = None, fitted["build_kwargs_"]
    else:
        raise InvalidValueError(f"unknown estimator class {name!r}")
    model = {
        "architecture": architecture,
        "labels": labels,
        "config": {key: encode(value) for key, value in config.items()},
        "inputs": inputs,
    }
    estimator = {**head, "fitted": fitted_raw}
    return {**_rest(parts, ("estimator", "fitted")), "model": model, "estimator": estimator}


def _rest(parts: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in parts.items() if k not in drop}
