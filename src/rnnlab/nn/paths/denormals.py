"""Flushing subnormal floats to zero while a CPU time loop runs.

Gradients that vanish over hundreds of steps pass through the subnormal range
(below ~1.2e-38 in float32), where x86 arithmetic is tens of times slower:
torch's native (non-oneDNN) recurrent kernels ran 5x slower on 400-step
batches because of it, while oneDNN's LSTM sets the flush-to-zero mode itself.
`flush_denormals()` turns the mode on for the calling thread (the thread that
runs the small per-step operations) and, where rnnlab's C extension is built,
for every thread of the OpenMP pool that torch's parallel ops and its BLAS
share: a 1280-step LSTM's gradient GEMMs ran 2.6x slower per token with
subnormals on the second thread. The mode is restored afterwards. A subnormal
value is below anything that changes a float32 result at 1e-5, and float64's
subnormals (below 2.2e-308) never occur here.

>>> with flush_denormals():
...     flushed = float(torch.tensor(1e-39) * 1.0)
>>> flushed
0.0
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from rnnlab.nn.paths import native


def _flushing() -> bool:
    """Whether the calling thread already flushes subnormals (x * 1 of one gives 0)."""
    return float(torch.tensor(1e-39, dtype=torch.float32) * 1.0) == 0.0


@contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush subnormals to zero inside the block (calling thread, CPU); no-op when `enabled` is False."""
    if not enabled or _flushing() or not torch.set_flush_denormal(True):
        yield
        return
    _set_pool(True)
    try:
        yield
    finally:
        _set_pool(False)
        torch.set_flush_denormal(False)


def _set_pool(on: bool) -> None:
    loops = native.loops()
    if loops is not None:
        loops.flush_subnormals_in_pool(on)
