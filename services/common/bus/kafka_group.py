"""A member of a Kafka consumer group (Kafka's own group protocol).

Consumers never auto-commit. ``commit`` commits the next offsets of the records the service
finished, and only for partitions this member still owns. On a rebalance a member first waits
(bounded) for its in-flight batch to be committed, so a normal rebalance neither loses nor
redelivers a batch; if the wait times out, the late commit is refused by the broker, we log it,
and the new owner processes those records again (handlers are idempotent).

Offset resets are loud (aiokafka's own ``auto_offset_reset`` is silent, logged at INFO): the
client runs with ``auto_offset_reset="none"`` and this module places every partition itself.
- A partition the group never committed starts at the beginning (``from_beginning``: work
  queues, replays) or the end (broadcasts); that is the first start, not a reset.
- A position outside the log (the records were deleted by retention, or the log was truncated
  below a committed offset) moves to the *nearest* valid offset: the log start when the
  position is below it (only the deleted records are skipped, nothing retained), the log end
  when it is beyond it (nothing there to skip; "earliest" would re-read the whole partition,
  which once produced 1,657 duplicate predictions). Every such move is logged at WARNING with
  group, topic, partition and both offsets, and reported to ``on_offset_reset`` (the
  ``alstream_kafka_offset_resets_total`` metric). The same rule suits every consumer of ours:
  all of them are idempotent and all of them prefer "skip nothing that still exists".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
)

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
            auto_offset_reset="none",  # we place partitions ourselves (module docstring)
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
                committed = await bounded(self.settings, f"the committed offset of {tp}",
                                          consumer.committed(tp))
                if committed is None:
                    await self._place_new(consumer, tp)
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
        try:
            records = await fetch(self._consumer, timeout_s, max_records)
        except (NoOffsetForPartitionError, OffsetOutOfRangeError) as exc:
            await self._place(self._consumer, exc)
            return []
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

    # -- positions ----------------------------------------------------------------------
    async def _place(self, consumer: AIOKafkaConsumer, exc: KafkaError) -> None:
        try:
            if isinstance(exc, NoOffsetForPartitionError):  # assigned, never committed
                await self._place_new(consumer, exc.args[0])
            else:
                for tp, position in exc.args[0].items():
                    await self._reset(consumer, tp, position)
        except (KafkaError, BackendUnavailable) as again:
            # E.g. the partition moved to another member meanwhile, or the broker did not
            # answer: the next fetch raises the same error if it still applies.
            log.warning("could not place %s in %s yet: %r", exc, self.group_id, again)

    async def _place_new(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        """A partition without a committed offset: where this consumer starts by design."""
        if self.from_beginning:
            await bounded(self.settings, f"seeking {tp}", consumer.seek_to_beginning(tp))
        else:
            await bounded(self.settings, f"seeking {tp}", consumer.seek_to_end(tp))

    async def _reset(self, consumer: AIOKafkaConsumer, tp: TopicPartition, position: int) -> None:
        """The fetch position is outside the log: move to the nearest valid offset, loudly."""
        try:
            first = (await bounded(self.settings, f"the log start of {tp}",
                                   consumer.beginning_offsets([tp])))[tp]
            end = (await bounded(self.settings, f"the log end of {tp}",
                                 consumer.end_offsets([tp])))[tp]
        except (KafkaError, BackendUnavailable) as exc:
            log.warning("offset of %s[%d] in %s is out of range at %d and the log bounds are "
                        "unknown (%r); trying again", tp.topic, tp.partition, self.group_id,
                        position, exc)
            consumer.seek(tp, position)
            return
        target = first if position < first else end if position > end else position
        if target == position:  # e.g. a new leader not caught up yet: the same offset again
            log.warning("fetch of %s[%d] at %d in %s was out of range, but the log is [%d, %d) "
                        "now; fetching it again", tp.topic, tp.partition, position,
                        self.group_id, first, end)
        else:
            log.warning("OFFSET RESET in %s: %s[%d] position %d is outside the log [%d, %d); "
                        "continuing at %d (%s)", self.group_id, tp.topic, tp.partition, position,
                        first, end, target,
                        f"{first - position} deleted records skipped" if target == first
                        else "nothing re-read")
            if self.on_offset_reset is not None:
                self.on_offset_reset(tp.topic, tp.partition, position, target)
        consumer.seek(tp, target)

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
