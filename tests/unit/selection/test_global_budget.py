from __future__ import annotations

from services.common.selection import GlobalBudget
from services.common.store import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_two_scorers_share_one_budget_through_the_store():
    clock = Clock()
    store = MemoryStore(clock)
    a = GlobalBudget(store.kv, 0.1, window_s=600, warmup=100, flush_every=10, clock=clock)
    b = GlobalBudget(store.kv, 0.1, window_s=600, warmup=100, flush_every=10, clock=clock)
    granted = {"a": 0, "b": 0}
    # Scorer a sees 3 items for each of b's, and both would like a label for every item.
    for i in range(4000):
        name, budget = ("b", b) if i % 4 == 0 else ("a", a)
        await budget.note_seen()
        granted[name] += await budget.acquire()
        clock.now += 0.1
    total = granted["a"] + granted["b"]
    # The group gets 10% of the group's items (plus the warmup), not 10% per process on top.
    assert 0.09 * 4000 <= total <= 0.1 * (4000 + 100) + 5
    assert abs(await a.rate() - await b.rate()) < 1e-9


async def test_the_budget_is_the_groups_not_each_processs():
    clock = Clock()
    store = MemoryStore(clock)
    a = GlobalBudget(store.kv, 0.1, window_s=600, warmup=100, flush_every=10, clock=clock)
    b = GlobalBudget(store.kv, 0.1, window_s=600, warmup=100, flush_every=10, clock=clock)
    granted_b = 0
    # a's items are all easy (a asks for nothing); b's are all hard.
    for i in range(4000):
        if i % 4 == 0:
            await b.note_seen()
            granted_b += await b.acquire()
        else:
            await a.note_seen()
        clock.now += 0.1
    # b may spend what a left: ~10% of all 4000 items, where a per-process budget would have
    # capped it at 10% of its own 1000.
    assert granted_b >= 0.09 * 4000
    assert granted_b <= 0.1 * (4000 + 100) + 5


async def test_audit_is_counted_but_never_refused():
    clock = Clock()
    store = MemoryStore(clock)
    budget = GlobalBudget(store.kv, 0.01, window_s=60, warmup=10, clock=clock)
    for _ in range(5):
        await budget.note_seen()
        assert await budget.acquire(force=True)
    assert not await budget.acquire()  # audits used the whole allowance: 1% of (5 + 10)


async def test_old_windows_expire_so_the_budget_slides():
    clock = Clock()
    store = MemoryStore(clock)
    budget = GlobalBudget(store.kv, 0.1, window_s=60, warmup=20, flush_every=1, clock=clock)
    granted = 0
    for _ in range(100):
        await budget.note_seen()
        granted += await budget.acquire()
    assert granted == 12  # 10% of (100 seen + warmup 20)
    assert not await budget.acquire()
    clock.now += 180  # three windows later every counter has expired
    await budget.note_seen()
    assert await budget.acquire()
