"""Classifiers built from `rnnlab.nn`: the tutorial architectures and better ones."""

from rnnlab.models.classifier import RecurrentClassifier

__all__ = ["RecurrentClassifier"]
