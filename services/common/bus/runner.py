"""The consume-process-commit loop every service uses.

Decoding failures go to the dead-letter topic with their topic/partition/offset; a batch whose
handler fails is retried item by item, so one poison message cannot stall a partition. A
backend outage (BackendUnavailable: Kafka or Redis unreachable) is not the message's fault: the
whole batch is retried with backoff, never dead-lettered, and stays uncommitted meanwhile. Offsets
are committed only after the handler returns (at-least-once). Setting ``stop`` drains: the
batch in hand is finished and committed before the consumer leaves its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from services.common.bus.base import Bus, Consumer, Record
from services.common.errors import BackendUnavailable
from services.common.logging import log_context
from services.common.observability import Metrics
from services.common.schemas import DeadLetter

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Item(Generic[M]):
    record: Record
    message: M


Handler = Callable[[list[Item[M]]], Awaitable[None]]


@dataclass
class ConsumerLoop(Generic[M]):
    bus: Bus
    consumer: Consumer
    schema: type[M]
    handler: Handler[M]
    dead_letter_topic: str
    group: str
    metrics: Metrics
    max_records: int = 64
    poll_timeout_s: float = 0.5
    retry_backoff_s: float = 0.5
    max_backoff_s: float = 10.0

    def __post_init__(self) -> None:
        self.stop_event = asyncio.Event()
        self.processed = 0
        resets = self.metrics.offset_resets
        self.consumer.on_offset_reset = (
            lambda topic, partition, _old, _new: resets.labels(topic, str(partition)).inc())

    async def run(self) -> None:
        if not await self._start():
            return
        try:
            while not self.stop_event.is_set():
                records = await self.consumer.poll(self.max_records, self.poll_timeout_s)
                if records and await self._process_until_done(records):
                    await self.consumer.commit(records)
                    self.processed += len(records)
        finally:
            await self.consumer.stop()

    def stop(self) -> None:
        self.stop_event.set()

    async def _start(self) -> bool:
        """Start the consumer, waiting out a backend outage; False if stopped first."""
        delay = self.retry_backoff_s
        while not self.stop_event.is_set():
            try:
                await self.consumer.start()
                return True
            except BackendUnavailable as exc:
                log.warning("%s: cannot start consuming yet, retrying in %.1fs: %s",
                            self.group, delay, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), delay)
                delay = min(delay * 2, self.max_backoff_s)
        return False

    async def _process_until_done(self, records: Sequence[Record]) -> bool:
        """Process the batch, waiting out backend outages; False if stopped before done."""
        delay = self.retry_backoff_s
        while True:
            try:
                await self._process(records)
                return True
            except BackendUnavailable as exc:
                self.metrics.consumer_errors.labels(self.group).inc()
                if self.stop_event.is_set():
                    return False  # uncommitted: redelivered to whoever reads next
                log.warning("%s: backend unavailable, retrying %d records in %.1fs: %s",
                            self.group, len(records), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)

    async def _process(self, records: Sequence[Record]) -> None:
        items: list[Item[M]] = []
        for record in records:
            try:
                items.append(Item(record, self.schema.model_validate_json(record.value)))
            except ValidationError as exc:
                await self._dead_letter(record, f"invalid {self.schema.__name__}: {exc}")
        if not items:
            return
        first, last = items[0].record, items[-1].record
        same = all(i.record.partition == first.partition for i in items)
        # A batch's log lines carry its topic, and its partition and offset range when it has
        # one partition; the one-by-one retry below carries each record's own ids.
        try:
            with log_context(group=self.group, topic=first.topic,
                             partition=first.partition if same else None,
                             offset=f"{first.offset}-{last.offset}" if same else None):
                await self.handler(items)
            return
        except BackendUnavailable:
            raise
        except Exception:
            self.metrics.consumer_errors.labels(self.group).inc()
            log.exception("batch of %d failed in %s; retrying one by one", len(items), self.group)
            await asyncio.sleep(self.retry_backoff_s)
        for item in items:
            try:
                with log_context(**_record_fields(item.record), group=self.group):
                    await self.handler([item])
            except BackendUnavailable:
                raise
            except Exception as exc:
                self.metrics.consumer_errors.labels(self.group).inc()
                await self._dead_letter(item.record, f"handler failed: {exc!r}")

    async def _dead_letter(self, record: Record, error: str) -> None:
        log.warning(
            "dead-lettering topic=%s partition=%d offset=%d: %s",
            record.topic, record.partition, record.offset, error[:500],
            extra={**_record_fields(record), "group": self.group},
        )
        letter = DeadLetter(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            error=error[:4000],
            payload=record.value.decode("utf-8", errors="replace")[:100_000],
            consumer_group=self.group,
        )
        await self.bus.publish(self.dead_letter_topic, letter, key=record.key)
        self.metrics.dead_letters.labels(record.topic, self.group).inc()


def _record_fields(record: Record) -> dict[str, object]:
    """Log fields of one record; its key is the document or item id on every alstream topic."""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset,
            "key": record.key}
