"""In-memory store for the embedded stack and unit tests; same contract as the Redis store."""

from __future__ import annotations

import time
from collections.abc import Callable

from services.common.errors import NotFound
from services.common.store.audit import MemoryAuditLog
from services.common.store.base import (
    KeyValue,
    ModelRecord,
    ModelRegistry,
    ServingState,
    Store,
)
from services.common.store.lineage import MemoryLineage
from services.common.store.memory_queue import MemoryReviewQueue
from services.common.store.outbox import MemoryOutbox
from services.common.store.security import MemoryKeyRegistry, MemoryRateLimiter

Clock = Callable[[], float]


class MemoryModelRegistry(ModelRegistry):
    def __init__(self) -> None:
        self._records: dict[int, tuple[ModelRecord, bytes]] = {}
        self._counter = 0
        self._serving: ServingState | None = None

    async def next_version(self) -> int:
        self._counter += 1
        return self._counter

    async def put(self, record: ModelRecord, artifact: bytes) -> None:
        self._records[record.version] = (record, artifact)

    async def get(self, version: int) -> tuple[ModelRecord, bytes]:
        if version not in self._records:
            raise NotFound(f"model version {version} does not exist")
        return self._records[version]

    async def latest(self) -> ModelRecord | None:
        if not self._records:
            return None
        return self._records[max(self._records)][0]

    async def versions(self) -> list[ModelRecord]:
        return [self._records[v][0] for v in sorted(self._records)]

    async def set_serving(self, state: ServingState) -> None:
        self._serving = state

    async def serving(self) -> ServingState | None:
        return self._serving

    async def delete(self, versions: list[int]) -> None:
        for v in versions:
            self._records.pop(v, None)


class MemoryKeyValue(KeyValue):
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._sets: dict[str, set[str]] = {}

    def _live(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl_s: float | None) -> float | None:
        return None if ttl_s is None else self._clock() + ttl_s

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self._data[key] = (value, self._expiry(ttl_s))

    async def set_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (value, self._expiry(ttl_s))
        return True

    # The memory twin's atomic steps are synchronous (no await inside): on the one event loop
    # that runs every coroutine of the process, nothing can run between the check and the
    # write, which is what the lock (Redis: the script) gives the other backend.

    def holds(self, key: str, expected: bytes | None) -> bool:
        return self._live(key) == expected

    def put(self, key: str, value: bytes) -> None:
        self._data[key] = (value, None)

    async def compare_and_set(self, key: str, expected: bytes | None, value: bytes) -> bool:
        if not self.holds(key, expected):
            return False
        self.put(key, value)
        return True

    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float:
        current = float(self._live(key) or b"0")
        value = current + amount
        expires = self._data[key][1] if key in self._data else self._expiry(ttl_s)
        self._data[key] = (repr(value).encode(), expires)
        return value

    async def transfer(self, src: str, dst: str) -> float:
        raw = self._live(src)
        if raw is None:
            return 0.0
        del self._data[src]
        amount = float(raw)
        await self.incr(dst, amount)  # never suspends: still one step
        return amount

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)
        self._sets.pop(key, None)

    async def add_members(self, key: str, *members: str) -> int:
        found = self._sets.setdefault(key, set())
        new = set(members) - found
        found |= new
        return len(new)

    async def members(self, key: str) -> frozenset[str]:
        return frozenset(self._sets.get(key, ()))


class MemoryStore(Store):
    def __init__(self, clock: Clock = time.time, lineage_max_items: int = 100_000,
                 lineage_max_age_s: float = 7 * 86400.0) -> None:
        self.kv = MemoryKeyValue(clock)
        self.outbox = MemoryOutbox(self.kv, clock)
        self.queue = MemoryReviewQueue(clock, self.outbox)
        self.lineage = MemoryLineage(lineage_max_items, lineage_max_age_s)
        self.models = MemoryModelRegistry()
        self.keys = MemoryKeyRegistry()
        self.limits = MemoryRateLimiter()
        self.audit = MemoryAuditLog(clock)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> bool:
        return True
