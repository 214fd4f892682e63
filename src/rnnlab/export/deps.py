"""The optional packages of `rnnlab[export]` (onnx, onnxruntime), imported only when used.

`import rnnlab` and every other command stay free of them; an export without them
fails with one line that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rnnlab.errors import RnnlabError

EXTRA = "rnnlab[export]"


class MissingDependencyError(RnnlabError, ImportError):
    """An optional package an rnnlab feature needs is not installed."""


def _require(name: str, purpose: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the `{name}` package, which is not installed: pip install '{EXTRA}'"
        ) from None


def require_onnx() -> ModuleType:
    """The `onnx` package (building and checking graphs)."""
    return _require("onnx", "exporting to ONNX")


def require_onnxruntime() -> ModuleType:
    """The `onnxruntime` package (running an exported graph, e.g. the export's parity check)."""
    return _require("onnxruntime", "running an ONNX model")
