"""The micro-batcher: shared passes, answers to the right request, isolation of failures."""

import asyncio
import threading
import time

import numpy as np
import pytest

from rnnlab.errors import DataError, InvalidValueError
from rnnlab.serving.batcher import MicroBatcher


class Model:
    """A stand-in model: row i of a batch is [item, 10 * item]; it records each batch."""

    def __init__(self, delay=0.0, refuse=None, crash_on=None):
        self.delay, self.refuse, self.crash_on = delay, refuse, crash_on
        self.batches = []
        self.starts = []
        self.threads = set()

    def encode(self, items):
        if self.refuse is not None and self.refuse in items:
            raise DataError(f"cannot read {self.refuse}")
        return (np.array(items, dtype=float),)

    def run(self, tensors):
        (x,) = tensors
        self.threads.add(threading.current_thread().name)
        self.starts.append(time.perf_counter())
        self.batches.append(x.tolist())
        if self.crash_on is not None and self.crash_on in x:
            raise RuntimeError(f"the model breaks on {self.crash_on}")
        time.sleep(self.delay)
        return np.stack([x, 10 * x], axis=1)


def batcher_for(model, **kwargs):
    return MicroBatcher(model.encode, model.run, **kwargs)


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_passes_and_get_their_own_rows_in_order():
    model = Model(delay=0.01)

    async def main():
        async with batcher_for(model, max_batch=16, max_wait_ms=5) as batcher:
            requests = [[float(i), float(i) + 0.5] for i in range(40)]
            answers = await asyncio.gather(*(batcher.submit(r) for r in requests))
            return requests, answers, batcher.stats

    requests, answers, stats = run(main())
    for items, rows in zip(requests, answers):
        assert rows.tolist() == [[x, 10 * x] for x in items]
    sizes = [len(b) for b in model.batches]
    assert sum(sizes) == 80 and max(sizes) == 16 and len(sizes) == 5  # 8 requests a pass
    assert stats.batches == 5 and stats.inputs == 80 and stats.largest == 16


def test_max_batch_one_runs_one_request_per_pass():
    model = Model()

    async def main():
        async with batcher_for(model, max_batch=1, max_wait_ms=0) as batcher:
            await asyncio.gather(*(batcher.submit([float(i)]) for i in range(6)))

    run(main())
    assert [len(b) for b in model.batches] == [1] * 6


def test_a_request_larger_than_max_batch_runs_alone_in_one_pass():
    model = Model()

    async def main():
        async with batcher_for(model, max_batch=4, max_wait_ms=1) as batcher:
            return await asyncio.gather(batcher.submit([1.0] * 10), batcher.submit([2.0]))

    big, small = run(main())
    assert big.shape == (10, 2) and small.tolist() == [[2.0, 20.0]]
    assert sorted(len(b) for b in model.batches) == [1, 10]


def test_a_lone_request_waits_at_most_about_max_wait():
    model = Model()

    async def main():
        async with batcher_for(model, max_batch=64, max_wait_ms=30) as batcher:
            start = time.perf_counter()
            await batcher.submit([1.0])
            return time.perf_counter() - start

    waited = run(main())
    assert 0.025 <= waited < 1.0  # it waited for company, then went alone


def test_requests_queued_during_a_pass_go_without_waiting_again():
    # The wait counts from the oldest request's arrival: under load there is no extra delay.
    model = Model(delay=0.3)

    async def main():
        async with batcher_for(model, max_batch=64, max_wait_ms=200) as batcher:
            first = asyncio.ensure_future(batcher.submit([1.0]))
            await asyncio.sleep(0.25)  # the first pass has left (200 ms) and runs (300 ms)
            later = await asyncio.gather(*(batcher.submit([2.0]) for _ in range(3)))
            await first
            return later

    later = run(main())
    assert len(later) == 3 and [len(b) for b in model.batches] == [1, 3]
    # They had waited 250 ms of their 200 when the first pass ended: no new wait.
    idle = model.starts[1] - (model.starts[0] + model.delay)
    assert idle < 0.1, idle


