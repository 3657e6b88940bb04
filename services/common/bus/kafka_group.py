"""A member of a Kafka consumer group (``kafka_assignment=group``): Kafka's own protocol.

Consumers never auto-commit. ``commit`` commits the next offsets of the records the service
finished, and only for partitions this member still owns. On a rebalance a member first waits
(bounded) for its in-flight batch to be committed, so a normal rebalance neither loses nor
redelivers a batch; if the wait times out, the late commit is refused by the broker, we log it,
and the new owner processes those records again (handlers are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from services.common.bus.base import Consumer, Record, next_offsets
from services.common.bus.kafka_config import (
    bounded,
    client_options,
    fetch,
    join_timeout_s,
    stop_quietly,
    unavailable,
)
from services.common.errors import BackendUnavailable
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: KafkaConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner._drain({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.owner._on_assigned({(tp.topic, tp.partition) for tp in assigned})


class KafkaConsumer(Consumer):
    """One member of a Kafka consumer group; see the module docstring for commit semantics."""

    def __init__(
        self,
        settings: CommonSettings,
        topics: list[str],
        group_id: str,
        from_beginning: bool,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.from_beginning = from_beginning
        self.drain_timeout_s = drain_timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._inflight: dict[tuple[str, int], int] = {}  # partition -> next offset not committed
        self._committed_event = asyncio.Event()

    async def start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            **client_options(self.settings),
        )
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        try:
            # Returns once the group assigned this member its share; aiokafka would wait for
            # that forever, we give up after join_timeout_s and the caller retries.
            await bounded(self.settings, f"joining group {self.group_id}", consumer.start(),
                          join_timeout_s(self.settings))
            # Resolve positions now: with "latest", a record published after start() returns
            # must be seen, as with the in-process bus.
            for tp in consumer.assignment():
                await bounded(self.settings, f"the position of {tp}", consumer.position(tp))
        except (KafkaError, BackendUnavailable) as exc:
            await stop_quietly(self.settings, consumer, self.group_id)
            if isinstance(exc, BackendUnavailable):
                raise
            raise unavailable(self.settings, f"consumer {self.group_id}", exc) from exc
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            self._inflight.clear()
            self._committed_event.set()  # nothing left to wait for
            await stop_quietly(self.settings, consumer, self.group_id)
            self._assigned = set()

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        if self._consumer is None:
            return []
        records = await fetch(self.settings, self._consumer, timeout_s, max_records)
        for tp, off in next_offsets(records).items():
            self._inflight[tp] = max(self._inflight.get(tp, 0), off)
        if records:
            self._committed_event.clear()
        return records

    async def commit(self, records: Sequence[Record]) -> None:
        if self._consumer is None or not records:
            return
        # Partitions revoked (drained) or reassigned are not ours to commit any more.
        owned = self._assigned & {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        offsets = {tp: o for tp, o in next_offsets(records).items() if tp in owned}
        if offsets:
            try:
                await bounded(self.settings, f"a commit in {self.group_id}", self._consumer.commit(
                    {TopicPartition(t, p): o for (t, p), o in offsets.items()}
                ))
            except (CommitFailedError, IllegalStateError) as exc:
                # The group moved on: these partitions belong to another member now, which
                # starts from the last successful commit and redoes the (idempotent) work.
                log.warning("commit refused after a rebalance in %s: %s", self.group_id, exc)
            except (KafkaError, BackendUnavailable) as exc:
                log.warning("commit failed in %s (records will be read again): %r",
                            self.group_id, exc)
        for tp, off in next_offsets(records).items():
            if self._inflight.get(tp, -1) <= off:
                self._inflight.pop(tp, None)
        if not self._inflight:
            self._committed_event.set()

    def assignment(self) -> set[tuple[str, int]]:
        return set(self._assigned)

    # -- rebalance hooks --------------------------------------------------------------
    async def _drain(self, revoked: set[tuple[str, int]]) -> None:
        """Before giving partitions away, let the batch in hand finish and commit."""
        deadline = time.monotonic() + self.drain_timeout_s
        while revoked & set(self._inflight) and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(
                    self._committed_event.wait(), max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                break
            if revoked & set(self._inflight):
                await asyncio.sleep(0.01)
        for tp in revoked:
            self._inflight.pop(tp, None)  # whatever is left will be redelivered to the new owner
        self._assigned -= revoked

    def _on_assigned(self, assigned: set[tuple[str, int]]) -> None:
        self._assigned = set(assigned)
