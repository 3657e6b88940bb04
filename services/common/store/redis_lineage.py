"""Lineage in Redis: one key per entry (TTL = max age) plus an index zset trimmed by count."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from services.common.schemas import Prediction
from services.common.store.lineage import LabelFact, Lineage
from services.common.store.redis import guarded

# KEYS[1]: the index zset (key -> time written). ARGV: max_items, ttl_ms, now_s, then key/value
# pairs. Entries expire by TTL; the index is trimmed by count (deleting the evicted keys) and by
# age. Entry keys are passed as ARGV: fine on a single Redis, not on Redis Cluster.
PUT_BOUNDED = """
local ttl = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  redis.call('SET', ARGV[i], ARGV[i + 1], 'PX', ttl)
  redis.call('ZADD', KEYS[1], now, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl / 1000)
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, extra - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
  redis.call('DEL', unpack(old))
end
return extra
"""


class RedisLineage(Lineage):
    def __init__(self, client: Redis, prefix: str, max_items: int = 100_000,
                 max_age_s: float = 7 * 86400.0) -> None:
        super().__init__(max_items, max_age_s)
        self._client = client
        self._p = f"{prefix}lineage:prediction:"
        self._l = f"{prefix}lineage:label:"
        self._put = client.register_script(PUT_BOUNDED)

    @guarded
    async def _put_many(self, prefix: str, pairs: list[tuple[str, str]]) -> None:
        args: list[str | int | float] = [self.max_items, max(1, int(self.max_age_s * 1000)),
                                         time.time()]
        for key, value in pairs:
            args += [prefix + key, value]
        await self._put(keys=[prefix.rstrip(":") + "s"], args=args)

    async def put_predictions(self, predictions: list[Prediction]) -> None:
        if predictions:
            await self._put_many(self._p, [(p.doc_id, p.model_dump_json()) for p in predictions])

    @guarded
    async def prediction(self, doc_id: str) -> Prediction | None:
        raw = await self._client.get(self._p + doc_id)
        return None if raw is None else Prediction.model_validate_json(raw)

    async def put_labels(self, facts: list[LabelFact]) -> None:
        if facts:
            await self._put_many(self._l, [(f.item_id, f.model_dump_json()) for f in facts])

    @guarded
    async def label(self, item_id: str) -> LabelFact | None:
        raw = await self._client.get(self._l + item_id)
        return None if raw is None else LabelFact.model_validate_json(raw)
