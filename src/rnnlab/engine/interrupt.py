"""Stopping a fit on SIGINT or SIGTERM at a batch boundary, with a checkpoint to resume from.

While a fit writes checkpoints, the first Ctrl-C (SIGINT) or SIGTERM does not
kill it in the middle of a step: the signal is noted, the running batch
finishes, every `Checkpoint` writes the state, and fit raises
`TrainingInterrupted`. Running the same command again resumes from that
checkpoint. A second signal while the batch finishes acts at once, as it would
without rnnlab (KeyboardInterrupt, or termination).

Handlers can only be installed in the main thread; a fit in another thread
keeps the process's handlers (it is then stopped however that process stops).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Under a launcher (torchrun), how long a repeat of the first signal counts as its copy.
REPEAT_GRACE_S = 5.0


class TrainingInterrupted(KeyboardInterrupt):
    """A fit stopped by a signal after writing its checkpoints (a KeyboardInterrupt, on purpose).

    Derived from KeyboardInterrupt so that ``except Exception`` does not swallow
    it. The command line prints it as one line and exits with ``exit_code``
    (128 + the signal number, as a shell reports a process killed by it).

    Attributes:
        signum: the signal number; ``signal_name`` its name ('SIGTERM').
        checkpoints: the checkpoint files written, to resume from.
    """

    def __init__(self, signum: int, where: str, checkpoints: list[Path]) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        self.checkpoints = checkpoints
        saved = ", ".join(repr(str(p)) for p in checkpoints)
        super().__init__(
            f"interrupted by {self.signal_name} {where}; the training state is saved in "
            f"{saved}: run the same command again to resume"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class SignalCatcher:
    """Context manager: note SIGINT / SIGTERM instead of acting on them (see the module doc).

    Args:
        enabled: False: the block changes nothing (signals act as always).
        repeat_grace_s: a repeat of the first signal within this many seconds is
            ignored (a launcher passing on a signal its workers already got).

    Attributes:
        received: the first signal caught, or None.
        handled: set by the caller once it acted on ``received``; a signal left
            unhandled when the block ends is delivered again then.
    """

    def __init__(self, enabled: bool = True, repeat_grace_s: float = 0.0) -> None:
        self.enabled = enabled
        self.repeat_grace_s = repeat_grace_s
        self.received: int | None = None
        self._received_at = 0.0
        self.handled = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalCatcher:
        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return self
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:  # the parent asked for it to be ignored: keep that
                continue
            self._previous[signum] = previous
            signal.signal(signum, self._note)
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            if (
                signum == self.received
                and time.monotonic() - self._received_at < self.repeat_grace_s
            ):
                return  # the same signal passed on by a launcher: not a second request
            self._restore()  # the second one: stop waiting
            _deliver(signum)
            return
        self.received, self._received_at = signum, time.monotonic()
        print(
            f"rnnlab: {signal.Signals(signum).name} received: finishing this batch and saving "
            "a checkpoint (send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def _restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}

    def __exit__(self, *exc_info: object) -> None:
        self._restore()
        if self.received is not None and not self.handled:
            _deliver(self.received)  # caught after the last check: act on it now


def _deliver(signum: int) -> None:
    """Act on ``signum`` as the (now restored) handler would."""
    if signum == signal.SIGINT and signal.getsignal(signum) is signal.default_int_handler:
        raise KeyboardInterrupt
    os.kill(os.getpid(), signum)
