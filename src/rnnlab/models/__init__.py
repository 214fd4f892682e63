"""Classifiers built from `rnnlab.nn`: the tutorial architectures and better ones, by name."""

from rnnlab.models.classifier import RecurrentClassifier
from rnnlab.models.registry import (
    ARCHITECTURES,
    architecture_name,
    build_architecture,
    register_model,
)
from rnnlab.models.spec import ModelSpec

__all__ = [
    "ARCHITECTURES",
    "ModelSpec",
    "RecurrentClassifier",
    "architecture_name",
    "build_architecture",
    "register_model",
]
