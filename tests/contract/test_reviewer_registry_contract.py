"""The reviewer-name registry under concurrency, on the memory store and on Redis.

It used to be a read-modify-write of one JSON list: two processes registering their first
reviewers at the same moment each wrote their own list, and one name was lost until that
reviewer's next vote. Now it is a set (KeyValue.add_members, Redis SADD).
"""

from __future__ import annotations

import asyncio

from services.common.store import Store
from services.review_api.consensus import Vote
from services.review_api.reviewers import ReviewerStats

N = 60  # reviewers registering at once, spread over two clients (two processes on Redis)


async def test_add_members_counts_only_new_members(store: Store) -> None:
    kv = store.kv
    assert await kv.add_members("s", "a", "b") == 2
    assert await kv.add_members("s", "b", "c", "c") == 1
    assert await kv.members("s") == {"a", "b", "c"}
    assert await kv.members("missing") == frozenset()
    await kv.delete("s")
    assert await kv.members("s") == frozenset()


async def test_concurrent_adds_all_land(store: Store, second_store: Store) -> None:
    kvs = [store.kv, second_store.kv]
    await asyncio.gather(*(kvs[i % 2].add_members("names", f"r{i}") for i in range(N)))
    assert await store.kv.members("names") == {f"r{i}" for i in range(N)}


async def test_first_votes_of_many_reviewers_at_once_are_all_registered(
    store: Store, second_store: Store
) -> None:
    # One ReviewerStats per reviewer: a process of its own, with an empty local cache, as
    # when N review API replicas see their first vote at the same time.
    stats = [ReviewerStats((store if i % 2 else second_store).kv) for i in range(N)]
    await asyncio.gather(*(s.voted(f"reviewer-{i}") for i, s in enumerate(stats)))
    report = await ReviewerStats(store.kv).report(n_labels=2)
    assert sorted(r.reviewer for r in report.reviewers) == sorted(f"reviewer-{i}"
                                                                   for i in range(N))
    assert all(r.labels == 1 and r.today == 1 for r in report.reviewers)


async def test_concurrent_consolidations_register_every_label(
    store: Store, second_store: Store
) -> None:
    # The label-name registry (kappa's label list) had the same read-modify-write.
    async def consolidate(i: int) -> None:
        s = ReviewerStats((store if i % 2 else second_store).kv)
        votes = [Vote("a", f"label-{i}"), Vote("b", f"label-{i}")]
        await s.consolidated(votes, f"label-{i}", [("a", True, 0.9), ("b", True, 0.9)])

    await asyncio.gather(*(consolidate(i) for i in range(N)))
    assert await store.kv.members("rev:label-names") == {f"label-{i}" for i in range(N)}
    report = await ReviewerStats(store.kv).report(n_labels=N)
    assert report.items == N and report.fleiss_kappa == 1.0


async def test_names_recorded_by_older_versions_are_still_reported(store: Store) -> None:
    await store.kv.set("rev:names", b'["old-timer"]')
    await ReviewerStats(store.kv).voted("newcomer")
    report = await ReviewerStats(store.kv).report(n_labels=2)
    assert [r.reviewer for r in report.reviewers] == ["newcomer", "old-timer"]
