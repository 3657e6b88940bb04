"""The outbox relay: publishes the store's labels outbox to the labels topic, in order.

Every request that stored a label event asks for a flush and waits for it, at most ``wait_s``
(so a label is normally on the topic when the request answers, as before the outbox, and a
stuck broker delays answers by ``wait_s``, never by a Kafka timeout per request in a queue);
a loop flushes every ``outbox_interval_s`` as well, which is what re-publishes whatever a
crashed process or a broker outage left behind, starting right after a (re)start. An entry is
removed only after the bus acknowledged it (Kafka ``acks=all``), so a crash in between
publishes it again: at-least-once, and the trainer's fold ignores the late copy
(services/trainer/fold.py).

Order: one relay at a time drains (the store's drain lease), oldest entry first, so the topic
sees changes in the order the store made them. A relay that stalls past its lease (a frozen
process) can overlap with the next one; both then publish in order and the fold's tombstones
keep the model right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.common.aio import cancel_and_wait
from services.common.bus import Bus
from services.common.observability import Metrics
from services.common.schemas import new_id
from services.common.store.outbox import Outbox, OutboxStats

log = logging.getLogger(__name__)


class OutboxMetrics:
    """The outbox's depth and age, for alerting (AlstreamLabelsOutboxStuck)."""

    def __init__(self, metrics: Metrics) -> None:
        self.pending = metrics.gauge(
            "labels_outbox_pending", "Label events stored but not yet acknowledged by the bus")
        self.oldest_age = metrics.gauge(
            "labels_outbox_oldest_age_seconds",
            "Age of the oldest label event waiting in the outbox (0 when none waits)")
        self.published = metrics.counter(
            "labels_outbox_published_total", "Label events published from the outbox")
        self.errors = metrics.counter(
            "labels_outbox_errors_total", "Outbox flushes that failed (retried later)")


class OutboxRelay:
    def __init__(self, outbox: Outbox, bus: Bus, topic: str, metrics: Metrics, *,
                 interval_s: float = 1.0, lease_s: float = 10.0, batch: int = 100,
                 wait_s: float = 5.0) -> None:
        self.outbox = outbox
        self.bus = bus
        self.topic = topic
        self.metrics = OutboxMetrics(metrics)
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.batch = batch
        # How long a request waits for its flush, and a flush for another relay's lease.
        self.wait_s = wait_s
        self.owner = new_id()
        self._lock = asyncio.Lock()  # this process's flushes run one after another
        # Requests count up `_asked`; one background flusher catches up and reports each
        # generation it completed, so concurrent requests share flushes instead of queueing.
        self._asked = self._flushed = 0
        self._progress = asyncio.Condition()
        self._flusher: asyncio.Task[None] | None = None

    def ask(self) -> int:
        """Have the background flusher run a flush that starts after this call (one flusher
        per process: a slow bus makes flushes longer, never more numerous); its goal."""
        self._asked += 1
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._catch_up(), name="outbox-flusher")
        return self._asked

    async def send_soon(self) -> None:
        """For a request that just stored an event: wait until a flush that started after
        this call has run, or ``wait_s`` has passed. Never raises: the event is stored."""
        goal = self.ask()
        async with self._progress:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self._flushed >= goal), self.wait_s)

    async def _catch_up(self) -> None:
        while self._flushed < self._asked:
            goal = self._asked
            await self.flush()
            async with self._progress:
                self._flushed = goal
                self._progress.notify_all()

    async def flush(self) -> int:
        """Publish everything pending, oldest first; returns how many entries were published.

        Never raises: the events are stored, so a bus or store failure only delays them until
        the next flush (logged and counted in labels_outbox_errors_total)."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.wait_s
            pause = 0.01  # backing off: many replicas must not hammer the store meanwhile
            try:
                while not await self.outbox.claim(self.owner, self.lease_s):
                    if loop.time() >= deadline:
                        return 0  # another relay is draining; it publishes ours too
                    await asyncio.sleep(pause)
                    pause = min(2 * pause, 0.25)
            except Exception as exc:  # the store is down: retried next flush
                self._failed(exc)
                return 0
            try:
                return await self._drain()
            except Exception as exc:  # bus or store trouble of any kind
                self._failed(exc)
                return 0
            finally:
                with contextlib.suppress(Exception):
                    await self.outbox.release(self.owner)

    def _failed(self, exc: BaseException) -> None:
        self.metrics.errors.inc()
        log.warning("labels outbox flush failed, retried in %.1f s: %r", self.interval_s, exc)

    async def _drain(self) -> int:
        sent = 0
        batch = await self.outbox.pending(self.batch)
        while batch:
            await self.bus.publish_many(self.topic, [(e.key, e.value) for e in batch])
            await self.outbox.done([e.id for e in batch])  # only after the ack
            sent += len(batch)
            self.metrics.published.inc(len(batch))
            if len(batch) < self.batch or not await self.outbox.claim(self.owner, self.lease_s):
                break  # all of it, or the lease is lost: its new holder carries on in order
            batch = await self.outbox.pending(self.batch)
        return sent

    async def refresh(self) -> OutboxStats:
        stats = await self.outbox.stats()
        self.metrics.pending.set(stats.pending)
        self.metrics.oldest_age.set(stats.oldest_age_s or 0.0)
        return stats

    async def run(self, stop: asyncio.Event) -> None:
        """Flush at start (what a crash left), then every interval, and once more on stop."""
        while not stop.is_set():
            self.ask()  # not awaited: a flush stuck on the bus must not hold up the stop
            with contextlib.suppress(Exception):  # a gauge must not end the loop
                await self.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
        if self._flusher is not None and not self._flusher.done():
            # Let a flush in progress finish; one stuck on the bus leaves its entries stored.
            await asyncio.wait({self._flusher}, timeout=self.wait_s)
            await cancel_and_wait(self._flusher, timeout_s=5.0)
        # What the last requests stored; bounded, so a stuck bus cannot hold up the stop (an
        # interrupted flush leaves its entries stored, or published and sent again later).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), self.wait_s)
