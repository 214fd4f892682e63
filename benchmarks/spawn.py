"""Runs benchmark jobs in fresh child processes and collects their results.

Each job gets a process of its own, so imports, thread pools, allocator state
and peak memory belong to one workload only and every framework starts from
the same state on the same cores. (`Sizes.one_process_per_side`, the smoke
run's setting, runs all of a side's jobs in one process to pay its imports
once; a cold start then counts from that process's spawn.)
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras_env
from cpu_share import OthersShare
from plan import Job
from sizes import Sizes

WORKLOADS = Path(__file__).resolve().parent / "workloads"
SCRIPTS = {"rnnlab": WORKLOADS / "rnnlab_side.py", "keras": WORKLOADS / "keras_side.py"}
MARKER = "@@bench-result@@ "  # as workloads/worker.py prints it


def child_env(side: str, sizes: Sizes) -> dict[str, str]:
    """The environment of a child: the same thread count for every framework."""
    env = dict(os.environ)
    threads = str(sizes.threads or os.cpu_count() or 1)
    env.update(
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS=threads,
        PYTHONUNBUFFERED="1",
    )
    if side == "keras":
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        # On TensorFlow the child is the reference venv's python: its environment comes from
        # keras_env, which forces the backend whatever the caller's KERAS_BACKEND says.
        if sizes.keras_backend == keras_env.BACKEND:
            env = keras_env.keras_subprocess_env(env)
        else:
            env["KERAS_BACKEND"] = sizes.keras_backend
    return env


def run_process(python: str, jobs: list[Job], env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Run ``jobs`` (all of one side) in one new process; their results by key.

    Raises:
        RuntimeError: the process failed; the message ends with its stderr.
    """
    side = jobs[0].side
    requests = [{"key": j.key, "fn": j.fn, "params": j.params} for j in jobs]
    spawned_at = time.time()
    done = subprocess.run(
        [python, str(SCRIPTS[side]), json.dumps(requests)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
            results[result.pop("key")] = {**result, "spawned_at": spawned_at}
    if done.returncode != 0 or len(results) != len(jobs):
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{side} process exited with {done.returncode}:\n{tail}")
    return results


def process_batches(jobs: list[Job], one_per_side: bool) -> list[list[Job]]:
    if not one_per_side:
        return [[j] for j in jobs]
    by_side = [[j for j in jobs if j.side == side] for side in SCRIPTS]
    return [b for b in by_side if b]


def run_jobs(
    jobs: list[Job], pythons: dict[str, str], sizes: Sizes, log: Callable[[str], None]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Run every job; return (results by key, error message by key of the jobs that failed)."""
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    batches = process_batches(jobs, sizes.one_process_per_side)
    for i, batch in enumerate(batches, 1):
        names = ", ".join(j.key for j in batch)
        start = time.perf_counter()
        try:
            with OthersShare() as others:
                found = run_process(pythons[batch[0].side], batch, child_env(batch[0].side, sizes))
            for result in found.values():
                result["others_cpu_share"] = others.share
            results.update(found)
            status = "ok" if others.share is None else f"ok, others used {others.share:.0%} CPU"
        except RuntimeError as exc:
            errors.update({j.key: str(exc) for j in batch})
            status = f"FAILED\n{exc}"
        log(f"[{i:2d}/{len(batches)}] {names}: {time.perf_counter() - start:.1f} s, {status}")
    return results, errors
