"""The labels outbox on Redis: one stream, shared with the review queue's scripts.

The queue's scripts XADD to the same stream inside the script that changes the queue
(store/redis_lua.py, ``outbox``), so a label, consensus label or correction and its entry are
one atomic step. Stream ids are Redis's own (server time in ms, strictly increasing), so the
order is the order of the changes and the oldest entry's age needs no extra key.
Entry fields: ``k`` the record key (item id), ``e`` the LabelEvent JSON, verbatim. ``add`` with
``expect`` checks the expected values inside the same script (a compare-and-set of the marks).
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.common.schemas import LabelEvent
from services.common.store.outbox import Outbox, OutboxEntry, OutboxStats
from services.common.store.redis_guard import guarded, text
from services.common.store.redis_kv import HOLDS, expected_arg

# KEYS: stream, the mark keys, then the expected keys; ARGV: once, how many expected keys,
# the marks' values, the expected values (HOLDS' encoding), then pairs (key, event).
ADD = HOLDS + """
local m = tonumber(ARGV[2])
local n = #KEYS - 1 - m
if ARGV[1] == '1' and n > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
for j = 1, m do
  if not holds(KEYS[1 + n + j], ARGV[2 + n + j]) then return 0 end
end
for i = 1, n do
  redis.call('SET', KEYS[i + 1], ARGV[i + 2])
end
for i = n + m + 3, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'e', ARGV[i + 1])
end
return 1
"""

# KEYS: lease; ARGV: owner, ttl_ms. Take a free or expired lease, or renew our own.
CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisOutbox(Outbox):
    def __init__(self, client: Redis, prefix: str, stream: str) -> None:
        self._client = client
        self._stream = stream
        self._lease = f"{prefix}outbox:lease"
        self._kv = f"{prefix}kv:"  # marks are key-value entries (store.kv reads them)
        self._add = client.register_script(ADD)
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)

    @guarded
    async def add(self, events: list[LabelEvent], *, marks: dict[str, bytes] | None = None,
                  once: bool = False, expect: dict[str, bytes | None] | None = None) -> bool:
        marks, expect = marks or {}, expect or {}
        pairs = [v for e in events for v in (e.item_id, e.model_dump_json())]
        out = await self._add(
            keys=[self._stream, *(self._kv + k for k in marks), *(self._kv + k for k in expect)],
            args=["1" if once else "0", len(expect), *marks.values(),
                  *map(expected_arg, expect.values()), *pairs])
        return bool(int(out))

    @guarded
    async def pending(self, limit: int) -> list[OutboxEntry]:
        rows: list[tuple[bytes, dict[bytes, bytes]]] = await self._client.xrange(  # type: ignore[assignment]
            self._stream, count=limit)
        out = []
        for raw_id, fields in rows:
            entry_id = text(raw_id)
            out.append(OutboxEntry(id=entry_id, key=text(fields[b"k"]), value=fields[b"e"],
                                   created_at=int(entry_id.split("-", 1)[0]) / 1000))
        return out

    @guarded
    async def done(self, ids: list[str]) -> None:
        if ids:
            await self._client.xdel(self._stream, *ids)

    @guarded
    async def stats(self) -> OutboxStats:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xlen(self._stream)
            pipe.xrange(self._stream, count=1)
            pipe.time()
            n, first, (secs, micros) = await pipe.execute()
        if not first:
            return OutboxStats(pending=int(n), oldest_age_s=None)
        created = int(text(first[0][0]).split("-", 1)[0]) / 1000
        # Server time on both sides: the stream id is the server's clock too.
        return OutboxStats(pending=int(n),
                           oldest_age_s=max(0.0, secs + micros / 1e6 - created))

    @guarded
    async def claim(self, owner: str, ttl_s: float) -> bool:
        return bool(int(await self._claim(keys=[self._lease],
                                          args=[owner, max(1, int(ttl_s * 1000))])))

    @guarded
    async def release(self, owner: str) -> None:
        await self._release(keys=[self._lease], args=[owner])
