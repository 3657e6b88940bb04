"""The store contract (services/common/store/base.py), run on the memory store and on Redis."""

from __future__ import annotations

import asyncio

import pytest

from services.common.errors import Conflict, Forbidden, NotFound
from services.common.schemas import Reason, ReviewRequest
from services.common.store import ModelRecord, Store

TTL = 0.5  # short leases, so expiry is tested in real time


def request(item_id: str, priority: float = 0.5) -> ReviewRequest:
    return ReviewRequest(
        item_id=item_id, text=f"text of {item_id}", embedding=[0.25, -0.5, 1.0],
        priority=priority, reason=Reason.UNCERTAINTY, predicted_label="a",
        probabilities={"a": 0.6, "b": 0.4}, model_version=3,
    )


# -- review queue ------------------------------------------------------------------------
async def take(q, reviewer: str, ttl: float = 30):  # type: ignore[no-untyped-def]
    lease = await q.lease(reviewer, ttl)
    assert lease is not None
    return lease


async def test_enqueue_is_idempotent_in_every_state(store: Store) -> None:
    q = store.queue
    assert await q.enqueue(request("queued", 0.1))
    assert await q.enqueue(request("leased", 0.5))
    assert await q.enqueue(request("labeled", 0.9))
    assert not await q.enqueue(request("queued"))
    assert (await q.stats()).depth == 3

    first = await take(q, "r")
    await q.submit_label(first.lease_id, "r", "x")
    await take(q, "r")
    for item_id in ("queued", "leased", "labeled"):
        assert not await q.enqueue(request(item_id, priority=0.99))
    stats = await q.stats()
    assert (stats.depth, stats.leased, stats.labeled) == (1, 1, 1)


async def test_lease_order_is_priority_then_age(store: Store) -> None:
    q = store.queue
    for item_id, priority in [("low", 0.1), ("high-old", 0.9), ("mid", 0.5), ("high-new", 0.9)]:
        await q.enqueue(request(item_id, priority))
        await asyncio.sleep(0.01)
    order = []
    while (lease := await q.lease("r", 30)) is not None:
        order.append(lease.item.item_id)
    assert order == ["high-old", "high-new", "mid", "low"]


async def test_lease_returns_the_stored_item_with_a_lease_id(store: Store) -> None:
    item = request("i1", 0.7)
    await store.queue.enqueue(item)
    lease = await take(store.queue, "alice")
    assert lease.item == item
    assert lease.reviewer == "alice" and len(lease.lease_id) >= 16
    assert (lease.votes, lease.votes_needed) == (0, 1)
    assert await store.queue.get("i1") == item
    assert await store.queue.get("nope") is None


async def test_item_ids_with_slashes_work(store: Store) -> None:
    await store.queue.enqueue(request("https://example.com/a/b?c=1", 0.7))
    lease = await take(store.queue, "alice")
    result = await store.queue.submit_label(lease.lease_id, "alice", "x")
    assert result.event.item_id == "https://example.com/a/b?c=1" and result.complete


async def test_empty_queue_leases_nothing(store: Store) -> None:
    assert await store.queue.lease("r", 30) is None


