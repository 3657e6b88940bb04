"""The bus contract: what Kafka gives us, and what the in-process bus reproduces.

- publish() returns once the message is durable (Kafka: acked by all in-sync replicas).
- Records with the same key land in the same partition, in order.
- A consumer in a group gets a share of the partitions; offsets are committed explicitly, after
  processing, so anything uncommitted is redelivered to whoever owns the partition next
  (at-least-once). Handlers therefore must be idempotent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from services.common.topics import Topics


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int = 0


def encode_value(value: BaseModel | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.model_dump_json().encode()


def next_offsets(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    """The offsets to commit for a processed batch: one past the highest per partition."""
    out: dict[tuple[str, int], int] = {}
    for r in records:
        tp = (r.topic, r.partition)
        out[tp] = max(out.get(tp, 0), r.offset + 1)
    return out


OffsetResetHook = Callable[[str, int, int, int], None]  # topic, partition, old, new offset


class Consumer(ABC):
    """One member of a consumer group."""

    # Called when the broker no longer has the consumer's position and it had to move (Kafka:
    # retention or truncation); the consumer loop counts it in a metric. The memory bus never
    # deletes records, so it never calls it.
    on_offset_reset: OffsetResetHook | None = None

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None:
        """Leave the group; uncommitted records go to the next owner of the partition."""

    @abstractmethod
    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to max_records, waiting at most timeout_s; empty list when nothing arrived."""

    @abstractmethod
    async def commit(self, records: Sequence[Record]) -> None:
        """Mark these records (and everything before them in their partitions) processed."""

    @abstractmethod
    def assignment(self) -> set[tuple[str, int]]: ...


class Bus(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def ensure_topics(self, topics: Topics) -> None:
        """Create the topics if missing (idempotent)."""

    @abstractmethod
    async def publish(self, topic: str, value: BaseModel | bytes, key: str | None = None) -> None:
        """Durably append one record."""

    async def publish_many(
        self, topic: str, items: Sequence[tuple[str | None, BaseModel | bytes]]
    ) -> None:
        """Append several records; subclasses batch the acknowledgements."""
        for key, value in items:
            await self.publish(topic, value, key)

    @abstractmethod
    def consumer(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = True,
        fetch_wait_ms: int | None = None,
    ) -> Consumer:
        """A new, unstarted member of ``group_id``.

        ``fetch_wait_ms``: how long the broker may hold an empty fetch (Kafka's
        fetch.max.wait.ms) for this consumer; latency-sensitive consumers (labels, model
        announcements) use less than the default. The in-process bus ignores it.

        ``from_beginning`` decides where a group with no committed offset starts: the earliest
        record (work queues) or only new ones (broadcasts such as model announcements).
        """
