"""In-process bus with Kafka's semantics: partitions by key, groups, explicit commits.

Used by the embedded stack and the unit tests. It keeps everything in memory, so a process
restart loses it; the production path uses Kafka.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence

from pydantic import BaseModel

from services.common.bus.base import Bus, Consumer, Record, encode_value, next_offsets
from services.common.topics import Topics


def partition_for(key: str | None, partitions: int, counter: int) -> int:
    # Keyed records stick to a partition (ordering per key); unkeyed ones spread round-robin.
    if key is None:
        return counter % partitions
    return zlib.crc32(key.encode()) % partitions


class _Group:
    def __init__(self) -> None:
        self.committed: dict[tuple[str, int], int] = {}
        self.members: list[MemoryConsumer] = []


class MemoryBus(Bus):
    def __init__(self, partitions: int = 3) -> None:
        self.partitions = partitions
        self._logs: dict[str, list[list[Record]]] = {}
        self._groups: dict[str, _Group] = {}
        self._changed = asyncio.Condition()
        self._counter = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ensure_topics(self, topics: Topics) -> None:
        for name in topics.all():
            self._topic(name, topics.partitions(name, self.partitions))

    def _topic(self, name: str, partitions: int | None = None) -> list[list[Record]]:
        if name not in self._logs:
            self._logs[name] = [[] for _ in range(partitions or self.partitions)]
        return self._logs[name]

    async def publish(self, topic: str, value: BaseModel | bytes, key: str | None = None) -> None:
        await self.publish_many(topic, [(key, value)])

    async def publish_many(
        self, topic: str, items: Sequence[tuple[str | None, BaseModel | bytes]]
    ) -> None:
        log = self._topic(topic)
        now = int(time.time() * 1000)
        for key, value in items:
            self._counter += 1
            p = partition_for(key, len(log), self._counter)
            log[p].append(Record(topic, p, len(log[p]), key, encode_value(value), now))
        async with self._changed:
            self._changed.notify_all()

    def consumer(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = True,
        fetch_wait_ms: int | None = None,
    ) -> MemoryConsumer:
        return MemoryConsumer(self, list(topics), group_id, from_beginning)

    # -- group coordination -------------------------------------------------------------
    def _join(self, member: MemoryConsumer) -> None:
        group = self._groups.setdefault(member.group_id, _Group())
        group.members.append(member)
        self._rebalance(group)

    def _leave(self, member: MemoryConsumer) -> None:
        group = self._groups.get(member.group_id)
        if group and member in group.members:
            group.members.remove(member)
            self._rebalance(group)

    def _rebalance(self, group: _Group) -> None:
        """Round-robin partitions over members; each restarts from the committed offset."""
        for m in group.members:
            m._assigned = {}
        tps = sorted({(t, p) for m in group.members for t in m.topics
                      for p in range(len(self._topic(t)))})
        for i, tp in enumerate(tps):
            owners = [m for m in group.members if tp[0] in m.topics]
            if not owners:
                continue
            member = owners[i % len(owners)]
            start = group.committed.get(tp)
            if start is None:
                start = 0 if member.from_beginning else len(self._topic(tp[0])[tp[1]])
                group.committed[tp] = start
            member._assigned[tp] = start

    def _commit(self, group_id: str, offsets: dict[tuple[str, int], int]) -> None:
        group = self._groups[group_id]
        for tp, off in offsets.items():
            group.committed[tp] = max(group.committed.get(tp, 0), off)

    def end_offsets(self, topic: str) -> list[int]:
        return [len(p) for p in self._topic(topic)]

    def committed(self, group_id: str) -> dict[tuple[str, int], int]:
        group = self._groups.get(group_id)
        return dict(group.committed) if group else {}


class MemoryConsumer(Consumer):
    def __init__(self, bus: MemoryBus, topics: list[str], group_id: str, from_beginning: bool):
        self.bus = bus
        self.topics = topics
        self.group_id = group_id
        self.from_beginning = from_beginning
        self._assigned: dict[tuple[str, int], int] = {}  # partition -> next offset to read
        self._started = False

    async def start(self) -> None:
        if not self._started:
            self._started = True
            self.bus._join(self)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            self.bus._leave(self)

    def _take(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        for tp, pos in sorted(self._assigned.items()):
            log = self.bus._topic(tp[0])[tp[1]]
            chunk = log[pos : pos + max_records - len(out)]
            out.extend(chunk)
            self._assigned[tp] = pos + len(chunk)
            if len(out) >= max_records:
                break
        return out

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while self._started:
            records = self._take(max_records)
            if records:
                return records
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            async with self.bus._changed:
                try:
                    await asyncio.wait_for(self.bus._changed.wait(), remaining)
                except TimeoutError:
                    return []
        return []

    async def commit(self, records: Sequence[Record]) -> None:
        # Only partitions still owned are committed, as Kafka refuses commits after a rebalance.
        offsets = {tp: o for tp, o in next_offsets(records).items() if tp in self._assigned}
        self.bus._commit(self.group_id, offsets)

    def assignment(self) -> set[tuple[str, int]]:
        return set(self._assigned)
