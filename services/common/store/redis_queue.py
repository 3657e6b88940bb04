"""The review queue on Redis: each operation one Lua script (store/redis_lua.py), so atomic.

Two reviewers leasing at the same moment can never get the same item, and a vote, a
correction or an undo is either wholly applied or not at all.
"""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from services.common.errors import Conflict, Forbidden, NotFound
from services.common.schemas import LabelEvent, LabelSource, ReviewRequest, new_id
from services.common.store import redis_lua, redis_lua_labels
from services.common.store.base import (
    LabelRecord,
    Lease,
    QueueStats,
    Rescore,
    ReviewQueue,
    SubmitResult,
)
from services.common.store.redis_guard import guarded, text
from services.common.store.votes import merged, reprioritized, vote_event


def result(reply: list[Any]) -> list[Any]:
    """Turn a script's {status, ...} reply into values or the contract's errors."""
    status = int(reply[0])
    if status == 1:
        raise NotFound(text(reply[1]))
    if status == 2:
        raise Conflict(text(reply[1]))
    if status == 3:
        raise Forbidden(text(reply[1]))
    return reply[1:]


def _rescore(raw: bytes | str | None) -> Rescore | None:
    return Rescore.model_validate_json(raw) if raw else None


def stored_votes(raw: bytes | str) -> list[LabelEvent]:
    """The votes stored for one item (a JSON list of LabelEvents; anything else: none).
    Public: the review load benchmark audits Redis with the same parser."""
    parsed = json.loads(raw)
    return [LabelEvent.model_validate_json(v) for v in parsed] if isinstance(parsed, list) else []


