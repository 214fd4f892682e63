"""Classifiers built from `rnnlab.nn`: the tutorial architectures and better ones, by name.

The names load on first use, so `rnnlab.models.spec` (a plain dataclass, what a
config's ``model:`` section is) does not pull in torch.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "ModelSpec": "rnnlab.models.spec",
    "RecurrentClassifier": "rnnlab.models.classifier",
    "HybridClassifier": "rnnlab.models.hybrid",
    "ARCHITECTURES": "rnnlab.models.registry",
    "architecture_name": "rnnlab.models.registry",
    "build_architecture": "rnnlab.models.registry",
    "register_model": "rnnlab.models.registry",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnlab.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
