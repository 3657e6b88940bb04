"""The security store contracts (services/common/store/security.py) on memory and Redis:
the API key registry and the per-key token buckets."""

from __future__ import annotations

import asyncio

import pytest

from services.common.auth import Role
from services.common.auth.keys import new_key, parse_token, secret_matches
from services.common.errors import Conflict, NotFound
from services.common.store import Store


async def test_keys_are_added_once_listed_and_found(store: Store) -> None:
    a, token_a = new_key(Role.REVIEWER, "alice")
    b, _ = new_key(Role.APP, "crm")
    await store.keys.add(a)
    await store.keys.add(b)
    with pytest.raises(Conflict):
        await store.keys.add(a)
    got = await store.keys.get(a.id)
    assert got == a and not got.revoked
    parsed = parse_token(token_a)
    assert parsed is not None and parsed[0] == a.id and secret_matches(got, parsed[1])
    assert await store.keys.get("000000000000") is None
    ids = [k.id for k in await store.keys.list()]
    assert a.id in ids and b.id in ids


async def test_revoke_is_idempotent_and_seen_by_other_clients(store: Store,
                                                              second_store: Store) -> None:
    record, _ = new_key(Role.APP, "app")
    await store.keys.add(record)
    assert (await store.keys.revoke(record.id)).revoked
    assert (await store.keys.revoke(record.id)).revoked
    seen = await second_store.keys.get(record.id)
    assert seen is not None and seen.revoked
    assert any(k.id == record.id and k.revoked for k in await second_store.keys.list())
    with pytest.raises(NotFound):
        await store.keys.revoke("ffffffffffff")


async def test_token_bucket_spends_burst_then_refuses_with_a_wait(store: Store) -> None:
    results = [await store.limits.take("t:burst", rate=1.0, burst=3.0) for _ in range(5)]
    assert results[:3] == [0.0, 0.0, 0.0]
    assert all(0 < w <= 1.0 for w in results[3:])


async def test_token_bucket_refills_at_the_rate(store: Store) -> None:
    for _ in range(2):
        assert await store.limits.take("t:refill", rate=10.0, burst=2.0) == 0.0
    assert await store.limits.take("t:refill", rate=10.0, burst=2.0) > 0
    await asyncio.sleep(0.25)  # 2.5 tokens' worth, capped at the burst of 2
    assert await store.limits.take("t:refill", rate=10.0, burst=2.0) == 0.0


async def test_buckets_are_independent_and_shared_between_clients(
        store: Store, second_store: Store) -> None:
    for _ in range(2):
        assert await store.limits.take("t:flood", rate=0.5, burst=2.0) == 0.0
    assert await second_store.limits.take("t:flood", rate=0.5, burst=2.0) > 0  # one bucket
    assert await second_store.limits.take("t:polite", rate=0.5, burst=2.0) == 0.0


async def test_concurrent_takes_never_overspend(store: Store, second_store: Store) -> None:
    waits = await asyncio.gather(*(s.limits.take("t:race", rate=0.01, burst=10.0)
                                   for s in [store, second_store] * 15))
    assert sum(1 for w in waits if w == 0.0) == 10
