"""The labels outbox (services/common/store/outbox.py), on the memory store and on Redis: what
enters it together with which queue change, order, removal, marks, and the drain lease."""

from __future__ import annotations

import asyncio

import pytest

from services.common.errors import Conflict
from services.common.schemas import LabelAction, LabelEvent, LabelSource, Reason
from services.common.store import Store
from tests.contract.test_store_contract import request, take


def event(event_id: str, item_id: str = "i", label: str = "x") -> LabelEvent:
    return LabelEvent(event_id=event_id, item_id=item_id, label=label, embedding=[0.1, -1e-7],
                      reviewer="r", reason=Reason.UNCERTAINTY)


async def outboxed(store: Store) -> list[LabelEvent]:
    return [e.event for e in await store.outbox.pending(1000)]


async def test_entries_come_back_in_order_and_leave_when_done(store: Store) -> None:
    ob = store.outbox
    assert await ob.add([event("a", "1"), event("b", "2")])
    assert await ob.add([event("c", "1")])
    entries = await ob.pending(10)
    assert [(e.event.event_id, e.key) for e in entries] == [("a", "1"), ("b", "2"), ("c", "1")]
    assert entries[0].event.embedding == [0.1, -1e-7]  # verbatim, no float re-formatting
    assert [e.event.event_id for e in await ob.pending(2)] == ["a", "b"]
    stats = await ob.stats()
    assert stats.pending == 3 and stats.oldest_age_s is not None and stats.oldest_age_s >= 0
    await ob.done([entries[0].id, entries[0].id, "0-1"])  # repeated and unknown ids: ignored
    assert [e.event.event_id for e in await ob.pending(10)] == ["b", "c"]
    await ob.done([e.id for e in entries])
    assert await ob.pending(10) == []
    assert (await ob.stats()).model_dump() == {"pending": 0, "oldest_age_s": None}


async def test_oldest_age_grows_while_an_entry_waits(store: Store) -> None:
    await store.outbox.add([event("a")])
    first = (await store.outbox.stats()).oldest_age_s
    await asyncio.sleep(0.25)
    later = (await store.outbox.stats()).oldest_age_s
    assert first is not None and later is not None and later - first >= 0.2


async def test_add_with_marks_is_once_only(store: Store) -> None:
    ob = store.outbox
    assert await ob.add([event("f1")], marks={"feedback:f1": b"1"}, once=True)
    assert await store.kv.get("feedback:f1") == b"1"
    assert not await ob.add([event("f1")], marks={"feedback:f1": b"1"}, once=True)
    assert [e.event_id for e in await outboxed(store)] == ["f1"]
    # Without `once` or `expect` the marks are simply written with the events.
    assert await ob.add([event("s1")], marks={"labels:state": b"{}"})
    assert await ob.add([event("s2")], marks={"labels:state": b'{"retired": []}'})
    assert await store.kv.get("labels:state") == b'{"retired": []}'
    assert [e.event_id for e in await outboxed(store)] == ["f1", "s1", "s2"]


async def test_a_k1_label_enters_the_outbox_with_the_vote_once(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    lease = await take(q, "alice")
    vote = await q.submit_label(lease.lease_id, "alice", "x")
    again = await q.submit_label(lease.lease_id, "alice", "x")  # a retried request
    assert again.duplicate
    assert await outboxed(store) == [vote.event]


async def test_pending_votes_stay_out_and_a_consensus_label_enters_once(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"), votes_needed=2)
    for name in ("alice", "bob"):
        last = await q.submit_label((await take(q, name)).lease_id, name, "x")
    assert last.complete and await outboxed(store) == []
    consensus = last.event.model_copy(update={"event_id": "c1", "reviewer": "consensus",
                                              "source": LabelSource.CONSENSUS})
    await q.set_current("a", consensus)
    await q.set_current("a", consensus.model_copy(update={"event_id": "c2"}))  # loses
    await q.set_current("a", consensus)  # a retry
    assert [e.event_id for e in await outboxed(store)] == ["c1"]


async def test_a_correction_of_a_published_label_enters_with_the_swap(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    vote = await q.submit_label((await take(q, "alice")).lease_id, "alice", "x")
    new = vote.event.model_copy(update={"event_id": "e2", "label": "y",
                                        "retracts": vote.event.event_id})
    assert await q.replace_label(vote.event.event_id, new, "alice", 30, publish=new) is None
    retract = new.model_copy(update={"event_id": "r3", "action": LabelAction.RETRACT,
                                     "retracts": "e2"})
    # A lost compare-and-swap changes nothing, so nothing enters the outbox either.
    with pytest.raises(Conflict):
        await q.replace_label(vote.event.event_id, None, "alice", 30, publish=retract)
    lease = await q.replace_label("e2", None, "alice", 30, publish=retract)
    assert lease is not None and lease.item.item_id == "a"  # undo: leased back
    assert [e.event_id for e in await outboxed(store)] == [vote.event.event_id, "e2", "r3"]


async def test_correcting_a_pending_vote_publishes_nothing(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"), votes_needed=2)
    vote = await q.submit_label((await take(q, "alice")).lease_id, "alice", "x")
    retract = vote.event.model_copy(update={"event_id": "r", "action": LabelAction.RETRACT})
    await q.replace_label(vote.event.event_id, None, "alice", 30, publish=retract)
    assert await outboxed(store) == []


async def test_the_drain_lease_has_one_holder(store: Store, second_store: Store) -> None:
    a, b = store.outbox, second_store.outbox
    assert await a.claim("relay-a", 0.4)
    assert not await b.claim("relay-b", 10)
    assert await a.claim("relay-a", 0.4)  # renewed by its holder
    await b.release("relay-b")  # not the holder: no effect
    assert not await b.claim("relay-b", 10)
    await asyncio.sleep(0.6)  # the holder died: the lease expires by itself
    assert await b.claim("relay-b", 10)
    await b.release("relay-b")
    assert await a.claim("relay-a", 10)


async def test_concurrent_claims_elect_one_holder(store: Store, second_store: Store) -> None:
    outboxes = [store.outbox, second_store.outbox] * 10
    won = await asyncio.gather(*(o.claim(f"relay-{i}", 10) for i, o in enumerate(outboxes)))
    assert sum(won) == 1
