"""The store contract: review queue, model registry and a small key-value space.

Semantics both implementations (memory, Redis) must keep; tests/contract runs them on both:
- enqueue is idempotent by item id: an item queued, leased or labeled once is never queued again.
- lease hands the highest-priority queued item to one reviewer only, under a lease id, until
  the TTL passes; an expired lease puts the item back in the queue in its place.
- heartbeat, label and skip name the lease: another reviewer's lease is Forbidden, an expired or
  finished one a Conflict, an unknown one NotFound (each with a reason).
- submit_label under a live lease records a vote; the same label again under that lease returns
  the first event (idempotent), never a second one. An item needs ``votes_needed`` votes from
  distinct reviewers (k annotators); the vote that completes it says so.
- find_label/replace_label correct or undo a live label by event id, compare-and-swap.
- Whatever must reach the labels topic is put in the outbox (store/outbox.py) in the same atomic
  step: the vote that completes a k=1 item, a consolidated label set first, and the ``publish``
  event of a correction or undo of a published label.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel, Field

from services.common.schemas import LabelEvent, LabelSource, ModelFacts, ReviewRequest
from services.common.store.audit import AuditLog
from services.common.store.lineage import Lineage
from services.common.store.outbox import Outbox
from services.common.store.security import KeyRegistry, RateLimiter


class Lease(BaseModel):
    item: ReviewRequest
    reviewer: str
    expires_at: float  # unix seconds
    lease_id: str
    votes: int = 0  # labels the item already holds (k annotators)
    votes_needed: int = 1


class QueueStats(BaseModel):
    """The review queue's size, shared by every review API process."""

    depth: int = Field(description="Items waiting for a reviewer (leased ones not counted)")
    leased: int = Field(description="Leases reviewers hold now")
    labeled: int = Field(description="Items with all the labels they need")
    oldest_age_s: float | None = Field(
        description="Seconds the oldest waiting item has waited; null when none waits")


class SubmitResult(BaseModel):
    """A reviewer's vote, and whether it completed the item (then ``votes`` holds them all)."""

    event: LabelEvent
    duplicate: bool
    complete: bool
    votes: list[LabelEvent] = []
    current: LabelEvent | None = None  # the item's published label once it has one


class LabelRecord(BaseModel):
    """A label event found by id: the item's current (published) label, or a pending vote."""

    event: LabelEvent
    current: bool
    pending: bool


class Rescore(BaseModel):
    """A queued item scored again by a newer model (re-prioritisation); never a label."""

    priority: float
    predicted_label: str | None
    probabilities: dict[str, float]
    model_version: int
    suggestion: str | None = None


class ModelRecord(ModelFacts):
    """One published model version in the registry (docs/lifecycle.md)."""

    created_at: float = Field(description="Publication time, unix seconds")
    labels_offsets: dict[str, int] = Field(default_factory=dict, description=(
        "Labels-topic partition -> next offset: the labels this version reflects"))
    decision: str = Field(default="promoted",
                          description="The gate's decision: promoted or held")
    reason: str = Field(default="", description="Why the gate decided so")


class ServingState(BaseModel):
    """Which version every scorer replica serves, and whether an admin pinned it."""

    version: int = Field(description="The served version (0: none yet)")
    pinned: bool = Field(default=False, description="Pinned by an admin (the gate is bypassed)")
    updated_at: float = Field(default=0.0, description="When it last changed, unix seconds")


class ReviewQueue(ABC):
    @abstractmethod
    async def enqueue(self, request: ReviewRequest, votes_needed: int = 1) -> bool:
        """Queue an item needing ``votes_needed`` distinct reviewers; False if already known."""

    @abstractmethod
    async def lease(self, reviewer: str, ttl_s: float, max_leases: int = 0) -> Lease | None:
        """Lease the highest-priority item this reviewer has not skipped or voted on.

        With ``max_leases`` > 0 a reviewer holding that many live leases gets their oldest one
        back instead of a new item. None when nothing is left for them."""

    @abstractmethod
    async def heartbeat(self, lease_id: str, reviewer: str, ttl_s: float) -> Lease:
        """Extend a live lease. NotFound unknown lease, Forbidden another reviewer's,
        Conflict expired or finished."""

    @abstractmethod
    async def submit_label(self, lease_id: str, reviewer: str, label: str,
                           source: LabelSource = LabelSource.REVIEWER) -> SubmitResult:
        """Record a vote under a live lease. The same label again under the same lease returns
        the first event (duplicate); a different one is a Conflict. Errors as heartbeat.
        A first vote that completes a k=1 item is the item's label: it goes to the outbox."""

    @abstractmethod
    async def skip(self, lease_id: str, reviewer: str) -> None:
        """Give a leased item back to the queue (not to this reviewer). Errors as heartbeat."""

    @abstractmethod
    async def set_current(self, item_id: str, event: LabelEvent) -> LabelEvent:
        """Record a completed item's consolidated label; the first one set wins and is returned.
        The winning event goes to the outbox when this call set it (never twice)."""

    @abstractmethod
    async def reopen(self, item_id: str, votes: int, votes_needed: int, priority: float) -> bool:
        """A split vote: ask one more reviewer. Only if the item is complete with ``votes``
        votes and no label yet (so a retried request cannot reopen it twice)."""

    @abstractmethod
    async def find_label(self, event_id: str) -> LabelRecord | None:
        """A vote or published label by event id, if it is still the item's live one."""

    @abstractmethod
    async def replace_label(self, event_id: str, new: LabelEvent | None, reviewer: str,
                            ttl_s: float, publish: LabelEvent | None = None) -> Lease | None:
        """Correct (``new``) or undo (None) a live label, atomically: Conflict if ``event_id``
        is no longer the item's live label. An undo returns the item to the queue, leased to
        ``reviewer`` so they can label it again at once. If ``event_id`` was the item's
        published label, ``publish`` (the correction, or a retract) goes to the outbox in the
        same step; a pending vote was never published, so nothing does."""

    @abstractmethod
    async def queued(self, limit: int) -> list[ReviewRequest]:
        """Items waiting in the queue, highest priority first, with their current scores."""

    @abstractmethod
    async def rescore(self, updates: dict[str, Rescore]) -> int:
        """New priorities (and suggestions) for queued or leased items; returns how many."""

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
    async def compare_and_set(self, key: str, expected: bytes | None, value: bytes) -> bool:
        """Set ``key`` to ``value`` only while it holds ``expected`` (None: absent), in one
        atomic step; True when set. A read-modify-write built on it loses no concurrent write:
        the loser sees False and starts again from what the winner wrote."""

    @abstractmethod
    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float: ...

    @abstractmethod
    async def transfer(self, src: str, dst: str) -> float:
        """Add the counter at ``src`` to ``dst`` and delete ``src``, in one atomic step; the
        amount moved (0 when ``src`` is absent). Two callers never move the same amount twice."""

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def add_members(self, key: str, *members: str) -> int:
        """Add to the set at ``key`` in one atomic step (Redis SADD): concurrent adds from
        several processes all land. Returns how many were new."""

    @abstractmethod
    async def members(self, key: str) -> frozenset[str]: ...


class Store(ABC):
    queue: ReviewQueue
    models: ModelRegistry
    kv: KeyValue
    keys: KeyRegistry  # API keys (store/security.py)
    limits: RateLimiter  # per-key token buckets, shared by replicas
    audit: AuditLog
    lineage: Lineage  # predictions and label facts by id, with retention (lineage.py)
    outbox: Outbox  # label events on their way to the labels topic (outbox.py)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def ping(self) -> bool: ...
