"""Store contracts for security state: the API key registry and per-key rate limits.

Semantics both implementations (memory, Redis) keep; tests/contract runs them on both:
- a key id is added once (Conflict on a second add); records are never deleted, only revoked,
  so an id can never be reused by a different key;
- revoke is idempotent and NotFound for an unknown id;
- ``take`` is a token bucket: ``burst`` tokens, refilled at ``rate`` per second; it spends
  ``cost`` tokens and returns 0.0, or spends nothing and returns the seconds until it could.
  Buckets are independent per name, and shared by every client of one store (replicas).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from services.common.auth.keys import KeyRecord
from services.common.errors import Conflict, NotFound


class KeyRegistry(ABC):
    @abstractmethod
    async def add(self, record: KeyRecord) -> None:
        """Store a new key; Conflict if the id exists."""

    @abstractmethod
    async def get(self, key_id: str) -> KeyRecord | None: ...

    @abstractmethod
    async def list(self) -> list[KeyRecord]:
        """Every key, revoked ones too, oldest first."""

    @abstractmethod
    async def revoke(self, key_id: str) -> KeyRecord:
        """Mark revoked (idempotent); NotFound for an unknown id."""


class RateLimiter(ABC):
    @abstractmethod
    async def take(self, bucket: str, rate: float, burst: float, cost: float = 1.0) -> float:
        """0.0 when allowed (tokens spent), else seconds to wait (nothing spent)."""


class MemoryKeyRegistry(KeyRegistry):
    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}

    async def add(self, record: KeyRecord) -> None:
        if record.id in self._keys:
            raise Conflict(f"key id {record.id} already exists")
        self._keys[record.id] = record.model_copy()

    async def get(self, key_id: str) -> KeyRecord | None:
        record = self._keys.get(key_id)
        return None if record is None else record.model_copy()

    async def list(self) -> list[KeyRecord]:
        return sorted((r.model_copy() for r in self._keys.values()),
                      key=lambda r: (r.created_at, r.id))

    async def revoke(self, key_id: str) -> KeyRecord:
        if key_id not in self._keys:
            raise NotFound(f"no key with id {key_id!r}")
        self._keys[key_id].revoked = True
        return self._keys[key_id].model_copy()


def refill(tokens: float, last: float, now: float, rate: float, burst: float) -> float:
    return min(burst, tokens + max(0.0, now - last) * rate)


class MemoryRateLimiter(RateLimiter):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)
        self._lock = asyncio.Lock()

    async def take(self, bucket: str, rate: float, burst: float, cost: float = 1.0) -> float:
        async with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(bucket, (burst, now))
            tokens = refill(tokens, last, now, rate, burst)
            if tokens >= cost:
                self._buckets[bucket] = (tokens - cost, now)
                return 0.0
            self._buckets[bucket] = (tokens, now)
            return (cost - tokens) / rate
