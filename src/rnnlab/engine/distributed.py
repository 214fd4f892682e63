"""Data-parallel training on torch.distributed: the worker group, sharded epochs, reduced metrics.

A `Trainer` built with ``distributed=True`` joins the process group that the
launcher (``torchrun`` / ``rnnlab train --nproc N``) describes in the
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), wraps
its model in `DistributedDataParallel` and then:

- draws every epoch's permutation from the same seeded generator on every
  worker and gives worker ``r`` the samples ``r, r + N, r + 2N, ...`` of it
  (`ShardedData`), padded by wrapping around so that every worker runs the
  same number of batches (DDP needs that);
- takes ``batch_size`` as the *global* batch: each worker runs
  ``batch_size // N`` samples, and DDP averages the gradients, so one step
  is the step of one process on the union of the workers' batches;
- sums the metrics of the epoch and of validation / test over the workers
  (an all_reduce of sums and counts), so they equal one process's metrics;
- reseeds the generators used by dropout before every batch from
  (seed, rank, epoch, batch), so each worker draws its own masks and a
  resumed worker draws the same masks again without saving every worker's
  generators;
- agrees after every batch on stopping (a callback's stop, a caught signal)
  so that no worker waits alone in a collective.

Only rank 0 writes (`WorkerGroup.is_writer`): checkpoints, logs, the model.

>>> data = ArrayData.from_pair((np.arange(10.0)[:, None], np.arange(10)), "d")
>>> shard = ShardedData(data, rank=1, world_size=4)
>>> shard.order(None, 3).tolist()
[1, 5, 9]
>>> [t.tolist() for _, t in shard.batches(2)]
[[1, 5], [9]]
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from rnnlab.engine.data import ArrayData, Batch
from rnnlab.errors import ConfigError, InvalidValueError

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched_world_size() -> int:
    """WORLD_SIZE from the environment a launcher set (1 when none did)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        raise ConfigError(
            f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number; unset it or let "
            "torchrun set it"
        ) from None


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


@dataclass
class WorkerGroup:
    """This process's place in the process group, and the few collectives training needs."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes checkpoints, logs and the model; the others only compute."""
        return self.rank == 0

    def sum_metrics(
        self, sums: dict[str, float], count: int, keys: list[str]
    ) -> tuple[dict[str, float], int]:
        """``sums`` and ``count`` added over all workers (keys a worker lacks count as 0)."""
        values = torch.tensor(
            [sums.get(k, 0.0) for k in keys] + [float(count)], dtype=torch.float64
        )
        values = self._all_reduce(values, dist.ReduceOp.SUM)
        total = int(round(float(values[-1])))
        return {k: float(v) for k, v in zip(keys, values[:-1].tolist(), strict=True)}, total

    def agree(self, stop: bool, signum: int | None) -> tuple[bool, int | None]:
        """Whether any worker stops, and the signal any worker caught (the largest number)."""
        flags = torch.tensor([float(stop), float(signum or 0)], dtype=torch.float64)
        flags = self._all_reduce(flags, dist.ReduceOp.MAX)
        caught = int(flags[1])
        return bool(flags[0]), (caught or None)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every worker (pickled: a checkpoint's state, a seed)."""
        box = [obj if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0, device=self._comm_device)
        return box[0]

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def _all_reduce(self, values: torch.Tensor, op: Any) -> torch.Tensor:
        moved = values.to(self._comm_device)
        dist.all_reduce(moved, op=op)
        return moved.cpu()


def join_group(device: torch.device) -> tuple[WorkerGroup, torch.device]:
    """Join (or reuse) the default process group; return it and this worker's device.

    With CUDA each worker takes the GPU of its LOCAL_RANK, and the group uses
    NCCL; on the CPU it uses gloo. Without an initialised group the launcher's
    environment variables (ENV_KEYS) must be set.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed; train with distributed=False")
    if not dist.is_initialized():
        missing = [k for k in ENV_KEYS if k not in os.environ and k != "LOCAL_RANK"]
        if missing:
            raise ConfigError(
                f"distributed training needs the launcher's environment ({', '.join(missing)} "
                "unset): start the workers with `rnnlab train --nproc N` or torchrun, or call "
                "torch.distributed.init_process_group first"
            )
        _init_from_env(backend_for(device), datetime.timedelta(minutes=30))
    group = WorkerGroup(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, device=device
    )
    return group, device


def _init_from_env(backend: str, timeout: datetime.timedelta) -> None:
    """init_process_group from the launcher's variables, in a store namespace per restart.

    After torchrun restarts the workers, the new group must not read the keys (the
    gloo addresses) that the previous attempt's workers left in the store: with
    them, connecting to a dead worker hangs. So every attempt gets its own prefix.
    """
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world,
        is_master=rank == 0 and not agent_store,
        timeout=timeout,
    )
    dist.init_process_group(
        backend=backend,
        store=dist.PrefixStore(f"rnnlab/attempt{attempt}", store),
        rank=rank,
        world_size=world,
        timeout=timeout,
    )


def leave_group() -> None:
    """Destroy the default process group if one is up (the end of a worker's run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def worker_seed(base: int, rank: int, epoch: int, batch: int) -> int:
    """The seed of one worker's generators for one batch: independent streams, no state."""
    return int(np.random.SeedSequence([base, rank, epoch, batch]).generate_state(1, np.uint64)[0])


def per_worker_batch(batch_size: int, world_size: int) -> int:
    """The global ``batch_size`` split over the workers; it must divide evenly."""
    if batch_size % world_size:
        raise InvalidValueError(
            f"batch_size={batch_size} is the global batch and must be a multiple of the "
            f"{world_size} workers; pass e.g. batch_size={max(1, batch_size // world_size) * world_size}"
        )
    return batch_size // world_size


class ShardedData(ArrayData):
    """One worker's share of in-memory (or token-store) data: every N-th sample of the order.

    Args:
        data: the whole data; anything with ``num_samples``, ``order(generator,
            batch_size)`` and ``take(index)`` (`ArrayData`, `rnnlab.data.token_store.StoreData`).
        rank, world_size: this worker and the number of workers.
        pad: repeat the first samples of the order so that every worker gets
            ``ceil(n / N)`` samples (training: equal batch counts); without, the
            shards differ by one at most and together hold each sample once
            (evaluation: exact sums).
    """

    def __init__(self, data: Any, rank: int, world_size: int, pad: bool = True) -> None:
        self.data = data
        self.rank = rank
        self.world_size = world_size
        self.pad = pad
        self.num_samples = data.num_samples
        self.inputs = ()
        self.target = getattr(data, "target", None)

    def shard_size(self) -> int:
        n, w = self.num_samples, self.world_size
        return -(-n // w) if self.pad else len(range(self.rank, n, w))

    def num_batches(self, batch_size: int) -> int:
        return -(-self.shard_size() // batch_size)

    def order(self, generator: torch.Generator | None, batch_size: int = 1) -> torch.Tensor:
        """This worker's sample indices for an epoch (``generator`` None: no shuffle)."""
        full = self.data.order(generator, batch_size * self.world_size)
        if self.pad:
            total = -(-self.num_samples // self.world_size) * self.world_size
            if total > len(full):
                full = torch.cat([full, full[: total - len(full)]])
        return full[self.rank :: self.world_size]

    def take(self, index: torch.Tensor) -> Batch:
        return self.data.take(index)
