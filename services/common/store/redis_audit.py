"""The audit trail on Redis (contract in store/audit.py).

Its own module so that the memory store never imports redis (make_store imports it lazily).
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.common.store.audit import AuditLog, AuditRecord
from services.common.store.redis_guard import guarded


class RedisAuditLog(AuditLog):
    """One list per item and one per actor; both written in one MULTI/EXEC."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}audit:"

    @guarded
    async def append(self, record: AuditRecord) -> None:
        raw = record.model_dump_json()
        async with self._client.pipeline(transaction=True) as pipe:
            if record.item_id is not None:
                pipe.rpush(f"{self._prefix}item:{record.item_id}", raw)
            pipe.rpush(f"{self._prefix}actor:{record.actor}", raw)
            await pipe.execute()

    @guarded
    async def _read(self, key: str, limit: int) -> list[AuditRecord]:
        raws = await self._client.lrange(key, -limit, -1)  # type: ignore[misc]
        return [AuditRecord.model_validate_json(r) for r in raws]

    @guarded
    async def by_item(self, item_id: str, limit: int = 100) -> list[AuditRecord]:
        return await self._read(f"{self._prefix}item:{item_id}", limit)

    @guarded
    async def by_actor(self, actor: str, limit: int = 100) -> list[AuditRecord]:
        return await self._read(f"{self._prefix}actor:{actor}", limit)
