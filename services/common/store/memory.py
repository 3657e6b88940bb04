"""In-memory store for the embedded stack and unit tests; same contract as the Redis store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from services.common.errors import Conflict, NotFound
from services.common.schemas import LabelEvent, ReviewRequest
from services.common.store.base import (
    KeyValue,
    LabelResult,
    Lease,
    ModelRecord,
    ModelRegistry,
    QueueStats,
    ReviewQueue,
    ServingState,
    Store,
)
from services.common.store.lineage import MemoryLineage
from services.common.store.security import MemoryKeyRegistry, MemoryRateLimiter

Clock = Callable[[], float]


class MemoryReviewQueue(ReviewQueue):
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._items: dict[str, ReviewRequest] = {}
        self._enqueued_at: dict[str, float] = {}
        self._queued: set[str] = set()
        self._leases: dict[str, tuple[str, float]] = {}  # item -> (reviewer, expires_at)
        self._skipped: dict[str, set[str]] = {}
        self._labeled: dict[str, LabelEvent] = {}
        self._lock = asyncio.Lock()

    def _reap(self) -> None:
        now = self._clock()
        for item_id, (_, expires) in list(self._leases.items()):
            if expires <= now:
                del self._leases[item_id]
                self._queued.add(item_id)

    def _live_lease(self, item_id: str, reviewer: str) -> None:
        if item_id not in self._items:
            raise NotFound(f"unknown item {item_id!r}")
        if item_id in self._labeled:
            raise Conflict(f"item {item_id!r} is already labeled")
        holder = self._leases.get(item_id)
        if holder is None or holder[0] != reviewer:
            raise Conflict(f"item {item_id!r} is not leased to reviewer {reviewer!r}")

    async def enqueue(self, request: ReviewRequest) -> bool:
        async with self._lock:
            if request.item_id in self._items:
                return False
            self._items[request.item_id] = request
            self._enqueued_at[request.item_id] = self._clock()
            self._queued.add(request.item_id)
            return True

    async def lease(self, reviewer: str, ttl_s: float) -> Lease | None:
        async with self._lock:
            self._reap()
            eligible = [
                i for i in self._queued if reviewer not in self._skipped.get(i, set())
            ]
            if not eligible:
                return None
            # Highest priority first; among equals the oldest, so nothing starves.
            best = min(eligible, key=lambda i: (-self._items[i].priority, self._enqueued_at[i]))
            self._queued.discard(best)
            expires = self._clock() + ttl_s
            self._leases[best] = (reviewer, expires)
            return Lease(item=self._items[best], reviewer=reviewer, expires_at=expires)

    async def heartbeat(self, item_id: str, reviewer: str, ttl_s: float) -> Lease:
        async with self._lock:
            self._reap()
            self._live_lease(item_id, reviewer)
            expires = self._clock() + ttl_s
            self._leases[item_id] = (reviewer, expires)
            return Lease(item=self._items[item_id], reviewer=reviewer, expires_at=expires)

    async def submit_label(self, item_id: str, reviewer: str, label: str) -> LabelResult:
        async with self._lock:
            self._reap()
            done = self._labeled.get(item_id)
            if done is not None and done.reviewer == reviewer and done.label == label:
                return LabelResult(event=done, duplicate=True)
            self._live_lease(item_id, reviewer)
            item = self._items[item_id]
            event = LabelEvent(
                item_id=item_id,
                label=label,
                embedding=item.embedding,
                reviewer=reviewer,
                reason=item.reason,
                predicted_label=item.predicted_label,
                model_version=item.model_version,
            )
            del self._leases[item_id]
            self._labeled[item_id] = event
            return LabelResult(event=event, duplicate=False)

    async def skip(self, item_id: str, reviewer: str) -> None:
        async with self._lock:
            self._reap()
            self._live_lease(item_id, reviewer)
            del self._leases[item_id]
            self._skipped.setdefault(item_id, set()).add(reviewer)
            self._queued.add(item_id)

    async def get(self, item_id: str) -> ReviewRequest | None:
        return self._items.get(item_id)

    async def stats(self) -> QueueStats:
        async with self._lock:
            self._reap()
            now = self._clock()
            oldest = min((self._enqueued_at[i] for i in self._queued), default=None)
            return QueueStats(
                depth=len(self._queued),
                leased=len(self._leases),
                labeled=len(self._labeled),
                oldest_age_s=None if oldest is None else max(0.0, now - oldest),
            )


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

    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float:
        current = float(self._live(key) or b"0")
        value = current + amount
        expires = self._data[key][1] if key in self._data else self._expiry(ttl_s)
        self._data[key] = (repr(value).encode(), expires)
        return value

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)


class MemoryStore(Store):
    def __init__(self, clock: Clock = time.time, lineage_max_items: int = 100_000,
                 lineage_max_age_s: float = 7 * 86400.0) -> None:
        self.queue = MemoryReviewQueue(clock)
        self.lineage = MemoryLineage(lineage_max_items, lineage_max_age_s)
        self.models = MemoryModelRegistry()
        self.kv = MemoryKeyValue(clock)
        self.keys = MemoryKeyRegistry()
        self.limits = MemoryRateLimiter()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> bool:
        return True
