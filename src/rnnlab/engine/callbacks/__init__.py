"""Callbacks: one base class, `Callback`, and the standard ones built on it."""

from rnnlab.engine.callbacks.base import HOOKS, Callback
from rnnlab.engine.callbacks.checkpoint import Checkpoint, ModelCheckpoint
from rnnlab.engine.callbacks.early_stopping import EarlyStopping
from rnnlab.engine.callbacks.guards import GradientClipping, TerminateOnNaN
from rnnlab.engine.callbacks.history import History
from rnnlab.engine.callbacks.progress import ProgressBar
from rnnlab.engine.callbacks.schedules import LRScheduler, ReduceLROnPlateau

__all__ = [
    "HOOKS",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "GradientClipping",
    "History",
    "LRScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
