"""`Checkpoint` (the whole training state, for resuming) and `ModelCheckpoint` (weights only)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors.torch import save as save_tensors

from rnnlab.atomic import write_bytes_atomic
from rnnlab.engine.callbacks.base import Callback, state_number
from rnnlab.engine.checkpoint import CHECKPOINT_FILE, save_checkpoint
from rnnlab.engine.metrics import monitor_mode
from rnnlab.errors import (
    InvalidValueError,
    UnknownKeyError,
    check_choice,
    check_int,
    check_positive,
    check_type,
)

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

    The last two checkpoints are kept (``keep=2``): when the latest cannot be
    read, resuming falls back to the one before it, and says so.

    Args:
        directory: where `CHECKPOINT_FILE` is written (replaced each time).
        every_n_epochs: save after every N-th epoch (None: never at epoch ends).
        every_n_batches: also save after every N-th optimiser step (None: never
            mid-epoch). A saved mid-epoch position is replayed exactly on resume.
        keep: 2 keeps the checkpoint before the latest as
            ``checkpoint.previous.safetensors``; 1 keeps only the latest.
        min_interval_s: skip a scheduled save when the last one of this fit was
            written less than this many seconds ago (None: never skip). A run of
            many short epochs then pays for a few checkpoints, not one per epoch, and
            loses at most this much work to a crash; a signal still saves at once.

    Attributes:
        path: the checkpoint file.
        saves: how many times it was written during this fit.
        held: why saving stopped for the rest of this fit (`hold`), or None.
    """

    order = 100  # last: every other callback has updated its state for this batch / epoch

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every_n_epochs: int | None = 1,
        every_n_batches: int | None = None,
        keep: int = 2,
        min_interval_s: float | None = None,
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
        self.keep = check_choice("keep", keep, (1, 2))
        if min_interval_s is not None:
            check_positive("min_interval_s", min_interval_s, integer=False, allow_zero=True)
        self.min_interval_s = min_interval_s
        self._last_write: float | None = None
        self.saves = 0
        self.held: str | None = None
        self._writes = True  # False on distributed workers other than rank 0
        self._saved_at: tuple[int, int, int, bool] | None = None

    def save(self, trainer: Trainer) -> Path:
        """Write the trainer's state now (once per position: a second call there is a no-op)."""
        # The end of an epoch and its last batch share epoch, batch and step: not the state.
        position = (trainer.epoch, trainer.batch, trainer.step, trainer._epoch_done)
        if self.held is not None or position == self._saved_at:
            return self.path
        self.write(trainer.state_dict())
        self._saved_at = position
        return self.path

    def write(self, state: dict[str, Any]) -> Path:
        """Write ``state`` (a trainer's `state_dict`, possibly amended) as the latest checkpoint."""
        if not self._writes:  # distributed: rank 0 writes the one checkpoint of the run
            return self.path
        self.saves += 1
        path = save_checkpoint(state, self.path, keep_previous=self.keep == 2)
        self._last_write = time.monotonic()
        return path

    def _due(self) -> bool:
        """Whether a scheduled save may be written now (``min_interval_s`` since the last)."""
        if self.min_interval_s is None or self._last_write is None:
            return True
        return time.monotonic() - self._last_write >= self.min_interval_s

    def hold(self, reason: str) -> None:
        """Write nothing more in this fit: the checkpoint on disk is the one to resume from."""
        self.held = reason

    def on_fit_begin(self, trainer: Trainer) -> None:
        self.saves = 0
        self.held = None
        self._writes = getattr(trainer, "is_writer", True)
        self._saved_at = None
        self._last_write = None

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, float]) -> None:
        if (
            self.every_n_batches is not None
            and trainer.step % self.every_n_batches == 0
            and self._due()
        ):
            self.save(trainer)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if (
            self.every_n_epochs is not None
            and (epoch + 1) % self.every_n_epochs == 0
            and self._due()
        ):
            self.save(trainer)

    def __repr__(self) -> str:
        return (
            f"Checkpoint('{self.directory}', every_n_epochs={self.every_n_epochs}, "
            f"every_n_batches={self.every_n_batches}, keep={self.keep}, "
            f"min_interval_s={self.min_interval_s})"
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
        if not getattr(trainer, "is_writer", True):  # distributed: rank 0 writes, keeps `best`
            return
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
        self.best = state_number(self, "best", state["best"], allow_none=True)

    def __repr__(self) -> str:
        return (
            f"ModelCheckpoint('{self.filepath}', monitor='{self.monitor}', "
            f"save_best_only={self.save_best_only})"
        )
