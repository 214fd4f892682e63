"""Saving and loading fitted estimators in the one saved-model format (`rnnlab.pipeline`).

A fitted estimator saves as its `Pipeline` (weights, ``model.json``, the
vocabulary), so `rnnlab.load` and every command read it, plus ``estimator.json``:
the class name, its parameters (JSON-able ones; the names of the others, e.g.
``build_fn``, under "unsaved") and its learned state (classes_, history_,
n_features_in_, ...), tagged by `rnnlab.tagged_json`. A `ModelClassifier` whose
``build_fn`` is a registered architecture loads without passing it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rnnlab.errors import InvalidTypeError, ModelFileError
from rnnlab.models.registry import ARCHITECTURES
from rnnlab.pipeline import read_model_parts
from rnnlab.tagged_json import UNSAVED, decode, encode

if TYPE_CHECKING:
    from rnnlab.estimators.base import EstimatorBase

KIND = "rnnlab.estimator"


def save_estimator(est: EstimatorBase, directory: str | Path) -> Path:
    params, unsaved = {}, {}
    for key, value in est.get_params(deep=False).items():
        coded = encode(value)
        if coded is UNSAVED:
            unsaved[key] = f"{type(value).__name__} {getattr(value, '__qualname__', '')}".strip()
        else:
            params[key] = coded
    fitted = {}
    for key, value in est._fitted_state().items():
        coded = encode(value)
        if coded is UNSAVED:
            raise InvalidTypeError(
                f"cannot save {type(est).__name__}: its `{key}` ({type(value).__name__}) has "
                "no JSON form (labels must be numbers, strings or booleans)"
            )
        fitted[key] = coded
    pipeline = est.to_pipeline()
    pipeline.parts["estimator"] = {
        "kind": KIND,
        "class": type(est).__name__,
        "params": params,
        "unsaved": unsaved,
        "fitted": fitted,
    }
    return pipeline.save(directory)


def load_estimator(
    directory: str | Path,
    registry: dict[str, type[EstimatorBase]],
    expected: type | None,
    overrides: dict[str, Any],
) -> EstimatorBase:
    state, parts = read_model_parts(directory)
    where = repr(str(directory))
    head = parts.get("estimator")
    if not isinstance(head, dict) or head.get("kind") != KIND:
        raise ModelFileError(
            f"{where} is a saved rnnlab model but not an estimator (no estimator.json: "
            "`rnnlab train` or `reproduce` wrote it); load it with rnnlab.load"
        )
    name = head.get("class")
    klass = registry.get(name) if isinstance(name, str) else None
    if klass is None:
        raise ModelFileError(f"{where} holds an unknown estimator class {name!r}")
    if (
        expected is not None
        and expected.__name__ != "EstimatorBase"
        and not issubclass(klass, expected)
    ):
        raise ModelFileError(
            f"{where} holds a {name}, not a {expected.__name__}: load it with "
            f"{name}.load or rnnlab.load"
        )
    try:
        params = {k: decode(v) for k, v in head["params"].items()}
        fitted = {k: decode(v) for k, v in head["fitted"].items()}
        unsaved = dict(head.get("unsaved", {}))
        architecture = parts["model"].get("architecture")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{where} has a malformed estimator description: {exc}") from None
    if "build_fn" in unsaved and "build_fn" not in overrides and architecture in ARCHITECTURES:
        overrides = {**overrides, "build_fn": ARCHITECTURES[architecture]}
    missing = [k for k in unsaved if k not in overrides]
    if missing:
        listed = ", ".join(f"{k}=<{unsaved[k]}>" for k in missing)
        raise InvalidTypeError(
            f"{name} was saved with parameters JSON cannot hold ({listed}); pass them again: "
            f"{name}.load({str(directory)!r}, " + ", ".join(f"{k}=..." for k in missing) + ")"
        )
    if "model_kind" in klass._get_param_names() and "model_kind" not in params:
        # Saved before model kinds existed: every such model is purely recurrent.
        params["model_kind"] = "hybrid" if architecture == "HybridClassifier" else "recurrent"
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