def test_an_input_the_encoder_refuses_fails_only_its_request():
    model = Model(refuse=7.0)

    async def main():
        async with batcher_for(model, max_batch=16, max_wait_ms=5) as batcher:
            return await asyncio.gather(
                batcher.submit([1.0]),
                batcher.submit([7.0, 2.0]),
                batcher.submit([3.0]),
                return_exceptions=True,
            )

    one, bad, three = run(main())
    assert isinstance(bad, DataError) and "cannot read 7.0" in str(bad)
    assert one.tolist() == [[1.0, 10.0]] and three.tolist() == [[3.0, 30.0]]
    assert model.batches == [[1.0, 3.0]]


def test_a_pass_that_fails_on_one_request_is_rerun_request_by_request():
    model = Model(crash_on=5.0)

    async def main():
        async with batcher_for(model, max_batch=16, max_wait_ms=5) as batcher:
            answers = await asyncio.gather(
                batcher.submit([1.0]),
                batcher.submit([5.0]),
                batcher.submit([2.0]),
                return_exceptions=True,
            )
            after = await batcher.submit([3.0])  # the worker lives on
            return answers, after

    (one, bad, two), after = run(main())
    assert isinstance(bad, RuntimeError)
    assert one.tolist() == [[1.0, 10.0]] and two.tolist() == [[2.0, 20.0]]
    assert after.tolist() == [[3.0, 30.0]]
    assert model.batches[0] == [1.0, 5.0, 2.0] and model.batches[1:4] == [[1.0], [5.0], [2.0]]


def test_a_caller_that_went_away_does_not_break_the_batcher():
    model = Model(delay=0.2)

    async def main():
        async with batcher_for(model, max_batch=8, max_wait_ms=50) as batcher:
            # Cancelled while waiting for company: never computed.
            early = asyncio.ensure_future(batcher.submit([1.0]))
            await asyncio.sleep(0.005)
            early.cancel()
            # Cancelled while its batch runs (from 55 to 255 ms): its answer is dropped.
            running = asyncio.ensure_future(batcher.submit([2.0]))
            await asyncio.sleep(0.15)
            running.cancel()
            answers = await asyncio.gather(*(batcher.submit([float(i)]) for i in range(3, 6)))
            return early, running, answers

    early, running, answers = run(main())
    assert early.cancelled() and running.cancelled()
    assert [a.tolist() for a in answers] == [[[3.0, 30.0]], [[4.0, 40.0]], [[5.0, 50.0]]]
    assert model.batches == [[2.0], [3.0, 4.0, 5.0]]


def test_the_model_runs_in_one_thread_off_the_event_loop():
    model = Model()

    async def main():
        async with batcher_for(model, max_batch=2, max_wait_ms=0) as batcher:
            await asyncio.gather(*(batcher.submit([float(i)]) for i in range(6)))

    run(main())
    assert len(model.threads) == 1 and threading.main_thread().name not in model.threads


def test_stop_answers_what_is_queued():
    model = Model(delay=0.02)

    async def main():
        batcher = batcher_for(model, max_batch=2, max_wait_ms=50)
        await batcher.start()
        pending = [asyncio.ensure_future(batcher.submit([float(i)])) for i in range(5)]
        await asyncio.sleep(0)
        await batcher.stop()
        return [p.result().tolist() for p in pending], batcher.running

    answers, running = run(main())
    assert answers == [[[float(i), 10.0 * i]] for i in range(5)] and not running


def test_submit_needs_a_running_batcher_and_at_least_one_input():
    model = Model()

    async def main():
        batcher = batcher_for(model)
        with pytest.raises(InvalidValueError, match="not running"):
            await batcher.submit([1.0])
        async with batcher:
            with pytest.raises(InvalidValueError, match="at least one"):
                await batcher.submit([])

    run(main())


def test_settings_are_checked():
    with pytest.raises(InvalidValueError, match="max_batch"):
        MicroBatcher(len, len, max_batch=0)
    with pytest.raises(InvalidValueError, match="max_wait_ms"):
        MicroBatcher(len, len, max_wait_ms=-1)
