"""JSON for Python values JSON has no type for: tuples, ranges, arrays, non-finite floats.

Values are tagged: ``{"__tuple__": [...]}``, ``{"__range__": [start, stop, step]}``,
``{"__array__": [...], "dtype": "int64"}``, so ``units=(64,)`` and
``classes=range(46)`` come back as they were. What JSON cannot hold at all (a
function, a class) encodes as `UNSAVED`, and the caller decides what to do.

>>> decode(encode({"units": (64,), "classes": range(3)}))
{'units': (64,), 'classes': range(0, 3)}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rnnlab.errors import InvalidTypeError, InvalidValueError

UNSAVED = object()


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value``, or `UNSAVED` when JSON cannot hold it."""
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
            return UNSAVED
        items = encode(value.tolist())
        if items is UNSAVED:
            return UNSAVED
        return {"__array__": items, "dtype": value.dtype.str if value.dtype.kind != "O" else "O"}
    if isinstance(value, (list, tuple)):
        items = [encode(v) for v in value]
        if any(v is UNSAVED for v in items):
            return UNSAVED
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: encode(v) for k, v in value.items()}
        if any(v is UNSAVED for v in items.values()):
            return UNSAVED
        return {"__dict__": items}
    return UNSAVED


def decode(value: Any) -> Any:
    """Invert `encode`; a malformed tag (``{"__dict__": null}``) raises `InvalidValueError`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    try:
        return _decode_tagged(value)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        if isinstance(exc, InvalidValueError):
            raise
        raise InvalidValueError(f"malformed tagged value {sorted(value)}: {exc}") from None


def _decode_tagged(value: dict[str, Any]) -> Any:
    if "__tuple__" in value:
        return tuple(decode(v) for v in _list(value["__tuple__"]))
    if "__range__" in value:
        return range(*value["__range__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__array__" in value:
        dtype = value["dtype"]
        items = decode(_list(value["__array__"]))
        if dtype == "O":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        return np.asarray(items, dtype=np.dtype(dtype))
    if "__dict__" in value:
        return {k: decode(v) for k, v in value["__dict__"].items()}
    raise InvalidValueError(f"unknown tagged value {sorted(value)}")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidTypeError(f"a list, got {type(value).__name__}")
    return value
