"""Two scorer processes' budgets on the real Redis store: one budget for the group."""

from __future__ import annotations

import asyncio

import pytest

from services.common.selection import GlobalBudget
from services.common.store.redis import RedisStore

pytestmark = pytest.mark.integration


async def test_concurrent_scorers_share_one_budget_in_redis(redis_url, redis_prefix):
    stores = [RedisStore(redis_url, prefix=redis_prefix) for _ in range(2)]
    for s in stores:
        await s.start()
    try:
        budgets = [GlobalBudget(s.kv, 0.1, warmup=100, flush_every=10)
                   for s in stores]

        async def scorer(budget: GlobalBudget, n: int) -> int:
            granted = 0
            for _ in range(n):  # every item wanted: only the shared budget says no
                await budget.note_seen()
                granted += await budget.acquire()
            return granted

        a, b = await asyncio.gather(scorer(budgets[0], 1500), scorer(budgets[1], 1500))
        assert 0.1 * 3000 - 5 <= a + b <= 0.1 * 3000 + 1  # exact: the warm-up allowance is gone
        assert a > 0 and b > 0
        assert abs(await budgets[0].rate() - (a + b) / 3000) < 0.02
    finally:
        for s in stores:
            await s.stop()
