"""The outbox relay: publishes the store's labels outbox to the labels topic, in order.

Every request that stored a label event flushes at once (so a label is normally on the topic
when the request answers, as before the outbox); a loop flushes every ``outbox_interval_s``
as well, which is what re-publishes whatever a crashed process or a broker outage left behind,
starting right after a (re)start. An entry is removed only after the bus acknowledged it (Kafka
``acks=all``), so a crash in between publishes it again: at-least-once, and the trainer's fold
ignores the late copy (services/trainer/fold.py).

Order: one relay at a time drains (the store's drain lease), oldest entry first, so the topic
sees changes in the order the store made them. A relay that stalls past its lease (a frozen
process) can overlap with the next one; both then publish in order and the fold's tombstones
keep the model right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

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
                 wait_s: float = 2.0) -> None:
        self.outbox = outbox
        self.bus = bus
        self.topic = topic
        self.metrics = OutboxMetrics(metrics)
        self.interval_s = interval_s
        self.lease_s = lease_s
        self.batch = batch
        self.wait_s = wait_s  # how long a request's flush waits for another relay's lease
        self.owner = new_id()
        self._lock = asyncio.Lock()  # this process's flushes run one after another

    async def flush(self) -> int:
        """Publish everything pending, oldest first; returns how many entries were published.

        Never raises: the events are stored, so a bus or store failure only delays them until
        the next flush (logged and counted in labels_outbox_errors_total)."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.wait_s
            try:
                while not await self.outbox.claim(self.owner, self.lease_s):
                    if loop.time() >= deadline:
                        return 0  # another relay is draining; it publishes ours too
                    await asyncio.sleep(0.02)
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
        while True:
            await self.flush()
            with contextlib.suppress(Exception):  # a gauge must not end the loop
                await self.refresh()
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
