"""`Checkpoint` (the whole training state, for resuming) and `ModelCheckpoint` (weights only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors.torch import save as save_tensors

from rnnlab.atomic import write_bytes_atomic
from rnnlab.engine.callbacks.base import Callback
from rnnlab.engine.checkpoint import CHECKPOINT_FILE, save_checkpoint
from rnnlab.engine.metrics import monitor_mode
from rnnlab.errors import InvalidValueError, UnknownKeyError, check_int, check_type

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer


class Checkpoint(Callback):
    """Save the full training state atomically, every N epochs and/or every N batches.

    The state is everything a run needs to continue as if never interrupted:
    weights, optimiser, every callback's state (history, early-stopping counters,
    scheduler), all random generators and the position within the epoch. Resume
    with ``trainer.fit(..., resume_from=directory)``, or pass
    ``checkpoint_dir=directory`` to fit, which adds this callback and resumes
    automatically when the directory already holds a checkpoint.

    Args:
        directory: where `CHECKPOINT_FILE` is written (replaced each time).
        every_n_epochs: save after every N-th epoch (None: never at epoch ends).
        every_n_batches: also save after every N-th optimiser step (None: never
            mid-epoch). A saved mid-epoch position is replayed exactly on resume.

    Attributes:
        path: the checkpoint file.
        saves: how many times it was written during this fit.
    """

    order = 100  # last: every other callback has updated its state for this batch / epoch

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every_n_epochs: int | None = 1,
        every_n_batches: int | None = None,
    ) -> None:
        check_type("directory", directory, (str, os.PathLike), "a path")
        self.directory = Path(directory)
        self.path = self.directory / CHECKPOINT_FILE
        self.every_n_epochs = check_int(
            "every_n_epochs", every_n_epochs, minimum=1, allow_none=True
        )
        self.every_n_batches = check_int(
            "every_n_batches", every_n_batches, minimum=1, allow_none=True
        )
        if self.every_n_epochs is None and self.every_n_batches is None:
            raise InvalidValueError(
                "Checkpoint needs `every_n_epochs` or `every_n_batches`; both are None"
            )
        self.saves = 0

    def save(self, trainer: Trainer) -> Path:
        """Write the trainer's state now."""
        self.saves += 1
        return save_checkpoint(trainer.state_dict(), self.path)

    def on_fit_begin(self, trainer: Trainer) -> None:
        self.saves = 0

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, float]) -> None:
        if self.every_n_batches is not None and trainer.step % self.every_n_batches == 0:
            self.save(trainer)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.every_n_epochs is not None and (epoch + 1) % self.every_n_epochs == 0:
            self.save(trainer)

    def __repr__(self) -> str:
        return (
            f"Checkpoint('{self.directory}', every_n_epochs={self.every_n_epochs}, "
            f"every_n_batches={self.every_n_batches})"
        )


class ModelCheckpoint(Callback):
    """Save the model's weights (safetensors) after epochs, or only when ``monitor`` improves.

    Args:
        filepath: target file; may hold Keras-style fields filled from the epoch
            logs, e.g. ``"weights-{epoch:02d}-{val_loss:.3f}.safetensors"`` (epoch is 1-based).
        monitor: the log key deciding what "best" means.
        mode: 'min', 'max' or 'auto'.
        save_best_only: write only when ``monitor`` beats the best so far.

    Attributes:
        best: the best monitored value so far.
        last_path: the last file written, or None.
    """

    order = 100

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
    ) -> None:
        check_type("filepath", filepath, (str, os.PathLike), "a path")
        self.filepath = str(filepath)
        self.monitor = check_type("monitor", monitor, str)
        self.save_best_only = bool(save_best_only)
        self.mode = monitor_mode(monitor, mode) if save_best_only else mode
        self.best: float | None = None
        self.last_path: Path | None = None

    def on_fit_begin(self, trainer: Trainer) -> None:
        self.best = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise UnknownKeyError(
                    f"ModelCheckpoint monitors `{self.monitor}`, which is not in the logs "
                    f"({', '.join(logs)})"
                )
            better = self.best is None or (
                current < self.best if self.mode == "min" else current > self.best
            )
            if not better:
                return
            self.best = current
        try:
            path = Path(self.filepath.format(epoch=epoch + 1, **logs))
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidValueError(
                f"`filepath` {self.filepath!r} cannot be filled from the logs {list(logs)}: {exc}"
            ) from None
        # Clones: safetensors refuses tensors that share memory (tied weights).
        tensors = {
            k: v.detach().cpu().contiguous().clone() for k, v in trainer.model.state_dict().items()
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        self.last_path = write_bytes_atomic(
            path, save_tensors(tensors, metadata={"epoch": str(epoch + 1)})
        )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint('{self.filepath}', monitor='{self.monitor}', "
            f"save_best_only={self.save_best_only})"
        )
