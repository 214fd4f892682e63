"""Saving and loading fitted estimators through `rnnlab.saving` (safetensors + JSON, no pickle).

A saved estimator directory holds, besides ``model.safetensors`` and the manifest:

    estimator.json   the class name and its parameters (JSON-able ones; the
                     names of the others, e.g. ``build_fn``, under "unsaved")
    fitted.json      learned state: classes_, history_, n_features_in_, the
                     module's configuration, ...
    vocabulary.json  TextClassifier only: the vocabulary and its tokenizer

Values JSON has no type for are tagged: ``{"__tuple__": [...]}``,
``{"__range__": [start, stop, step]}``, ``{"__array__": [...], "dtype": "int64"}``,
so ``module__units=(64,)`` and ``classes=range(46)`` come back as they were.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rnnlab.errors import ModelFileError
from rnnlab.saving import load_model_dir, save_model_dir

if TYPE_CHECKING:
    from rnnlab.estimators.base import EstimatorBase

KIND = "rnnlab.estimator"
_UNSAVED = object()


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value``, or `_UNSAVED` when JSON cannot hold it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, range):
        return {"__range__": [value.start, value.stop, value.step]}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufUO":
            return _UNSAVED
        items = encode(value.tolist())
        if items is _UNSAVED:
            return _UNSAVED
        return {"__array__": items, "dtype": value.dtype.str if value.dtype.kind != "O" else "O"}
    if isinstance(value, (list, tuple)):
        items = [encode(v) for v in value]
        if any(v is _UNSAVED for v in items):
            return _UNSAVED
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: encode(v) for k, v in value.items()}
        if any(v is _UNSAVED for v in items.values()):
            return _UNSAVED
        return {"__dict__": items}
    return _UNSAVED


def decode(value: Any) -> Any:
    """Invert `encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__range__" in value:
        return range(*value["__range__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__array__" in value:
        dtype = value["dtype"]
        items = decode(value["__array__"])
        if dtype == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        return np.asarray(items, dtype=np.dtype(dtype))
    if "__dict__" in value:
        return {k: decode(v) for k, v in value["__dict__"].items()}
    raise ValueError(f"unknown tagged value {sorted(value)}")


def save_estimator(est: EstimatorBase, directory: str | Path) -> Path:
    params, unsaved = {}, {}
    for key, value in est.get_params(deep=False).items():
        coded = encode(value)
        if coded is _UNSAVED:
            unsaved[key] = f"{type(value).__name__} {getattr(value, '__qualname__', '')}".strip()
        else:
            params[key] = coded
    fitted = {}
    for key, value in est._fitted_state().items():
        coded = encode(value)
        if coded is _UNSAVED:
            raise TypeError(
                f"cannot save {type(est).__name__}: its `{key}` ({type(value).__name__}) has "
                "no JSON form (labels must be numbers, strings or booleans)"
            )
        fitted[key] = coded
    parts = {
        "estimator": {"kind": KIND, "class": type(est).__name__, "params": params,
                      "unsaved": unsaved},
        "fitted": fitted,
        **est._extra_parts(),
    }
    return save_model_dir(directory, est.module_.state_dict(), parts)


def load_estimator(
    directory: str | Path,
    registry: dict[str, type[EstimatorBase]],
    expected: type | None,
    overrides: dict[str, Any],
) -> EstimatorBase:
    state, parts = load_model_dir(directory)
    where = repr(str(directory))
    head = parts.get("estimator")
    if not isinstance(head, dict) or head.get("kind") != KIND:
        raise ModelFileError(
            f"{where} is a saved rnnlab model but not an estimator (no estimator.json); "
            "load it with the class that saved it (e.g. rnnlab.TextPipeline.load)"
        )
    name = head.get("class")
    klass = registry.get(name) if isinstance(name, str) else None
    if klass is None:
        raise ModelFileError(f"{where} holds an unknown estimator class {name!r}")
    if expected is not None and expected.__name__ != "EstimatorBase" and not issubclass(klass, expected):
        raise ModelFileError(
            f"{where} holds a {name}, not a {expected.__name__}: load it with "
            f"{name}.load or rnnlab.load"
        )
    try:
        params = {k: decode(v) for k, v in head["params"].items()}
        fitted = {k: decode(v) for k, v in parts["fitted"].items()}
        unsaved = dict(head.get("unsaved", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{where} has a malformed estimator description: {exc}") from None
    missing = [k for k in unsaved if k not in overrides]
    if missing:
        listed = ", ".join(f"{k}=<{unsaved[k]}>" for k in missing)
        raise TypeError(
            f"{name} was saved with parameters JSON cannot hold ({listed}); pass them again: "
            f"{name}.load({str(directory)!r}, " + ", ".join(f"{k}=..." for k in missing) + ")"
        )
    params.update(overrides)
    est = klass(**params)
    est.check_param_names()
    try:
        est._restore(fitted, parts)
        with torch.random.fork_rng(devices=[]):  # building a module draws initial weights
            module = est._rebuild_module()
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: cannot rebuild the {name}: {exc}") from None
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(
            f"{where}: the saved weights do not fit the module"
            + (" that `build_fn` builds" if "build_fn" in unsaved else "")
            + f": {str(exc).splitlines()[0]}"
        ) from None
    module.eval()
    est.module_ = module
    return est
