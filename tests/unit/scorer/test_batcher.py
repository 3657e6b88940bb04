from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from services.common.errors import BackendUnavailable, Overloaded
from services.common.observability import Metrics
from services.scorer.batcher import INTERACTIVE, STREAM, BatcherMetrics, MicroBatcher
from tests.fakes import HashingEncoder


class GatedEncoder(HashingEncoder):
    """HashingEncoder whose model step blocks until ``gate`` is set, and logs every step."""

    def __init__(self) -> None:
        super().__init__(dim=16)
        self.gate = threading.Event()
        self.gate.set()
        self.events: list[str] = []
        self.batches: list[list[str]] = []

    def collate(self, items: list[Any]) -> Any:
        self.events.append(f"collate:{len(items)}")
        return super().collate(items)

    def run(self, batch: Any) -> np.ndarray:
        self.events.append("run:start")
        self.batches.append(list(batch))
        if not self.gate.wait(timeout=10):
            raise TimeoutError("test gate never opened")
        if "boom" in batch:
            raise RuntimeError("model exploded")
        out = self.encode(list(batch))
        self.events.append("run:end")
        return out


@pytest.fixture
def fake() -> GatedEncoder:
    return GatedEncoder()


@pytest.fixture
async def make(fake):
    made: list[MicroBatcher] = []

    async def build(**kwargs: Any) -> MicroBatcher:
        b = MicroBatcher(fake, **kwargs)
        await b.start()
        made.append(b)
        return b

    yield build
    fake.gate.set()
    for b in made:
        await b.stop()


async def until(predicate, within_s: float = 3.0) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_results_match_the_encoder_row_for_row(make, fake):
    batcher = await make()
    texts = [f"doc {i} about topic {i % 3}" for i in range(40)]
    parts = await asyncio.gather(
        batcher.encode(texts[:25]),
        *(batcher.encode([t], interactive=True) for t in texts[25:]),
    )
    got = np.concatenate(parts)
    assert got.dtype == np.float32 and got.shape == (40, 16)
    np.testing.assert_allclose(got, HashingEncoder(dim=16).encode(texts), rtol=1e-6)
    assert (await batcher.encode([])).shape == (0, 16)


async def test_concurrent_requests_share_batches(make, fake):
    batcher = await make(max_wait_s=0.05)
    fake.gate.clear()
    first = asyncio.create_task(batcher.encode(["warm up"], interactive=True))
    await until(lambda: fake.batches)  # the model is busy with one text
    rest = [asyncio.create_task(batcher.encode([f"q {i}"], interactive=True)) for i in range(20)]
    await until(lambda: batcher.depth(INTERACTIVE) == 20)
    fake.gate.set()
    await asyncio.gather(first, *rest)
    assert sorted(len(b) for b in fake.batches) == [1, 20]


async def test_batches_respect_the_padded_token_budget_and_size(make, fake):
    batcher = await make(max_batch_tokens=24, max_batch_size=5)
    fake.gate.clear()
    texts = [" ".join(["w"] * n) for n in (1, 1, 1, 1, 1, 1, 1, 6, 6, 2, 10, 1)]
    task = asyncio.create_task(batcher.encode(texts))
    await until(lambda: fake.batches)
    fake.gate.set()
    await task
    assert sum(len(b) for b in fake.batches) == len(texts)
    for batch in fake.batches:
        tokens = fake.count_tokens(batch)
        assert len(batch) <= 5
        assert len(batch) == 1 or len(batch) * max(tokens) <= 24


async def test_next_batch_is_prepared_while_the_model_runs(make, fake):
    batcher = await make(max_batch_size=2)
    fake.gate.clear()
    task = asyncio.create_task(batcher.encode(["a", "b", "c", "d"]))
    await until(lambda: fake.events.count("collate:2") == 2)
    # Batch 2 is padded and waiting while batch 1 is still stuck in the model.
    assert sorted(fake.events) == ["collate:2", "collate:2", "run:start"]
    fake.gate.set()
    await task
    assert fake.events[-2:] == ["run:start", "run:end"]


async def test_interactive_texts_go_first(make, fake):
    batcher = await make(max_batch_size=4, max_wait_s=0.0)
    fake.gate.clear()
    stream = asyncio.create_task(batcher.encode([f"s{i}" for i in range(10)]))
    await until(lambda: fake.batches)
    ask = asyncio.create_task(batcher.encode(["urgent"], interactive=True))
    await until(lambda: batcher.depth(INTERACTIVE) == 0 and len(fake.events) >= 3)
    fake.gate.set()
    await asyncio.gather(stream, ask)
    assert fake.batches[2][0] == "urgent"  # first after the running and the prefetched batch


async def test_full_interactive_queue_is_refused_and_counted(fake):
    metrics = Metrics()
    batcher = MicroBatcher(fake, max_batch_size=1, interactive_capacity=2,
                           metrics=BatcherMetrics(metrics))
    await batcher.start()
    fake.gate.clear()
    try:
        held = [asyncio.create_task(batcher.encode(["t0"], interactive=True))]
        await until(lambda: len(fake.batches) == 1)  # in the model
        held.append(asyncio.create_task(batcher.encode(["t1"], interactive=True)))
        await until(lambda: fake.events.count("collate:1") == 2)  # prefetched
        held += [asyncio.create_task(batcher.encode([f"t{i}"], interactive=True))
                 for i in (2, 3)]  # queued: the queue is now full
        await until(lambda: batcher.depth(INTERACTIVE) == 2)
        with pytest.raises(Overloaded, match="overloaded"):
            await batcher.encode(["one too many"], interactive=True)
        rejected = metrics.registry.get_sample_value(
            "alstream_scorer_batch_rejected_total", {"lane": "interactive"})
        assert rejected == 1
        fake.gate.set()
        assert all(r.shape == (1, 16) for r in await asyncio.gather(*held))
        sizes = metrics.registry.get_sample_value("alstream_scorer_batch_size_count")
        assert sizes == 4
    finally:
        fake.gate.set()
        await batcher.stop()


