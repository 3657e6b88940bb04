"""One dynamic micro-batcher in front of the encoder, shared by the stream and /classify.

Modelled on Hugging Face text-embeddings-inference (TEI): texts are tokenized once when they
are submitted, wait in a bounded queue, and a single batching task packs them into batches
capped by a padded-token budget and a batch size. While the model runs batch N on its own
thread, batch N+1 is assembled and padded; it is sealed when it is full, or when the model is
free and its oldest text has waited ``max_wait_s``. Torch / ONNX Runtime never run on the event
loop.

Two lanes share the model. ``interactive`` (/classify, /similar) has priority in every batch and
is refused with ``Overloaded`` (HTTP 429) when its queue is full, so a caller can retry
elsewhere. ``stream`` (the Kafka consumer) waits for room instead: backpressure, so the consumer
stops polling rather than buffering without bound. Separate capacities keep a saturated stream
from turning every /classify into a 429.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from services.common.aio import cancel_and_wait
from services.common.encoding import Encoder
from services.common.errors import BackendUnavailable, Overloaded
from services.scorer.batching import (
    INTERACTIVE,
    STREAM,
    TOKENIZE_GRACE_S,
    BatcherMetrics,
    Entry,
    Lane,
    chunks,
    fail,
)

__all__ = ["INTERACTIVE", "STREAM", "BatcherMetrics", "MicroBatcher"]

log = logging.getLogger(__name__)


class MicroBatcher:
    """``encode(texts, interactive=...)`` from any coroutine; ``start``/``stop`` by the owner."""

    def __init__(
        self,
        encoder: Encoder,
        max_batch_tokens: int = 8192,
        max_batch_size: int = 64,
        max_wait_s: float = 0.002,
        interactive_capacity: int = 256,
        stream_capacity: int = 256,
        tokenize_chunk: int = 16,
        metrics: BatcherMetrics | None = None,
    ) -> None:
        if min(max_batch_tokens, max_batch_size, interactive_capacity, stream_capacity) < 1:
            raise ValueError("batch limits and queue capacities must be >= 1")
        self.encoder = encoder
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.tokenize_chunk = tokenize_chunk
        self.metrics = metrics
        self._lanes = {INTERACTIVE: Lane(INTERACTIVE, interactive_capacity),
                       STREAM: Lane(STREAM, stream_capacity)}
        self._arrived = asyncio.Event()
        self._freed = asyncio.Event()
        self._held: list[Entry] = []  # taken from the queue, result not yet delivered
        self._task: asyncio.Task[None] | None = None
        self._tokenizer: ThreadPoolExecutor | None = None
        self._prep: ThreadPoolExecutor | None = None
        self._model: ThreadPoolExecutor | None = None
        self.batches = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        # One thread each: the model already uses every core for one batch, and the tokenizer
        # is serialized by its own lock. Padding has a thread of its own so that the next
        # batch is never stuck behind a backlog of texts waiting to be tokenized.
        self._tokenizer = ThreadPoolExecutor(1, thread_name_prefix="batcher-tokenize")
        self._prep = ThreadPoolExecutor(1, thread_name_prefix="batcher-pad")
        self._model = ThreadPoolExecutor(1, thread_name_prefix="batcher-model")
        self._task = asyncio.create_task(self._loop(), name="micro-batcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        stopped = BackendUnavailable("the encoder was stopped")
        fail(self._held, stopped)
        self._held = []
        for lane in self._lanes.values():
            fail(list(lane.entries), stopped)
            lane.entries.clear()
        for pool in (self._tokenizer, self._prep, self._model):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._tokenizer = self._prep = self._model = None
        self._update_depth()
        self._freed.set()  # wakes stream callers waiting for room, who then see the stop

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def depth(self, lane: str) -> int:
        return self._lanes[lane].depth

    # -- submission --------------------------------------------------------------------------
    async def encode(self, texts: list[str], *, interactive: bool = False) -> np.ndarray:
        """Embeddings for ``texts`` (rows in order). Interactive callers get ``Overloaded``
        when the queue is full; stream callers wait for room."""
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        if not self.running:
            raise BackendUnavailable("the encoder is not running")
        lane = self._lanes[INTERACTIVE if interactive else STREAM]
        futures: list[asyncio.Future[np.ndarray]] = []
        try:
            if interactive:
                self._admit_now(lane, len(texts))
                futures += await self._enqueue(lane, texts)
            else:
                for chunk in chunks(texts, min(self.tokenize_chunk, lane.capacity)):
                    await self._admit_when_room(lane, len(chunk))
                    futures += await self._enqueue(lane, chunk)
            rows = [await fut for fut in futures]
        except BaseException:
            for fut in futures:
                if not fut.done():
                    fut.cancel()  # a cancelled caller's texts are skipped, not encoded
                elif not fut.cancelled():
                    fut.exception()  # retrieved: one failure is reported once, not per text
            raise
        return np.stack(rows).astype(np.float32, copy=False)

    def _admit_now(self, lane: Lane, n: int) -> None:
        if lane.depth + n > lane.capacity:
            if self.metrics:
                self.metrics.rejected.labels(lane.name).inc()
            raise Overloaded(
                f"scorer is overloaded: {lane.depth} of {lane.capacity} {lane.name} queue "
                f"slots in use, {n} requested; retry shortly"
            )
        lane.reserved += n

    async def _admit_when_room(self, lane: Lane, n: int) -> None:
        while lane.depth + n > lane.capacity:
            self._freed.clear()
            await self._freed.wait()
            if not self.running:
                raise BackendUnavailable("the encoder was stopped")
        lane.reserved += n

    async def _enqueue(self, lane: Lane, texts: list[str]) -> list[asyncio.Future[np.ndarray]]:
        loop = asyncio.get_running_loop()
        if self._tokenizer is None:
            raise BackendUnavailable("the encoder was stopped")
        try:
            items = await loop.run_in_executor(self._tokenizer, self.encoder.tokenize, texts)
        except asyncio.CancelledError:
            # stop() cancels queued tokenizer jobs: that is the encoder going away, not this
            # caller being cancelled, and the caller must hear it as such.
            task = asyncio.current_task()
            if not self.running and task is not None and not task.cancelling():
                raise BackendUnavailable("the encoder was stopped") from None
            raise
        finally:
            lane.reserved -= len(texts)
        if not self.running:  # stopped while this chunk was being tokenized
            raise BackendUnavailable("the encoder was stopped")
        now = time.perf_counter()
        futures: list[asyncio.Future[np.ndarray]] = []
        for item in items:
            fut: asyncio.Future[np.ndarray] = loop.create_future()
            lane.entries.append(Entry(item, fut, now, lane.name))
            futures.append(fut)
        self._update_depth()
        self._arrived.set()
        return futures

    # -- batching ----------------------------------------------------------------------------
    def _queued(self) -> Iterator[Entry]:
        yield from self._lanes[INTERACTIVE].entries
        yield from self._lanes[STREAM].entries

    def _plan(self) -> tuple[int, bool]:
        """How many queued entries the next batch takes, and whether that batch is full.

        The budget counts padded tokens (texts x longest), what the model actually computes.
        """
        taken, live, longest = 0, 0, 0
        for entry in self._queued():
            if entry.future.done():  # cancelled while queued: taken and dropped, costs nothing
                taken += 1
                continue
            width = max(longest, entry.item.n_tokens)
            if live and ((live + 1) * width > self.max_batch_tokens
                         or live >= self.max_batch_size):
                return taken, True
            taken, live, longest = taken + 1, live + 1, width
        return taken, live >= self.max_batch_size

    async def _collect(self, running: asyncio.Task[None] | None) -> list[Entry]:
        while True:
            self._arrived.clear()
            n, full = self._plan()
            idle = running is None or running.done()
            due = min((e.enqueued for e in self._queued()), default=0.0) + self.max_wait_s
            if any(lane.reserved for lane in self._lanes.values()):
                # Texts already admitted are still being tokenized: sealing now would cut a
                # stream poll in half-size batches. They land within milliseconds.
                due += TOKENIZE_GRACE_S
            if n and (full or (idle and time.perf_counter() >= due)):
                batch = self._take(n)
                if batch:
                    return batch
                continue
            waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._arrived.wait())}
            if running is not None and not idle:
                waits.add(running)
            timeout = max(0.0, due - time.perf_counter()) if (n and idle) else None
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    if w is not running:
                        w.cancel()

    def _take(self, n: int) -> list[Entry]:
        batch: list[Entry] = []
        for lane in self._lanes.values():
            while n and lane.entries:
                entry = lane.entries.popleft()
                n -= 1
                if not entry.future.done():
                    batch.append(entry)
        self._held.extend(batch)
        self._update_depth()
        self._freed.set()
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        running: asyncio.Task[None] | None = None
        try:
            while True:
                batch = await self._collect(running)
                now = time.perf_counter()
                if self.metrics:
                    for entry in batch:
                        self.metrics.queue_wait.labels(entry.lane).observe(now - entry.enqueued)
                prepared: Any = None
                if running is not None and not running.done():
                    # Prefetch: pad batch N+1 on its own thread while the model runs batch N.
                    try:
                        prepared = await loop.run_in_executor(
                            self._prep, self.encoder.collate, [e.item for e in batch]
                        )
                    except Exception as exc:
                        self._deliver(batch, exc)
                        continue
                    await running  # batch N finishes before N+1 starts; _execute never raises
                running = asyncio.create_task(self._execute(batch, prepared))
        finally:
            if running is not None and not running.done():
                running.cancel()

    async def _execute(self, batch: list[Entry], prepared: Any) -> None:
        """Run a padded batch, or pad and run in one go (one thread hop less) when the model
        was idle and nothing could be prepared ahead."""
        started = time.perf_counter()
        items = [e.item for e in batch]

        def work() -> np.ndarray:
            return self.encoder.run(self.encoder.collate(items) if prepared is None else prepared)

        try:
            vectors = await asyncio.get_running_loop().run_in_executor(self._model, work)
            if len(vectors) != len(batch):
                raise RuntimeError(f"encoder returned {len(vectors)} rows for {len(batch)} texts")
        except Exception as exc:
            log.exception("encoder failed on a batch of %d", len(batch))
            self._deliver(batch, exc)
            return
        self.batches += 1
        if self.metrics:
            width = max(e.item.n_tokens for e in batch)
            self.metrics.encode_seconds.observe(time.perf_counter() - started)
            self.metrics.batch_size.observe(len(batch))
            self.metrics.batch_tokens.observe(len(batch) * width)
        self._deliver(batch, vectors)

    def _deliver(self, batch: list[Entry], result: np.ndarray | BaseException) -> None:
        held = {id(e) for e in batch}
        self._held = [e for e in self._held if id(e) not in held]
        if isinstance(result, BaseException):
            fail(batch, result)
            return
        for entry, row in zip(batch, result, strict=True):
            if not entry.future.done():
                entry.future.set_result(row)

    def _update_depth(self) -> None:
        if self.metrics:
            for lane in self._lanes.values():
                self.metrics.queue_depth.labels(lane.name).set(lane.depth)
