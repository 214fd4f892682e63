"""Serving a saved model over HTTP: `rnnlab serve MODEL` (FastAPI + uvicorn, the `[serve]` extra).

`create_app` builds the app (`app.py`), `serve` runs it (`server.py`),
`ServeSettings` holds the limits and batching settings (`settings.py`),
`MicroBatcher` shares forward passes between concurrent requests (`batcher.py`).
The names load lazily: ``import rnnlab.serving`` needs no fastapi, and a missing
one is an error that names the extra (`extra.py`). See docs/serving.md.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "create_app": "rnnlab.serving.app",
    "serve": "rnnlab.serving.server",
    "ServeSettings": "rnnlab.serving.settings",
    "MicroBatcher": "rnnlab.serving.batcher",
    "MissingExtraError": "rnnlab.serving.extra",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnlab.serving' has no attribute {name!r}")
