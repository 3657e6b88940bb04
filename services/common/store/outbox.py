"""The labels outbox: label events stored in the same atomic step as the change that made them.

Why: the review API used to change the store and then publish; a process that died in between
left a retraction (or a label, or a label-set change) that the labels topic never saw, and a
retried request could not repair it (the corrected label is no longer live: 404). Now the event
is written together with the store change (inside the queue's Lua scripts on Redis, in the same
synchronous step under the memory queue's lock), and a relay (services/common/outbox_relay.py)
publishes pending entries in order and removes them only after the broker acknowledged them.
A relay that dies between the ack and the removal leaves entries that are published again; the
trainer's fold ignores such late copies (services/trainer/fold.py).

Contract (tests/contract/test_outbox_contract.py, on both backends):
- ``pending`` returns entries oldest first, in the order they were added; ``done`` removes them
  (unknown or already removed ids are ignored: two relays may report the same entry).
- ``claim`` is a renewable lease on draining: one owner at a time, so entries reach the topic in
  order; it expires by itself if its owner dies.
- ``add`` stores events together with key-value marks, atomically; with ``once`` it does
  nothing (False) when the first mark exists already, so a retried request adds nothing twice;
  with ``expect`` nothing (False) unless each key holds exactly the value given (None: absent):
  a compare-and-set, so a read-modify-write of a mark (the label set's state) and its event
  enter together or not at all (tests/contract/test_label_set_contract.py).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from services.common.schemas import LabelEvent

if TYPE_CHECKING:
    from services.common.store.memory import MemoryKeyValue


class OutboxEntry(BaseModel):
    """One label event waiting for the labels topic."""

    id: str  # its place in the outbox (Redis: the stream id)
    key: str  # the record key on the topic (the item id)
    value: bytes  # the LabelEvent JSON, verbatim (embeddings never re-encoded)
    created_at: float  # unix seconds, when the change that made it was stored

    @property
    def event(self) -> LabelEvent:
        return LabelEvent.model_validate_json(self.value)


class OutboxStats(BaseModel):
    """How far the outbox lags behind the labels topic."""

    pending: int = Field(description="Label events stored but not yet acknowledged by the bus")
    oldest_age_s: float | None = Field(
        description="Seconds the oldest pending event has waited; null when none waits")


class Outbox(ABC):
    @abstractmethod
    async def add(self, events: list[LabelEvent], *, marks: dict[str, bytes] | None = None,
                  once: bool = False, expect: dict[str, bytes | None] | None = None) -> bool:
        """Store ``events`` (in order) and the key-value ``marks`` atomically; with ``once``,
        nothing at all if the first mark exists already; with ``expect``, nothing at all unless
        every key holds exactly its value (None: absent). True when stored."""

    @abstractmethod
    async def pending(self, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` entries not yet done, oldest first."""

    @abstractmethod
    async def done(self, ids: list[str]) -> None:
        """The broker acknowledged these entries: remove them."""

    @abstractmethod
    async def stats(self) -> OutboxStats: ...

    @abstractmethod
    async def claim(self, owner: str, ttl_s: float) -> bool:
        """Take (or renew) the drain lease for ``ttl_s``; False while another owner holds it."""

    @abstractmethod
    async def release(self, owner: str) -> None:
        """Give the drain lease back, if ``owner`` still holds it."""


class MemoryOutbox(Outbox):
    """The outbox in memory; the memory queue appends under its own lock (``append``)."""

    def __init__(self, kv: MemoryKeyValue, clock: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._clock = clock
        self._entries: dict[str, OutboxEntry] = {}  # insertion order is outbox order
        self._seq = 0
        self._lease: tuple[str, float] | None = None  # (owner, expires)

    def append(self, event: LabelEvent) -> None:
        """Synchronous, so it is part of the caller's atomic step (no await in between)."""
        self._seq += 1
        entry_id = f"{self._seq:015d}"
        self._entries[entry_id] = OutboxEntry(id=entry_id, key=event.item_id,
                                              value=event.model_dump_json().encode(),
                                              created_at=self._clock())

    async def add(self, events: list[LabelEvent], *, marks: dict[str, bytes] | None = None,
                  once: bool = False, expect: dict[str, bytes | None] | None = None) -> bool:
        # No await from the checks to the appends: one atomic step, as the Redis script is
        # (store/memory.py, MemoryKeyValue).
        marks = marks or {}
        if once and marks and not self._kv.holds(next(iter(marks)), None):
            return False
        if not all(self._kv.holds(key, value) for key, value in (expect or {}).items()):
            return False
        for key, value in marks.items():
            self._kv.put(key, value)
        for event in events:
            self.append(event)
        return True

    async def pending(self, limit: int) -> list[OutboxEntry]:
        return list(self._entries.values())[:limit]

    async def done(self, ids: list[str]) -> None:
        for entry_id in ids:
            self._entries.pop(entry_id, None)

    async def stats(self) -> OutboxStats:
        oldest = next(iter(self._entries.values()), None)
        return OutboxStats(pending=len(self._entries), oldest_age_s=None if oldest is None
                           else max(0.0, self._clock() - oldest.created_at))

    async def claim(self, owner: str, ttl_s: float) -> bool:
        now = self._clock()
        if self._lease is not None and self._lease[0] != owner and self._lease[1] > now:
            return False
        self._lease = (owner, now + ttl_s)
        return True

    async def release(self, owner: str) -> None:
        if self._lease is not None and self._lease[0] == owner:
            self._lease = None
