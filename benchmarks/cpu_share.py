"""How much of the CPUs other processes took while a job ran: whether its time can be trusted.

The machines are shared, and torch's OpenMP threads slow down many-fold when
another process holds one of their cores (TensorFlow's thread pool much less),
so a busy neighbour can invert a ratio. /proc/stat counts the CPU time of every
process; what this process and its finished children used is subtracted.
"""

from __future__ import annotations

import os
import resource
import time
from typing import Self


def busy_seconds() -> float | None:
    """CPU seconds spent outside idle / iowait by all processes since boot (None: no /proc)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and its waited-for children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


class OthersShare:
    """``with OthersShare() as s: ...``; then ``s.share``: the fraction of all cores that
    other processes used meanwhile (None where /proc/stat is missing)."""

    def __enter__(self) -> Self:
        self.share: float | None = None
        self._start = (time.perf_counter(), busy_seconds(), own_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        wall0, busy0, own0 = self._start
        wall, busy = time.perf_counter() - wall0, busy_seconds()
        if busy0 is None or busy is None or wall <= 0:
            return
        others = (busy - busy0) - (own_seconds() - own0)
        self.share = max(0.0, others) / (wall * (os.cpu_count() or 1))