class RedisReviewQueue(ReviewQueue):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._keys = [f"{prefix}queue:{name}" for name in redis_lua.KEY_NAMES]
        self._k = dict(zip(redis_lua.KEY_NAMES, self._keys, strict=True))
        self.outbox_key = self._k["outbox"]  # the stream store.outbox drains
        scripts = ("ENQUEUE", "LEASE", "HEARTBEAT", "SUBMIT", "SKIP", "SET_CURRENT", "REOPEN",
                   "REPLACE", "QUEUED", "RESCORE", "STATS")
        self._s = {name: client.register_script(
            getattr(redis_lua, name, None) or getattr(redis_lua_labels, name))
            for name in scripts}

    async def _run(self, script: str, *args: str) -> list[Any]:
        return result(await self._s[script](keys=self._keys, args=list(args)))

    @staticmethod
    def _lease(reviewer: str, out: list[Any]) -> Lease:
        item = merged(ReviewRequest.model_validate_json(out[0]), _rescore(out[1]))
        return Lease(item=item, reviewer=reviewer, expires_at=float(out[2]),
                     lease_id=text(out[3]), votes=int(out[4]), votes_needed=int(out[5]))

    @guarded
    async def enqueue(self, request: ReviewRequest, votes_needed: int = 1) -> bool:
        out = await self._run("ENQUEUE", request.item_id, request.model_dump_json(),
                              repr(float(request.priority)), str(max(1, votes_needed)))
        return bool(int(out[0]))

    @guarded
    async def lease(self, reviewer: str, ttl_s: float, max_leases: int = 0) -> Lease | None:
        out = await self._run("LEASE", reviewer, repr(float(ttl_s)), str(max_leases), new_id())
        return None if out[0] is None else self._lease(reviewer, out)

    @guarded
    async def heartbeat(self, lease_id: str, reviewer: str, ttl_s: float) -> Lease:
        return self._lease(reviewer, await self._run("HEARTBEAT", lease_id, reviewer,
                                                     repr(float(ttl_s))))

    @guarded
    async def submit_label(self, lease_id: str, reviewer: str, label: str,
                           source: LabelSource = LabelSource.REVIEWER) -> SubmitResult:
        issued = await self._client.hget(self._k["issued"], lease_id)
        if issued is None:
            raise NotFound(f"unknown lease {lease_id!r}")
        item_id = text(issued).split("\n", 1)[0]
        async with self._client.pipeline(transaction=False) as pipe:  # one round trip
            pipe.hget(self._k["items"], item_id)
            pipe.hget(self._k["rescored"], item_id)
            raw_item, raw_rescore = await pipe.execute()
        if raw_item is None:
            raise NotFound(f"unknown lease {lease_id!r}")
        item = ReviewRequest.model_validate_json(raw_item)
        # Built here from the stored item; the script decides atomically whether it is the
        # first vote under this lease, a duplicate, or a conflict.
        event = vote_event(item, reviewer, label, source, _rescore(raw_rescore))
        out = await self._run("SUBMIT", lease_id, reviewer, label, event.model_dump_json())
        current = LabelEvent.model_validate_json(out[4]) if out[4] else None
        return SubmitResult(event=LabelEvent.model_validate_json(out[0]),
                            duplicate=bool(int(out[1])), complete=bool(int(out[2])),
                            votes=stored_votes(out[3]), current=current)

    @guarded
    async def skip(self, lease_id: str, reviewer: str) -> None:
        await self._run("SKIP", lease_id, reviewer)

    @guarded
    async def set_current(self, item_id: str, event: LabelEvent) -> LabelEvent:
        out = await self._run("SET_CURRENT", item_id, event.model_dump_json(), event.event_id)
        return LabelEvent.model_validate_json(out[0])

    @guarded
    async def reopen(self, item_id: str, votes: int, votes_needed: int, priority: float) -> bool:
        item = await self.get(item_id)
        if item is None:
            return False
        old = _rescore(await self._client.hget(self._k["rescored"], item_id))
        rescore = reprioritized(item, old, priority)
        out = await self._run("REOPEN", item_id, str(votes), str(votes_needed),
                              rescore.model_dump_json())
        return bool(int(out[0]))

    @guarded
    async def find_label(self, event_id: str) -> LabelRecord | None:
        item_id = await self._client.hget(self._k["events"], event_id)
        if item_id is None:
            return None
        current = await self._client.hget(self._k["current"], item_id)
        votes = await self._client.hget(self._k["votes"], item_id)
        if current is not None:
            event = LabelEvent.model_validate_json(current)
            live = event.event_id == event_id
            return LabelRecord(event=event, current=True, pending=False) if live else None
        for vote in stored_votes(votes or "[]"):
            if vote.event_id == event_id:
                return LabelRecord(event=vote, current=False, pending=True)
        return None

    @guarded
    async def replace_label(self, event_id: str, new: LabelEvent | None, reviewer: str,
                            ttl_s: float, publish: LabelEvent | None = None) -> Lease | None:
        out = await self._run("REPLACE", event_id, new.model_dump_json() if new else "",
                              reviewer, repr(float(ttl_s)), new_id(),
                              publish.model_dump_json() if publish else "")
        return None if out[0] is None else self._lease(reviewer, out)

    @guarded
    async def queued(self, limit: int) -> list[ReviewRequest]:
        out = await self._run("QUEUED", str(limit))
        return [merged(ReviewRequest.model_validate_json(out[i]), _rescore(out[i + 1]))
                for i in range(0, len(out), 2)]

    @guarded
    async def rescore(self, updates: dict[str, Rescore]) -> int:
        if not updates:
            return 0
        args = [v for item_id, r in updates.items() for v in (item_id, r.model_dump_json())]
        return int((await self._run("RESCORE", *args))[0])

    @guarded
    async def get(self, item_id: str) -> ReviewRequest | None:
        raw = await self._client.hget(self._k["items"], item_id)
        return None if raw is None else ReviewRequest.model_validate_json(raw)

    @guarded
    async def stats(self) -> QueueStats:
        out = await self._run("STATS")
        return QueueStats(depth=int(out[0]), leased=int(out[1]), labeled=int(out[2]),
                          oldest_age_s=None if out[3] is None else float(out[3]))