async def test_stream_waits_for_room_instead_of_buffering(make, fake):
    batcher = await make(max_batch_size=2, stream_capacity=4, tokenize_chunk=2)
    fake.gate.clear()
    texts = [f"stream {i}" for i in range(30)]
    task = asyncio.create_task(batcher.encode(texts))
    await until(lambda: batcher.depth(STREAM) == 4)
    await asyncio.sleep(0.05)
    assert not task.done() and batcher.depth(STREAM) <= 4  # bounded while the model is stuck
    fake.gate.set()
    np.testing.assert_allclose(await task, HashingEncoder(dim=16).encode(texts), rtol=1e-6)


async def test_a_failing_batch_fails_only_its_callers(make, fake):
    batcher = await make(max_wait_s=0.05)
    fake.gate.clear()
    warm = asyncio.create_task(batcher.encode(["first"], interactive=True))
    await until(lambda: fake.batches)
    bad = asyncio.create_task(batcher.encode(["boom"], interactive=True))
    good = asyncio.create_task(batcher.encode(["fine", "also fine"]))
    await until(lambda: len(fake.events) >= 2)
    fake.gate.set()
    await warm
    with pytest.raises(RuntimeError, match="exploded"):
        await bad
    with pytest.raises(RuntimeError, match="exploded"):
        await good  # shared the batch with "boom"
    assert (await batcher.encode(["after"], interactive=True)).shape == (1, 16)


async def test_cancelled_caller_is_not_encoded(make, fake):
    batcher = await make(max_batch_size=1)
    fake.gate.clear()
    first = asyncio.create_task(batcher.encode(["first"], interactive=True))
    second = asyncio.create_task(batcher.encode(["prefetched"], interactive=True))
    gone = asyncio.create_task(batcher.encode(["gone"], interactive=True))
    await until(lambda: batcher.depth(INTERACTIVE) == 1)
    gone.cancel()
    fake.gate.set()
    await asyncio.gather(first, second)
    last = await batcher.encode(["last"], interactive=True)
    assert last.shape == (1, 16)
    assert ["gone"] not in fake.batches


async def test_stop_fails_waiters_and_refuses_new_work(fake):
    batcher = MicroBatcher(fake, max_batch_size=1, stream_capacity=1, tokenize_chunk=1)
    await batcher.start()
    fake.gate.clear()
    task = asyncio.create_task(batcher.encode(["a", "b", "c", "d"]))
    await until(lambda: batcher.depth(STREAM) == 1)
    await batcher.stop()
    fake.gate.set()
    with pytest.raises(BackendUnavailable):
        await task
    with pytest.raises(BackendUnavailable, match="not running"):
        await batcher.encode(["late"], interactive=True)


class BlockingTokenizer(GatedEncoder):
    """Tokenizing a text that contains "slow" blocks until ``tokenize_gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.tokenize_gate = threading.Event()
        self.entered = threading.Event()

    def tokenize(self, texts: list[str]) -> list[Any]:
        if any("slow" in t for t in texts):
            self.entered.set()
            self.tokenize_gate.wait(timeout=10)
        return super().tokenize(texts)


async def test_stop_during_tokenizing_is_reported_as_unavailable_not_cancelled():
    # Regression: stop() cancels queued tokenizer jobs; the waiting caller used to see a bare
    # CancelledError (as if it had been cancelled itself) instead of BackendUnavailable.
    slow = BlockingTokenizer()
    batcher = MicroBatcher(slow, tokenize_chunk=1)
    await batcher.start()
    in_thread = asyncio.create_task(batcher.encode(["slow"]))
    await until(slow.entered.is_set)
    queued = asyncio.create_task(batcher.encode(["queued behind it"]))
    await asyncio.sleep(0.05)  # its tokenizer job now waits in the executor's queue
    await batcher.stop()
    slow.tokenize_gate.set()
    for task in (queued, in_thread):
        with pytest.raises(BackendUnavailable, match="stopped"):
            await task


def test_limits_are_validated(fake):
    with pytest.raises(ValueError, match=">= 1"):
        MicroBatcher(fake, stream_capacity=0)


class SlowTokenizer(GatedEncoder):
    def tokenize(self, texts: list[str]) -> Any:
        time.sleep(0.02)  # long enough for the 2 ms linger to expire mid-submission
        return super().tokenize(texts)


async def test_a_stream_poll_is_not_cut_into_half_batches():
    fake = SlowTokenizer()
    batcher = MicroBatcher(fake, max_batch_size=32, tokenize_chunk=8, max_wait_s=0.002)
    await batcher.start()
    try:
        await batcher.encode([f"doc {i}" for i in range(32)])
    finally:
        await batcher.stop()
    assert [len(b) for b in fake.batches] == [32]
