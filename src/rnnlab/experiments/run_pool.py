"""`reproduce --jobs N`: independent (experiment, seed) runs in N processes at once.

The runs of a reproduction share nothing, so on a small machine N one-thread
processes finish sooner than one process with N threads: a recurrent layer's
per-step operations are too small for several threads to share well. Each run
trains in a fresh spawned process (no state leaks from one run to the next) and
writes the run directory a sequential `reproduce` would; the caller reads the
returned results in its own order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

RunKey = tuple[str, int]  # (experiment name, seed)


def _train_detached(
    config_path: str, overrides: list[str], seed: int, run_dir: str, quick: bool, threads: int
) -> tuple[RunKey, dict[str, Any]]:
    """One run in a worker process: the same steps `reproduce` takes in its own."""
    import torch

    from rnnlab.engine import seed_everything
    from rnnlab.experiments.config import load_config
    from rnnlab.experiments.prepare import prepare_data
    from rnnlab.experiments.runner import build_model, run

    torch.set_num_threads(threads)
    cfg = load_config(Path(config_path), overrides)
    data = prepare_data(cfg.data, quick=quick)
    seed_everything(seed)
    model = build_model(cfg, data)
    result = run(cfg, data, model, seed=seed, out_dir=Path(run_dir), quick=quick, verbose=0)
    return (cfg.name, seed), result


def run_in_pool(
    pending: Sequence[tuple[Path, int, Path]],
    overrides: Sequence[str],
    jobs: int,
    threads: int,
    quick: bool,
    on_done: Callable[[RunKey], None] = lambda key: None,
) -> dict[RunKey, dict[str, Any]]:
    """Train every (config path, seed, run dir) in ``jobs`` processes of ``threads`` threads.

    The first failure stops the pool (runs not yet started are cancelled) and is
    raised as it was raised in the worker.
    """
    results: dict[RunKey, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = [
            pool.submit(
                _train_detached, str(path), list(overrides), seed, str(run_dir), quick, threads
            )
            for path, seed, run_dir in pending
        ]
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    for other in remaining:
                        other.cancel()
                    raise future.exception()  # type: ignore[misc]
                key, result = future.result()
                results[key] = result
                on_done(key)
    return results


__all__ = ["run_in_pool"]
