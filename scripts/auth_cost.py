"""Per-request cost of API keys and rate limits on POST /v1/classify (docs/security.md): the
scorer in process with a hashing encoder, memory vs Redis store, auth off vs on.

    PYTHONPATH=. .venv/bin/python scripts/auth_cost.py   (needs Redis on 127.0.0.1:6379)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx

from services.common.auth import Role
from services.common.auth.keys import new_key
from services.common.bus import MemoryBus
from services.common.store import MemoryStore, Store
from services.common.store.redis import RedisStore
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.fakes import HashingEncoder


async def run(store: Store, auth: bool, n: int = 1500) -> float:
    await store.start()
    settings = ScorerSettings(auth=auth, rate_classify_per_s=1e6, rate_classify_burst=1e6)
    svc = build_scorer(settings, MemoryBus(), store, encoder=HashingEncoder())
    await svc.start()
    record, token = new_key(Role.APP, "bench")
    await store.keys.add(record)
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=svc.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(20):  # warm up
            await client.post("/v1/classify", json={"text": "a b c"}, headers=headers)
        started = time.perf_counter()
        for _ in range(n):
            resp = await client.post("/v1/classify", json={"text": "rocket launch orbit"},
                                     headers=headers)
            assert resp.status_code == 200, resp.text
        ms = (time.perf_counter() - started) / n * 1000
    await svc.stop()
    await store.stop()
    return ms


async def main() -> None:
    # Redis keys are left under authcost-*: redis-cli --scan --pattern 'authcost-*' | xargs
    stores: list[tuple[str, Callable[[], Store]]] = [
        ("memory", MemoryStore),
        ("redis", lambda: RedisStore("redis://127.0.0.1:6379/0",
                                     prefix=f"authcost-{uuid.uuid4().hex[:6]}:")),
    ]
    for name, make in stores:
        for auth in (False, True):
            ms = await run(make(), auth)
            print(f"{name:6} auth={'on ' if auth else 'off'}: {ms:.2f} ms/request")


if __name__ == "__main__":
    asyncio.run(main())
