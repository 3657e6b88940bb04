"""The review queue in memory (embedded stack, unit tests): the reference for the Redis scripts.

Every method runs under one lock, as each Redis script runs atomically; the state mirrors the
Redis keys one to one (see store/redis_lua.py), so the two are easy to compare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from services.common.errors import Conflict, Forbidden, NotFound
from services.common.schemas import LabelEvent, LabelSource, ReviewRequest, new_id
from services.common.store.base import (
    LabelRecord,
    Lease,
    QueueStats,
    Rescore,
    ReviewQueue,
    SubmitResult,
)
from services.common.store.outbox import MemoryOutbox
from services.common.store.votes import merged, reprioritized, vote_event

Clock = Callable[[], float]


@dataclass
class _Lease:
    item_id: str
    reviewer: str
    expires: float


class MemoryReviewQueue(ReviewQueue):
    def __init__(self, clock: Clock, outbox: MemoryOutbox) -> None:
        self._clock = clock
        self._outbox = outbox  # appended to under the lock: one step with the change
        self._lock = asyncio.Lock()
        self._items: dict[str, ReviewRequest] = {}
        self._seq: dict[str, int] = {}  # enqueue order: ties go oldest first
        self._enq_at: dict[str, float] = {}
        self._queued: set[str] = set()
        self._rescored: dict[str, Rescore] = {}
        self._issued: dict[str, _Lease] = {}  # every lease ever issued (stale vs unknown)
        self._live: dict[str, _Lease] = {}  # lease id -> live lease
        self._held: dict[str, str] = {}  # item -> live lease id
        self._excluded: set[tuple[str, str]] = set()  # (item, reviewer): skipped or voted
        self._votes: dict[str, list[LabelEvent]] = {}
        self._needed: dict[str, int] = {}
        self._done: set[str] = set()
        self._finished: dict[str, LabelEvent] = {}  # lease id -> vote given under it
        self._current: dict[str, LabelEvent] = {}  # item -> published label
        self._events: dict[str, str] = {}  # event id -> item

    # -- helpers (called under the lock) ------------------------------------------------------
    def _priority(self, item_id: str) -> float:
        rescored = self._rescored.get(item_id)
        return rescored.priority if rescored else self._items[item_id].priority

    def _reap(self) -> None:
        now = self._clock()
        for lease_id, lease in list(self._live.items()):
            if lease.expires <= now:
                self._release(lease_id)
                self._queued.add(lease.item_id)

    def _release(self, lease_id: str) -> _Lease:
        lease = self._live.pop(lease_id)
        self._held.pop(lease.item_id, None)
        return lease

    def _grant(self, item_id: str, reviewer: str, ttl_s: float) -> Lease:
        lease_id = new_id()
        lease = _Lease(item_id, reviewer, self._clock() + ttl_s)
        self._issued[lease_id] = self._live[lease_id] = lease
        self._held[item_id] = lease_id
        self._queued.discard(item_id)
        return self._lease(lease_id, lease)

    def _lease(self, lease_id: str, lease: _Lease) -> Lease:
        item_id = lease.item_id
        return Lease(
            item=merged(self._items[item_id], self._rescored.get(item_id)),
            reviewer=lease.reviewer, expires_at=lease.expires, lease_id=lease_id,
            votes=len(self._votes.get(item_id, [])), votes_needed=self._needed[item_id],
        )

    def _check(self, lease_id: str, reviewer: str) -> _Lease:
        issued = self._issued.get(lease_id)
        if issued is None:
            raise NotFound(f"unknown lease {lease_id!r}")
        if issued.reviewer != reviewer:
            raise Forbidden(f"lease {lease_id!r} belongs to another reviewer")
        if lease_id in self._finished:
            event = self._finished[lease_id]
            raise Conflict(f"lease {lease_id!r} was already used to label {event.label!r} "
                           f"(event {event.event_id}); correct it by that event id")
        live = self._live.get(lease_id)
        if live is None:
            raise Conflict(f"lease {lease_id!r} expired or was given back; the item returned "
                           "to the queue: lease a new item")
        return live

    # -- contract ----------------------------------------------------------------------------
    async def enqueue(self, request: ReviewRequest, votes_needed: int = 1) -> bool:
        async with self._lock:
            if request.item_id in self._items:
                return False
            self._items[request.item_id] = request
            self._seq[request.item_id] = len(self._seq)
            self._enq_at[request.item_id] = self._clock()
            self._needed[request.item_id] = max(1, votes_needed)
            self._queued.add(request.item_id)
            return True

    async def lease(self, reviewer: str, ttl_s: float, max_leases: int = 0) -> Lease | None:
        async with self._lock:
            self._reap()
            if max_leases > 0:
                mine = [(v.expires, k) for k, v in self._live.items() if v.reviewer == reviewer]
                if len(mine) >= max_leases:
                    lease_id = min(mine)[1]
                    return self._lease(lease_id, self._live[lease_id])
            eligible = [i for i in self._queued if (i, reviewer) not in self._excluded]
            if not eligible:
                return None
            best = min(eligible, key=lambda i: (-self._priority(i), self._seq[i]))
            return self._grant(best, reviewer, ttl_s)

    async def heartbeat(self, lease_id: str, reviewer: str, ttl_s: float) -> Lease:
        async with self._lock:
            self._reap()
            lease = self._check(lease_id, reviewer)
            lease.expires = self._clock() + ttl_s
            return self._lease(lease_id, lease)

    async def submit_label(self, lease_id: str, reviewer: str, label: str,
                           source: LabelSource = LabelSource.REVIEWER) -> SubmitResult:
        async with self._lock:
            self._reap()
            done = self._finished.get(lease_id)
            issued = self._issued.get(lease_id)
            if done is not None and issued is not None and issued.reviewer == reviewer \
                    and done.label == label:
                item_id = done.item_id
                return SubmitResult(event=done, duplicate=True, complete=item_id in self._done,
                                    votes=list(self._votes.get(item_id, [])),
                                    current=self._current.get(item_id))
            lease = self._check(lease_id, reviewer)
            item_id = lease.item_id
            event = vote_event(self._items[item_id], reviewer, label, source,
                               self._rescored.get(item_id))
            self._release(lease_id)
            self._finished[lease_id] = event
            self._events[event.event_id] = item_id
            self._excluded.add((item_id, reviewer))
            votes = self._votes.setdefault(item_id, [])
            votes.append(event)
            complete = len(votes) >= self._needed[item_id]
            if complete:
                self._done.add(item_id)
                if self._needed[item_id] == 1:
                    self._current[item_id] = event
                    self._outbox.append(event)
            else:
                self._queued.add(item_id)
            return SubmitResult(event=event, duplicate=False, complete=complete,
                                votes=list(votes), current=self._current.get(item_id))

    async def skip(self, lease_id: str, reviewer: str) -> None:
        async with self._lock:
            self._reap()
            lease = self._check(lease_id, reviewer)
            self._release(lease_id)
            self._excluded.add((lease.item_id, reviewer))
            self._queued.add(lease.item_id)

    async def set_current(self, item_id: str, event: LabelEvent) -> LabelEvent:
        async with self._lock:
            if item_id not in self._done:
                raise Conflict(f"item {item_id!r} has not got all its votes")
            if item_id not in self._current:
                self._current[item_id] = event
                self._outbox.append(event)
            stored = self._current[item_id]
            self._events[stored.event_id] = item_id
            return stored

    async def reopen(self, item_id: str, votes: int, votes_needed: int, priority: float) -> bool:
        async with self._lock:
            if item_id not in self._done or item_id in self._current \
                    or len(self._votes.get(item_id, [])) != votes:
                return False
            self._done.discard(item_id)
            self._needed[item_id] = votes_needed
            self._rescored[item_id] = reprioritized(self._items[item_id],
                                                    self._rescored.get(item_id), priority)
            self._queued.add(item_id)
            return True

    async def find_label(self, event_id: str) -> LabelRecord | None:
        async with self._lock:
            item_id = self._events.get(event_id)
            if item_id is None:
                return None
            current = self._current.get(item_id)
            if current is not None and current.event_id == event_id:
                return LabelRecord(event=current, current=True, pending=False)
            for vote in self._votes.get(item_id, []):
                if vote.event_id == event_id and current is None:
                    return LabelRecord(event=vote, current=False, pending=True)
            return None

    async def replace_label(self, event_id: str, new: LabelEvent | None, reviewer: str,
                            ttl_s: float, publish: LabelEvent | None = None) -> Lease | None:
        async with self._lock:
            self._reap()
            item_id = self._events.get(event_id)
            if item_id is None:
                raise NotFound(f"unknown label event {event_id!r}")
            current = self._current.get(item_id)
            votes = self._votes.get(item_id, [])
            if current is not None and current.event_id == event_id:
                if publish is not None:
                    self._outbox.append(publish)
                if new is not None:
                    self._current[item_id] = new
                    self._events[new.event_id] = item_id
                    return None
                # Undo of a published label: the item is reviewed afresh, by everyone.
                del self._current[item_id]
                self._excluded -= {(item_id, v.reviewer) for v in votes}
                self._votes[item_id] = []
            elif current is None and any(v.event_id == event_id for v in votes):
                if new is not None:
                    self._votes[item_id] = [new if v.event_id == event_id else v for v in votes]
                    self._events[new.event_id] = item_id
                    return None
                gone = next(v for v in votes if v.event_id == event_id)
                self._votes[item_id] = [v for v in votes if v.event_id != event_id]
                self._excluded.discard((item_id, gone.reviewer))
            else:
                live = current.event_id if current else "none yet"
                raise Conflict(f"label event {event_id!r} is no longer the item's live label "
                               f"(live: {live})")
            self._done.discard(item_id)
            held = self._held.get(item_id)
            if held is not None:  # another reviewer's lease on a pending item: theirs stays
                self._queued.discard(item_id)
                return None
            return self._grant(item_id, reviewer, ttl_s)

    async def queued(self, limit: int) -> list[ReviewRequest]:
        async with self._lock:
            self._reap()
            order = sorted(self._queued, key=lambda i: (-self._priority(i), self._seq[i]))
            return [merged(self._items[i], self._rescored.get(i)) for i in order[:limit]]

    async def rescore(self, updates: dict[str, Rescore]) -> int:
        async with self._lock:
            n = 0
            for item_id, rescore in updates.items():
                if item_id in self._items and item_id not in self._done:
                    self._rescored[item_id] = rescore
                    n += 1
            return n

    async def get(self, item_id: str) -> ReviewRequest | None:
        return self._items.get(item_id)

    async def stats(self) -> QueueStats:
        async with self._lock:
            self._reap()
            now = self._clock()
            oldest = min((self._enq_at[i] for i in self._queued), default=None)
            return QueueStats(
                depth=len(self._queued), leased=len(self._live), labeled=len(self._done),
                oldest_age_s=None if oldest is None else max(0.0, now - oldest),
            )
