from __future__ import annotations

from services.common.selection import GlobalBudget
from services.common.selection.budget import budget_cap
from services.common.store import MemoryStore


async def test_two_scorers_share_one_exact_budget_through_the_store():
    store = MemoryStore()
    a = GlobalBudget(store.kv, 0.1, warmup=100, flush_every=10)
    b = GlobalBudget(store.kv, 0.1, warmup=100, flush_every=10)
    granted = {"a": 0, "b": 0}
    # Scorer a sees 3 items for each of b's, and both would like a label for every item.
    for i in range(4000):
        name, budget = ("b", b) if i % 4 == 0 else ("a", a)
        await budget.note_seen()
        granted[name] += await budget.acquire()
        total = granted["a"] + granted["b"]
        # The group never holds more than budget x the group's items (+ the warm-up
        # allowance, which is gone by item 1000), at any point.
        assert total < budget_cap(0.1, i + 1, 100, 1000) + 1
    # ... and spends it: unflushed counts only lag by a few items' worth.
    assert total >= 0.1 * 4000 - 3
    assert abs(await a.rate() - await b.rate()) < 1e-9


async def test_the_budget_is_the_groups_not_each_processs():
    store = MemoryStore()
    a = GlobalBudget(store.kv, 0.1, warmup=100, flush_every=10)
    b = GlobalBudget(store.kv, 0.1, warmup=100, flush_every=10)
    granted_b = 0
    # a's items are all easy (a asks for nothing); b's are all hard.
    for i in range(4000):
        if i % 4 == 0:
            await b.note_seen()
            granted_b += await b.acquire()
        else:
            await a.note_seen()
    # b may spend what a left: ~10% of all 4000 items, where a per-process budget would have
    # capped it at 10% of its own 1000.
    assert 0.1 * 4000 - 5 <= granted_b <= 0.1 * 4000 + 1


async def test_audit_labels_count_and_are_refused_too_when_the_budget_is_spent():
    store = MemoryStore()
    budget = GlobalBudget(store.kv, 0.01, warmup=50, ramp=1000, flush_every=1)
    await budget.note_seen()
    assert await budget.acquire()  # 1% of (1 + 49.95 allowance) = 0.51: one (whole) label
    assert not await budget.acquire()
    assert (await budget.counts())["asked"] == 1


async def test_savings_beyond_the_bank_are_forfeit():
    store = MemoryStore()
    budget = GlobalBudget(store.kv, 0.1, warmup=0, bank_items=100, flush_every=1)
    for _ in range(1000):  # a quiet spell: 100 labels' worth of budget unused
        await budget.note_seen()
    granted = 0
    for _ in range(50):
        await budget.note_seen()
        granted += await budget.acquire()
    # Only the bank (10 labels) plus what the 50 new items earn (5) is left to spend.
    assert 15 <= granted <= 16  # the forfeit is whole labels, rounded down
    counts = await budget.counts()
    assert counts["asked"] + counts["forfeit"] <= 0.1 * counts["seen"]
