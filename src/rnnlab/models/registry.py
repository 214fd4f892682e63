"""Model architectures by name, so a saved model can be rebuilt from data alone.

A saved directory stores the architecture's name and the keyword arguments
that built it, never code. `RecurrentClassifier` is registered as
"RecurrentClassifier"; register your own factory (what a `ModelClassifier`
``build_fn`` is) to make its saved models load with `rnnlab.load` and every
command:

>>> from torch import nn
>>> @register_model("tiny_mlp")
... def tiny_mlp(width=4, num_classes=3):
...     return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, num_classes))
>>> build_architecture("tiny_mlp", {"width": 8})[0].out_features
8
>>> architecture_name(tiny_mlp)
'tiny_mlp'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import import_module
from typing import Any, TypeVar

from torch import nn

from rnnlab.errors import InvalidTypeError, InvalidValueError, ModelFileError, check_type, suggest
from rnnlab.models.classifier import RecurrentClassifier

Factory = TypeVar("Factory", bound=Callable[..., nn.Module])

ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"RecurrentClassifier": RecurrentClassifier}
# rnnlab's other architectures register themselves when their module is imported; a saved
# model naming one imports it here, so `rnnlab.load` needs no import from the caller.
BUILT_IN = {
    "keras_sequential": "rnnlab.keras_import.architecture",
    "HybridClassifier": "rnnlab.models.hybrid",
}


def register_model(name: str | None = None) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory(**config) -> nn.Module`` under ``name`` (default its name)."""

    def decorate(factory: Factory) -> Factory:
        key = check_type("name", name if name is not None else factory.__name__, str)
        known = ARCHITECTURES.get(key)
        if known is not None and known is not factory:
            raise InvalidValueError(
                f"a model architecture named {key!r} is already registered "
                f"({getattr(known, '__qualname__', known)!r}); pick another name"
            )
        ARCHITECTURES[key] = factory
        return factory

    return decorate


def architecture_name(factory: Any) -> str | None:
    """The registered name of ``factory`` (a partial of one counts), or None."""
    target = factory.func if isinstance(factory, functools.partial) else factory
    for key, known in ARCHITECTURES.items():
        if known is target:
            return key
    return None


def build_architecture(name: str, config: dict[str, Any]) -> nn.Module:
    """An untrained module of the registered architecture ``name``, built from ``config``."""
    if name not in ARCHITECTURES and name in BUILT_IN:
        import_module(BUILT_IN[name])
    factory = ARCHITECTURES.get(name)
    if factory is None:
        known = sorted({*ARCHITECTURES, *BUILT_IN})
        raise ModelFileError(
            f"unknown model architecture {name!r}{suggest(name, known)}: register its "
            "factory with `@rnnlab.register_model(name)` (in code imported before loading); "
            f"registered: {', '.join(known)}"
        )
    module = factory(**config)
    if not isinstance(module, nn.Module):
        raise InvalidTypeError(
            f"architecture {name!r} built a {type(module).__name__}, not an nn.Module"
        )
    return module
