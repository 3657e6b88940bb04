"""The store contract: review queue, model registry and a small key-value space.

Semantics both implementations (memory, Redis) must keep; tests/contract runs them on both:
- enqueue is idempotent by item id: an item queued, leased or labeled once is never queued again.
- lease hands the highest-priority queued item to one reviewer only, until the TTL passes;
  an expired lease puts the item back in the queue.
- submit_label needs a live lease by that reviewer; submitting the same label again returns the
  first event (idempotent), never a second one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel

from services.common.schemas import LabelEvent, ReviewRequest
from services.common.store.lineage import Lineage
from services.common.store.security import KeyRegistry, RateLimiter


class Lease(BaseModel):
    item: ReviewRequest
    reviewer: str
    expires_at: float  # unix seconds


class QueueStats(BaseModel):
    depth: int
    leased: int
    labeled: int
    oldest_age_s: float | None


class LabelResult(BaseModel):
    event: LabelEvent
    duplicate: bool


class ModelRecord(BaseModel):
    version: int
    sha256: str
    signature: str
    classes: list[str]
    n_labels: int
    metrics: dict[str, float] = {}
    created_at: float
    # Lifecycle (docs/lifecycle.md): the labels-topic offsets this version reflects (partition
    # -> next offset), and the gate's decision on it ("promoted" or "held") with its reason.
    labels_offsets: dict[str, int] = {}
    decision: str = "promoted"
    reason: str = ""


class ServingState(BaseModel):
    """Which version every scorer replica serves, and whether an admin pinned it."""

    version: int
    pinned: bool = False
    updated_at: float = 0.0


class ReviewQueue(ABC):
    @abstractmethod
    async def enqueue(self, request: ReviewRequest) -> bool:
        """Queue an item; False when the item id is already known."""

    @abstractmethod
    async def lease(self, reviewer: str, ttl_s: float) -> Lease | None:
        """Lease the highest-priority item; None when the queue is empty."""

    @abstractmethod
    async def heartbeat(self, item_id: str, reviewer: str, ttl_s: float) -> Lease:
        """Extend a live lease. NotFound if unknown, Conflict if not leased to this reviewer."""

    @abstractmethod
    async def submit_label(self, item_id: str, reviewer: str, label: str) -> LabelResult:
        """Record a label. NotFound if unknown, Conflict without this reviewer's live lease."""

    @abstractmethod
    async def skip(self, item_id: str, reviewer: str) -> None:
        """Give a leased item back to the queue. Same errors as heartbeat."""

    @abstractmethod
    async def get(self, item_id: str) -> ReviewRequest | None: ...

    @abstractmethod
    async def stats(self) -> QueueStats: ...


class ModelRegistry(ABC):
    @abstractmethod
    async def next_version(self) -> int:
        """Atomically reserve the next version number."""

    @abstractmethod
    async def put(self, record: ModelRecord, artifact: bytes) -> None: ...

    @abstractmethod
    async def get(self, version: int) -> tuple[ModelRecord, bytes]:
        """NotFound if the version does not exist."""

    @abstractmethod
    async def latest(self) -> ModelRecord | None: ...

    @abstractmethod
    async def versions(self) -> list[ModelRecord]: ...

    @abstractmethod
    async def set_serving(self, state: ServingState) -> None:
        """Record the version replicas must serve (promotion, pin, unpin)."""

    @abstractmethod
    async def serving(self) -> ServingState | None: ...

    @abstractmethod
    async def delete(self, versions: list[int]) -> None:
        """Drop these versions and their artifacts (retention); unknown ones are ignored."""

    async def prune(self, keep_last: int, keep: set[int]) -> list[int]:
        """Retention: keep the newest ``keep_last`` versions plus ``keep``; returns the dropped."""
        ids = sorted(r.version for r in await self.versions())
        drop = [v for v in ids[:max(0, len(ids) - keep_last)] if v not in keep]
        if drop:
            await self.delete(drop)
        return drop


class KeyValue(ABC):
    """Small shared state: idempotency marks, checkpoints, counters across processes."""

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...

    @abstractmethod
    async def set_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        """True when this call created the key."""

    @abstractmethod
    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...


class Store(ABC):
    queue: ReviewQueue
    models: ModelRegistry
    kv: KeyValue
    keys: KeyRegistry  # API keys (store/security.py)
    limits: RateLimiter  # per-key token buckets, shared by replicas
    lineage: Lineage  # predictions and label facts by id, with retention (lineage.py)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def ping(self) -> bool: ...
