"""`MicroBatcher`: concurrent requests share forward passes; each answer goes back to its request.

Requests wait in a queue; one worker task takes the oldest ones, up to
``max_batch`` inputs, and runs them as one batch in a single model thread, so the
event loop keeps accepting requests meanwhile. A batch starts when it is full, or
``max_wait_ms`` after its oldest request arrived, whichever is first: under load
the requests that queued up during the previous pass go at once, and a lone
request waits at most ``max_wait_ms`` (TorchServe's batch_size / max_batch_delay).

Each request's inputs are encoded on their own, so an input the encoder refuses
fails that request only; the others of the batch are answered, and so they are
when a batch's pass fails (each request then runs alone). A request whose
caller went away (its future cancelled) is skipped, or its answer dropped.

>>> import asyncio, numpy as np
>>> async def demo():
...     batcher = MicroBatcher(lambda items: (np.array(items, float),),
...                            lambda t: t[0][:, None] * 2, max_batch=8, max_wait_ms=5)
...     async with batcher:
...         answers = await asyncio.gather(*(batcher.submit([i, i + 1]) for i in range(3)))
...     return [a.ravel().tolist() for a in answers], batcher.stats.batches
>>> asyncio.run(demo())
([[0.0, 2.0], [2.0, 4.0], [4.0, 6.0]], 1)
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import torch

from rnnlab.errors import InvalidValueError, check_int, check_positive

log = logging.getLogger("rnnlab.serving")

Encode = Callable[[Sequence[Any]], tuple[Any, ...]]
Run = Callable[[tuple[Any, ...]], np.ndarray]


@dataclass
class BatchStats:
    """What the batcher has done so far: batches run, inputs answered, the largest batch."""

    batches: int = 0
    inputs: int = 0
    largest: int = 0
    sizes: collections.Counter = field(default_factory=collections.Counter)

    def record(self, size: int) -> None:
        self.batches += 1
        self.inputs += size
        self.largest = max(self.largest, size)
        self.sizes[size] += 1


@dataclass
class _Entry:
    items: Sequence[Any]
    future: asyncio.Future
    arrived: float


class MicroBatcher:
    """Batch concurrent ``submit`` calls into shared ``run`` calls.

    Args:
        encode: one request's inputs -> a tuple of tensors (or arrays) with the inputs
            along dim 0; it may raise, which fails that request only.
        run: the concatenated tensors of a batch -> one row of results per input.
        max_batch: inputs in one ``run`` (a larger request runs alone, in one call).
        max_wait_ms: the longest a request waits for others to join its batch.

    Use it as ``async with batcher:`` (or ``await start()`` / ``await stop()``) inside
    the event loop that calls ``submit``.
    """

    def __init__(
        self, encode: Encode, run: Run, max_batch: int = 64, max_wait_ms: float = 2.0
    ) -> None:
        self.encode = encode
        self.run = run
        self.max_batch = check_int("max_batch", max_batch, minimum=1)
        self.max_wait = (
            check_positive("max_wait_ms", max_wait_ms, integer=False, allow_zero=True) / 1000
        )
        self.stats = BatchStats()
        self._pending: collections.deque[_Entry] = collections.deque()
        self._pending_inputs = 0
        self._arrived: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._closing = False
        # One thread: torch modules are not meant to run two forwards at once, and
        # one pass at a time is what makes the queue fill while it runs.
        self._thread: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        if self._worker is not None:
            raise InvalidValueError("the batcher is already running")
        self._closing = False
        self._arrived = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnlab-model")
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="rnnlab-batcher")

    async def stop(self) -> None:
        """Answer what is queued, then end the worker and its thread."""
        if self._worker is None:
            return
        self._closing = True
        assert self._arrived is not None
        self._arrived.set()
        try:
            await self._worker
        finally:
            self._worker = None
            assert self._thread is not None
            self._thread.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def submit(self, items: Sequence[Any]) -> np.ndarray:
        """The rows of ``run`` for ``items``, in their order; raises what ``encode`` raised."""
        if not self.running or self._closing:
            raise InvalidValueError("the batcher is not running: start it first")
        if len(items) == 0:
            raise InvalidValueError("no inputs: submit at least one")
        loop = asyncio.get_running_loop()
        entry = _Entry(items, loop.create_future(), loop.time())
        self._pending.append(entry)
        self._pending_inputs += len(items)
        assert self._arrived is not None
        self._arrived.set()
        return await entry.future

    # ------------------------------------------------------------------ worker

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._arrived is not None
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._fill(loop)
            batch = self._take()
            if not batch:
                continue
            try:
                outcomes = await loop.run_in_executor(self._thread, self._process, batch)
            except Exception as exc:  # the worker must outlive any one batch
                log.exception("a batch of %d requests failed", len(batch))
                outcomes = [exc] * len(batch)
            for entry, outcome in zip(batch, outcomes):
                if entry.future.done():  # the caller went away while its batch ran
                    continue
                if isinstance(outcome, BaseException):
                    entry.future.set_exception(outcome)
                else:
                    entry.future.set_result(outcome)

    async def _fill(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait until a batch is full or its oldest request has waited ``max_wait``."""
        assert self._arrived is not None
        deadline = self._pending[0].arrived + self.max_wait
        while self._pending_inputs < self.max_batch and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()
            except TimeoutError:
                return

    def _take(self) -> list[_Entry]:
        """The oldest live requests that fit in one batch (at least one)."""
        batch: list[_Entry] = []
        size = 0
        while self._pending:
            entry = self._pending[0]
            if entry.future.done():  # cancelled before its turn: nothing to compute
                self._pending.popleft()
                self._pending_inputs -= len(entry.items)
                continue
            if batch and size + len(entry.items) > self.max_batch:
                break
            self._pending.popleft()
            self._pending_inputs -= len(entry.items)
            batch.append(entry)
            size += len(entry.items)
        return batch

    def _process(self, batch: list[_Entry]) -> list[Any]:
        """In the model thread: encode each request, run the good ones together, split rows."""
        outcomes: list[Any] = [None] * len(batch)
        encoded: list[tuple[int, tuple[Any, ...]]] = []
        for k, entry in enumerate(batch):
            try:
                encoded.append((k, self.encode(entry.items)))
            except Exception as exc:  # noqa: BLE001 - it belongs to that request alone
                outcomes[k] = exc
        if not encoded:
            return outcomes
        counts = [len(entry.items) for entry in batch]
        joined = tuple(_concat(p) for p in zip(*(tensors for _, tensors in encoded)))
        try:
            rows = np.asarray(self.run(joined))
        except Exception as exc:  # noqa: BLE001 - handed to the requests below
            if len(encoded) == 1:
                outcomes[encoded[0][0]] = exc
                return outcomes
            # One request's inputs can break a pass that the others pass (a model that
            # refuses a value the encoder let through): each runs alone, so only it fails.
            for k, tensors in encoded:
                try:
                    outcomes[k] = np.asarray(self.run(tensors))
                    self.stats.record(counts[k])
                except Exception as alone:  # noqa: BLE001
                    outcomes[k] = alone
            return outcomes
        self.stats.record(sum(counts[k] for k, _ in encoded))
        start = 0
        for k, _ in encoded:
            outcomes[k] = rows[start : start + counts[k]]
            start += counts[k]
        return outcomes


def _concat(parts: Sequence[Any]) -> Any:
    if isinstance(parts[0], torch.Tensor):
        return parts[0] if len(parts) == 1 else torch.cat(list(parts))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
