"""The store contract on Redis (redis-py asyncio).

The review queue's multi-key operations are Lua scripts (store/redis_lua.py), registered once
and run with EVALSHA, so each is atomic: two reviewers leasing at the same moment can never get
the same item. The registry keeps record JSON and artifact bytes; versions come from INCR.
Durability is Redis's: with ``appendonly yes`` and ``appendfsync always`` an acknowledged write
(a submitted label) survives a Redis crash.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.common.errors import BackendUnavailable, NotFound, SignatureError
from services.common.store.base import (
    ModelRecord,
    ModelRegistry,
    ServingState,
    Store,
)
from services.common.store.redis_audit import RedisAuditLog
from services.common.store.redis_guard import guarded
from services.common.store.redis_kv import RedisKeyValue
from services.common.store.redis_lineage import RedisLineage
from services.common.store.redis_outbox import RedisOutbox
from services.common.store.redis_queue import RedisReviewQueue
from services.common.store.redis_security import RedisKeyRegistry, RedisRateLimiter

log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisModelRegistry(ModelRegistry):
    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._seq = f"{prefix}models:seq"
        self._records = f"{prefix}models:records"  # hash version -> ModelRecord JSON
        self._versions = f"{prefix}models:versions"  # zset version -> version
        self._artifact = f"{prefix}models:artifact:"
        self._serving = f"{prefix}models:serving"  # ServingState JSON

    @guarded
    async def next_version(self) -> int:
        return int(await self._client.incr(self._seq))

    @guarded
    async def put(self, record: ModelRecord, artifact: bytes) -> None:
        # One MULTI/EXEC: a version is visible only together with its artifact.
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(f"{self._artifact}{record.version}", artifact)
            pipe.hset(self._records, str(record.version), record.model_dump_json())
            pipe.zadd(self._versions, {str(record.version): record.version})
            await pipe.execute()

    @guarded
    async def get(self, version: int) -> tuple[ModelRecord, bytes]:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hget(self._records, str(version))
            pipe.get(f"{self._artifact}{version}")
            raw, artifact = await pipe.execute()
        if raw is None or artifact is None:
            raise NotFound(f"model version {version} does not exist")
        return _model_record(raw), bytes(artifact)

    @guarded
    async def latest(self) -> ModelRecord | None:
        top: list[bytes] = await self._client.zrevrange(self._versions, 0, 0)  # type: ignore[assignment]
        if not top:
            return None
        raw = await self._client.hget(self._records, top[0])
        return None if raw is None else _model_record(raw)

    @guarded
    async def versions(self) -> list[ModelRecord]:
        ids: list[bytes] = await self._client.zrange(self._versions, 0, -1)  # type: ignore[assignment]
        if not ids:
            return []
        raws = await self._client.hmget(self._records, ids)
        return [_model_record(r) for r in raws if r is not None]

    @guarded
    async def set_serving(self, state: ServingState) -> None:
        await self._client.set(self._serving, state.model_dump_json())

    @guarded
    async def serving(self) -> ServingState | None:
        raw = await self._client.get(self._serving)
        return None if raw is None else ServingState.model_validate_json(raw)

    @guarded
    async def delete(self, versions: list[int]) -> None:
        if not versions:
            return
        # Index entries first, in one transaction: nobody finds a version without its artifact.
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zrem(self._versions, *[str(v) for v in versions])
            pipe.hdel(self._records, *[str(v) for v in versions])
            pipe.delete(*[f"{self._artifact}{v}" for v in versions])
            await pipe.execute()


def _model_record(raw: bytes | str) -> ModelRecord:
    """A stored record that does not parse is treated like a bad signature: refused, clearly."""
    try:
        return ModelRecord.model_validate_json(raw)
    except ValidationError as exc:
        raise SignatureError(f"model record is malformed: {exc.error_count()} errors") from None


class RedisStore(Store):
    def __init__(self, url: str, prefix: str = "alstream:", retries: int = 5,
                 lineage_max_items: int = 100_000, lineage_max_age_s: float = 7 * 86400.0) -> None:
        self.url = url
        self.prefix = prefix
        # Transient connection drops (a Redis restart) are retried with backoff; the queue's
        # scripts are safe to retry: enqueue/heartbeat/submit are idempotent.
        self._client: Redis = Redis.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=5,
            health_check_interval=30,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=retries),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self.queue = RedisReviewQueue(self._client, prefix)
        self.outbox = RedisOutbox(self._client, prefix, self.queue.outbox_key)
        self.models = RedisModelRegistry(self._client, prefix)
        self.kv = RedisKeyValue(self._client, prefix)
        self.keys = RedisKeyRegistry(self._client, prefix)
        self.limits = RedisRateLimiter(self._client, prefix)
        self.audit = RedisAuditLog(self._client, prefix)
        self.lineage = RedisLineage(self._client, prefix, lineage_max_items, lineage_max_age_s)

    @property
    def client(self) -> Redis:
        return self._client

    async def start(self) -> None:
        try:
            await self._client.ping()
        except RedisError as exc:
            raise BackendUnavailable(f"Redis at {redact(self.url)} is unreachable: {exc}") from exc

    async def stop(self) -> None:
        await self._client.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except RedisError as exc:
            log.warning("Redis ping failed: %s", exc)
            return False
