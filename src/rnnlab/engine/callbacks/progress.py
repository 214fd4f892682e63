"""`ProgressBar`: a tqdm bar per epoch, or one line per epoch, on a terminal only."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

from tqdm import tqdm

from rnnlab.engine.callbacks.base import Callback
from rnnlab.errors import check_choice

if TYPE_CHECKING:
    from rnnlab.engine.trainer import Trainer


def _format(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


def _is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class ProgressBar(Callback):
    """Shows training progress with the loss, the metrics and the time remaining.

    Args:
        verbose: 0 silent; 1 a live bar per epoch (running loss and metrics, time
            left in the epoch) that stays as the epoch's summary line with the
            validation metrics; 2 one line per epoch with its time and the time
            left for the remaining epochs.
        file: where to write; default ``sys.stderr`` at the time fit starts.
        only_tty: stay quiet unless ``file`` is a terminal, so logs written to
            files or CI stay clean (`History` keeps the numbers anyway). Set False
            to write to a non-terminal stream.
    """

    order = 60  # after History, and after callbacks that add to the logs

    def __init__(
        self, verbose: int = 1, file: IO[str] | None = None, only_tty: bool = True
    ) -> None:
        self.verbose = check_choice("verbose", verbose, (0, 1, 2))
        self.file = file
        self.only_tty = only_tty
        self._bar: tqdm | None = None
        self._active = False

    def on_fit_begin(self, trainer: Trainer) -> None:
        self._stream = self.file if self.file is not None else sys.stderr
        self._active = self.verbose > 0 and (not self.only_tty or _is_tty(self._stream))
        self._epoch_times: list[float] = []

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        if not self._active:
            return
        self._start = time.perf_counter()
        if self.verbose == 1:
            self._bar = tqdm(
                total=trainer.num_batches,
                initial=trainer.batch,
                file=self._stream,
                desc=f"Epoch {epoch + 1}/{trainer.epochs}",
                unit="batch",
                leave=True,
                dynamic_ncols=True,
                mininterval=0.1,
            )

    def on_batch_end(self, trainer: Trainer, batch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix(logs, refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if not self._active:
            return
        elapsed = time.perf_counter() - self._start
        self._epoch_times.append(elapsed)
        if self._bar is not None:
            self._bar.set_postfix({k: v for k, v in logs.items() if k != "learning_rate"})
            self._bar.close()
            self._bar = None
        else:
            left = (trainer.epochs - epoch - 1) * sum(self._epoch_times) / len(self._epoch_times)
            self._stream.write(
                f"Epoch {epoch + 1}/{trainer.epochs} - {elapsed:.1f}s - {_format(logs)}"
                + (f" - ETA {left:.0f}s" if left > 0 else "")
                + "\n"
            )
            self._stream.flush()
        if trainer.stop_training and trainer.stop_reason:
            self._stream.write(f"Stopped: {trainer.stop_reason}\n")
            self._stream.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __repr__(self) -> str:
        return f"ProgressBar(verbose={self.verbose})"
