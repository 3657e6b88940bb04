"""Key registry and rate limiter on Redis (contracts in store/security.py).

Keys: one hash ``<prefix>apikeys`` (id -> record JSON) plus a set of revoked ids, so revoking
is one SADD and never rewrites a record. Rate limits: a token bucket per name in a small hash,
updated by one Lua script on Redis's own clock, so replicas on different hosts share one bucket
and clock skew between them does not matter.
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.common.auth.keys import KeyRecord
from services.common.errors import Conflict, NotFound
from services.common.store.redis_guard import guarded, text
from services.common.store.security import KeyRegistry, RateLimiter

# KEYS[1] bucket; ARGV rate, burst, cost. Returns "0" when allowed, else seconds to wait.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisKeyRegistry(KeyRegistry):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._keys = f"{prefix}apikeys"
        self._revoked = f"{prefix}apikeys:revoked"

    def _record(self, raw: bytes | str | None, revoked: bool) -> KeyRecord | None:
        if raw is None:
            return None
        record = KeyRecord.model_validate_json(raw)
        record.revoked = record.revoked or revoked
        return record

    @guarded
    async def add(self, record: KeyRecord) -> None:
        if not await self._client.hsetnx(self._keys, record.id, record.model_dump_json()):
            raise Conflict(f"key id {record.id} already exists")

    @guarded
    async def get(self, key_id: str) -> KeyRecord | None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.hget(self._keys, key_id)
            pipe.sismember(self._revoked, key_id)
            raw, revoked = await pipe.execute()
        return self._record(raw, bool(revoked))

    @guarded
    async def list(self) -> list[KeyRecord]:
        raws = await self._client.hgetall(self._keys)
        revoked = {text(m) for m in await self._client.smembers(self._revoked)}
        records = [self._record(raw, text(k) in revoked) for k, raw in raws.items()]
        return sorted((r for r in records if r is not None), key=lambda r: (r.created_at, r.id))

    @guarded
    async def revoke(self, key_id: str) -> KeyRecord:
        if not await self._client.hexists(self._keys, key_id):
            raise NotFound(f"no key with id {key_id!r}")
        await self._client.sadd(self._revoked, key_id)
        record = await self.get(key_id)
        assert record is not None  # records are never deleted
        return record


class RedisRateLimiter(RateLimiter):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._prefix = f"{prefix}ratelimit:"
        self._script = client.register_script(TOKEN_BUCKET)

    @guarded
    async def take(self, bucket: str, rate: float, burst: float, cost: float = 1.0) -> float:
        out = await self._script(keys=[self._prefix + bucket],
                                 args=[repr(float(rate)), repr(float(burst)), repr(float(cost))])
        return float(out)
