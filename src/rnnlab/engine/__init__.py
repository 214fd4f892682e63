"""The training engine: works with any `nn.Module`; knows nothing of text.

`Trainer` runs the fit ladder (fit -> fit_epoch -> train_step / eval_step);
everything optional is a `Callback`. Batches are ``(inputs, target)`` and the
model is called as ``model(*inputs)`` (see `rnnlab.engine.data`).
"""

from rnnlab.engine.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientClipping,
    History,
    LRScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from rnnlab.engine.checkpoint import (
    CheckpointFallbackWarning,
    load_checkpoint,
    load_latest_checkpoint,
    save_checkpoint,
)
from rnnlab.engine.data import split_validation
from rnnlab.engine.device import resolve_device
from rnnlab.engine.inference import batched_logits, class_probabilities, predict_logits
from rnnlab.engine.interrupt import TrainingInterrupted
from rnnlab.engine.losses import LOSSES, get_loss
from rnnlab.engine.metrics import METRICS, accuracy, get_metrics, top_k_accuracy
from rnnlab.engine.optim import build_optimizer, make_optimizer
from rnnlab.engine.rng import get_rng_state, seed_everything, set_rng_state
from rnnlab.engine.trainer import Trainer

__all__ = [
    "LOSSES",
    "METRICS",
    "Callback",
    "Checkpoint",
    "CheckpointFallbackWarning",
    "EarlyStopping",
    "GradientClipping",
    "History",
    "LRScheduler",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "Trainer",
    "TrainingInterrupted",
    "accuracy",
    "batched_logits",
    "build_optimizer",
    "class_probabilities",
    "get_loss",
    "get_metrics",
    "get_rng_state",
    "load_checkpoint",
    "load_latest_checkpoint",
    "make_optimizer",
    "predict_logits",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "split_validation",
    "top_k_accuracy",
]
