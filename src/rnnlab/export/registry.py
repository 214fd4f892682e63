"""ONNX exporters by architecture name: which graph builder a saved model's architecture takes.

A saved model names its architecture (`Pipeline.architecture`); an exporter
is ``build(pipeline, opset) -> onnx.ModelProto`` for that architecture, with
the graph contract of `rnnlab.export.recurrent_classifier` (padded sequences
and lengths in, ``probabilities`` out). Another architecture adds its own with
`register_exporter`; an architecture without one is refused by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rnnlab.errors import InvalidValueError, check_type, suggest
from rnnlab.export import hybrid_classifier, recurrent_classifier
from rnnlab.pipeline import Pipeline

Exporter = Callable[[Pipeline, int], Any]

EXPORTERS: dict[str, Exporter] = {
    "RecurrentClassifier": recurrent_classifier.build_graph,
    "HybridClassifier": hybrid_classifier.build_graph,
}


def register_exporter(architecture: str) -> Callable[[Exporter], Exporter]:
    """Decorator: ``build(pipeline, opset)`` is the ONNX exporter of ``architecture``."""
    check_type("architecture", architecture, str)

    def decorate(build: Exporter) -> Exporter:
        known = EXPORTERS.get(architecture)
        if known is not None and known is not build:
            raise InvalidValueError(
                f"an ONNX exporter for {architecture!r} is already registered "
                f"({getattr(known, '__qualname__', known)!r})"
            )
        EXPORTERS[architecture] = build
        return build

    return decorate


def exporter_for(pipeline: Pipeline) -> Exporter:
    """The exporter of ``pipeline``'s architecture, or an error naming the exportable ones."""
    name = pipeline.architecture
    build = EXPORTERS.get(name) if name is not None else None
    if build is None:
        hint = suggest(name, EXPORTERS) if name is not None else ""
        raise InvalidValueError(
            f"no ONNX exporter for the architecture {name!r}{hint}; exportable: "
            f"{', '.join(sorted(EXPORTERS))}"
        )
    return build