async def test_skipped_item_is_not_leased_again_to_the_same_reviewer(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a", 0.9))
    await q.enqueue(request("b", 0.1))
    first = await take(q, "alice")
    assert first.item.item_id == "a"
    await q.skip(first.lease_id, "alice")
    second = await take(q, "alice")
    assert second.item.item_id == "b"
    assert await q.lease("alice", 30) is None  # "a" is back, but not for alice
    other = await take(q, "bob")
    assert other.item.item_id == "a"
    with pytest.raises(Conflict, match="given back"):
        await q.heartbeat(first.lease_id, "alice", 30)


async def test_expired_lease_returns_the_item(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    lease = await take(q, "alice", TTL)
    assert await q.lease("bob", TTL) is None  # never leased to two reviewers at once
    await asyncio.sleep(TTL + 0.3)
    again = await take(q, "bob")
    assert again.item.item_id == "a" and again.lease_id != lease.lease_id
    with pytest.raises(Conflict, match="expired"):
        await q.submit_label(lease.lease_id, "alice", "x")  # alice's lease is gone
    with pytest.raises(Conflict):
        await q.heartbeat(lease.lease_id, "alice", 30)
    result = await q.submit_label(again.lease_id, "bob", "y")
    assert result.event.label == "y" and not result.duplicate


async def test_expired_items_keep_their_place(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("first", 0.5))
    await asyncio.sleep(0.01)
    await q.enqueue(request("second", 0.5))
    assert (await take(q, "alice", TTL)).item.item_id == "first"
    await asyncio.sleep(TTL + 0.3)
    assert (await take(q, "bob")).item.item_id == "first"


async def test_heartbeat_extends_the_lease(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    lease = await take(q, "alice", TTL)
    await asyncio.sleep(TTL * 0.6)
    extended = await q.heartbeat(lease.lease_id, "alice", 2.0)
    assert extended.expires_at > lease.expires_at + 1.0
    assert extended.item.item_id == "a" and extended.lease_id == lease.lease_id
    await asyncio.sleep(TTL * 0.8)  # past the original expiry
    assert await q.lease("bob", 30) is None
    assert not (await q.submit_label(lease.lease_id, "alice", "x")).duplicate


async def test_errors_name_the_problem(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    with pytest.raises(NotFound, match="unknown lease"):
        await q.heartbeat("missing", "alice", 30)
    with pytest.raises(NotFound):
        await q.skip("missing", "alice")
    with pytest.raises(NotFound):
        await q.submit_label("missing", "alice", "x")
    lease = await take(q, "alice")
    for op in (q.heartbeat(lease.lease_id, "bob", 30), q.skip(lease.lease_id, "bob"),
               q.submit_label(lease.lease_id, "bob", "x")):
        with pytest.raises(Forbidden, match="another reviewer"):
            await op


async def test_submit_label_is_idempotent(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    lease = await take(q, "alice")
    first = await q.submit_label(lease.lease_id, "alice", "sports")
    again = await q.submit_label(lease.lease_id, "alice", "sports")
    assert not first.duplicate and again.duplicate and first.complete and again.complete
    assert again.event == first.event  # the first event, never a second one
    assert first.current == first.event  # k=1: the vote is the published label
    assert first.event.embedding == [0.25, -0.5, 1.0]
    event = first.event
    assert (event.item_id, event.reviewer, event.model_version) == ("a", "alice", 3)
    with pytest.raises(Conflict, match="already used"):
        await q.submit_label(lease.lease_id, "alice", "politics")
    with pytest.raises(Conflict):
        await q.heartbeat(lease.lease_id, "alice", 30)  # a finished lease cannot be extended
    assert (await q.stats()).labeled == 1


async def test_lease_cap_hands_back_the_reviewers_own_lease(store: Store) -> None:
    q = store.queue
    for i in range(5):
        await q.enqueue(request(f"i{i}", 0.9 - i / 10))
    first = await q.lease("greedy", 30, max_leases=2)
    second = await q.lease("greedy", 30, max_leases=2)
    third = await q.lease("greedy", 30, max_leases=2)
    assert first and second and third
    assert first.lease_id != second.lease_id
    assert third.lease_id == first.lease_id  # the oldest of their own, not a new item
    assert (await q.stats()).leased == 2
    honest = await q.lease("honest", 30, max_leases=2)
    assert honest is not None and honest.item.item_id == "i2"


async def test_concurrent_leases_never_share_an_item(store: Store, second_store: Store) -> None:
    n_items, n_reviewers = 40, 100
    for i in range(n_items):
        await store.queue.enqueue(request(f"i{i}", priority=(i % 7) / 7))
    # Half the reviewers go through a second client, as a second API process would.
    leases = await asyncio.gather(*[
        (store if r % 2 else second_store).queue.lease(f"r{r}", 30) for r in range(n_reviewers)
    ])
    got = [lease.item.item_id for lease in leases if lease is not None]
    assert len(got) == n_items
    assert len(set(got)) == n_items
    assert (await store.queue.stats()).leased == n_items


async def test_concurrent_submits_record_one_label(store: Store, second_store: Store) -> None:
    await store.queue.enqueue(request("a"))
    lease = await take(store.queue, "alice")
    results = await asyncio.gather(*[
        (store if i % 2 else second_store).queue.submit_label(lease.lease_id, "alice", "x")
        for i in range(20)
    ])
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.event.event_id for r in results}) == 1


async def test_stats(store: Store) -> None:
    q = store.queue
    empty = await q.stats()
    assert (empty.depth, empty.leased, empty.labeled, empty.oldest_age_s) == (0, 0, 0, None)
    for i in range(3):
        await q.enqueue(request(f"i{i}"))
    await asyncio.sleep(0.2)
    lease = await take(q, "r")
    await q.submit_label(lease.lease_id, "r", "x")
    await q.lease("r", 30)
    stats = await q.stats()
    assert (stats.depth, stats.leased, stats.labeled) == (1, 1, 1)
    assert stats.oldest_age_s is not None and 0.15 < stats.oldest_age_s < 5


# -- model registry -------------------------------------------------------------------------
def record(version: int) -> ModelRecord:
    return ModelRecord(
        version=version, sha256=f"{version:064x}", signature="sig", classes=["a", "b"],
        n_labels=10 * version, metrics={"accuracy": 0.5 + version / 100}, created_at=1.5e9,
    )


async def test_registry_versions_and_artifacts(store: Store) -> None:
    models = store.models
    assert await models.latest() is None
    assert await models.versions() == []
    v1, v2 = await models.next_version(), await models.next_version()
    assert v2 == v1 + 1
    artifact = bytes(range(256)) * 10  # arbitrary binary, not text
    await models.put(record(v2), artifact + b"2")
    await models.put(record(v1), artifact + b"1")
    assert await models.latest() == record(v2)
    assert [r.version for r in await models.versions()] == [v1, v2]
    rec, art = await models.get(v1)
    assert rec == record(v1) and art == artifact + b"1"
    with pytest.raises(NotFound):
        await models.get(v2 + 100)


async def test_next_version_is_atomic(store: Store, second_store: Store) -> None:
    versions = await asyncio.gather(*[
        (store if i % 2 else second_store).models.next_version() for i in range(50)
    ])
    assert len(set(versions)) == 50


# -- key-value ------------------------------------------------------------------------------
async def test_kv_set_get_delete(store: Store) -> None:
    kv = store.kv
    assert await kv.get("k") is None
    await kv.set("k", b"\x00\xffvalue")
    assert await kv.get("k") == b"\x00\xffvalue"
    await kv.delete("k")
    assert await kv.get("k") is None
    await kv.delete("k")  # deleting nothing is fine


async def test_kv_ttl_and_set_if_absent(store: Store) -> None:
    kv = store.kv
    assert await kv.set_if_absent("mark", b"1", ttl_s=TTL)
    assert not await kv.set_if_absent("mark", b"2", ttl_s=TTL)
    assert await kv.get("mark") == b"1"
    await kv.set("temp", b"x", ttl_s=TTL)
    await asyncio.sleep(TTL + 0.3)
    assert await kv.get("mark") is None and await kv.get("temp") is None
    assert await kv.set_if_absent("mark", b"3")


async def test_kv_incr(store: Store) -> None:
    kv = store.kv
    assert await kv.incr("n") == 1.0
    assert await kv.incr("n", 2.5) == 3.5
    assert float(await kv.get("n") or b"nan") == 3.5
    assert await kv.incr("t", 1, ttl_s=TTL) == 1.0
    assert await kv.incr("t", 1, ttl_s=60) == 2.0  # the TTL is set when the key is created
    await asyncio.sleep(TTL + 0.3)
    assert await kv.get("t") is None
    assert await kv.incr("n", -0.5) == 3.0
