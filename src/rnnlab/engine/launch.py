"""Starting N local training workers through torch's own elastic launcher (what torchrun runs).

``rnnlab train --nproc N`` calls `launch_workers`, which hands
``torch.distributed.run`` the same arguments ``torchrun --standalone
--nproc-per-node N -m rnnlab train ...`` would get: the launcher starts the
workers, sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT for
them, restarts the whole group up to ``max_restarts`` times when a worker
fails (each restart resumes from the run's last checkpoint) and stops the
others when one fails for good.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

from rnnlab.errors import WorkersFailedError, check_int


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(local_workers: int | None = None) -> int:
    """Threads per worker: the cores shared out between the workers of this machine (>= 1)."""
    if local_workers is None:
        local_workers = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, available_cores() // max(1, local_workers))


def launch_workers(
    worker_args: Sequence[str],
    nproc: int,
    max_restarts: int = 0,
    threads: int | None = None,
) -> int:
    """Run ``python -m rnnlab <worker_args>`` as ``nproc`` workers on this machine; 0 on success.

    Args:
        worker_args: the command line each worker runs, e.g. ``["train", "--config", ...]``.
        nproc: workers (processes) on this machine.
        max_restarts: how often the launcher restarts the group after a worker fails.
        threads: torch threads per worker (default: cores // nproc).

    Raises:
        WorkersFailedError: a worker failed after the restarts; ``exit_code`` is its own,
            or 128 + the signal that stopped the launcher (SIGTERM: 143).
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    nproc = check_int("nproc", nproc, minimum=1)
    max_restarts = check_int("max_restarts", max_restarts, minimum=0)
    per_worker = threads if threads is not None else default_threads(nproc)
    # torchrun would set 1 thread per worker (and warn); the workers set their own count too.
    os.environ.setdefault("OMP_NUM_THREADS", str(per_worker))
    argv = [
        "--standalone",
        "--nnodes=1",
        f"--nproc-per-node={nproc}",
        f"--max-restarts={max_restarts}",
        "-m",
        "rnnlab",
        *worker_args,
    ]
    try:
        torchrun.main(argv)
    except ChildFailedError as exc:
        codes = [f.exitcode for f in exc.failures.values()]
        code = next((c for c in codes if c and c > 0), 1)
        raise WorkersFailedError(
            f"{len(codes)} of the {nproc} workers failed (exit code {code}; their errors are "
            "above); rerun the same command to resume from the last checkpoint",
            exit_code=code,
        ) from None
    except SignalException as exc:  # SIGTERM / SIGINT to the launcher, passed on to the workers
        name = signal.Signals(exc.sigval).name
        raise WorkersFailedError(
            f"interrupted by {name}: the workers finished their batch and saved a checkpoint "
            "in the run directory; run the same command again to resume",
            exit_code=128 + int(exc.sigval),
        ) from None
    return 0
