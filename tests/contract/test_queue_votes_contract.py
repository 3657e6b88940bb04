"""Store contract, part two: k votes per item, corrections and undo, re-scoring, audit."""

from __future__ import annotations

import pytest

from services.common.errors import Conflict, NotFound
from services.common.schemas import LabelAction, LabelSource
from services.common.store import AuditRecord, Rescore, Store
from tests.contract.test_store_contract import request, take


async def test_k_votes_come_from_distinct_reviewers(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a", 0.9), votes_needed=2)
    await q.enqueue(request("b", 0.1))
    first = await take(q, "alice")
    vote = await q.submit_label(first.lease_id, "alice", "x")
    assert not vote.complete and vote.current is None and len(vote.votes) == 1
    # alice already voted on "a": she gets "b"; bob gets "a" with one vote in
    assert (await take(q, "alice")).item.item_id == "b"
    second = await take(q, "bob")
    assert (second.item.item_id, second.votes, second.votes_needed) == ("a", 1, 2)
    done = await q.submit_label(second.lease_id, "bob", "y")
    assert done.complete and done.current is None
    assert [v.reviewer for v in done.votes] == ["alice", "bob"]
    assert (await q.stats()).labeled == 1


async def test_split_vote_reopens_once_then_consolidates(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a", 0.2), votes_needed=2)
    await q.enqueue(request("other", 0.5))
    for name, label in (("alice", "x"), ("bob", "y")):
        lease = await take(q, name)
        if lease.item.item_id == "other":
            lease = await take(q, name)
        last = await q.submit_label(lease.lease_id, name, label)
    assert last.complete
    assert await q.reopen("a", 2, 3, priority=0.95)
    assert not await q.reopen("a", 2, 3, priority=0.95)  # a retried request: no second reopen
    carol = await take(q, "carol")
    assert (carol.item.item_id, carol.item.priority, carol.votes_needed) == ("a", 0.95, 3)
    third = await q.submit_label(carol.lease_id, "carol", "x")
    assert third.complete and len(third.votes) == 3
    consensus = third.event.model_copy(update={"event_id": "c1", "reviewer": "consensus",
                                               "source": LabelSource.CONSENSUS})
    assert await q.set_current("a", consensus) == consensus
    other = consensus.model_copy(update={"event_id": "c2"})
    assert (await q.set_current("a", other)).event_id == "c1"  # the first one wins
    found = await q.find_label("c1")
    assert found is not None and found.current
    with pytest.raises(Conflict):
        await q.set_current("other", consensus)


async def test_correction_replaces_the_live_label_once(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"))
    lease = await take(q, "alice")
    old = (await q.submit_label(lease.lease_id, "alice", "x")).event
    record = await q.find_label(old.event_id)
    assert record is not None and record.current and record.event == old
    new = old.model_copy(update={"event_id": "n1", "label": "y", "retracts": old.event_id})
    assert await q.replace_label(old.event_id, new, "alice", 30) is None
    assert await q.find_label(old.event_id) is None  # no longer live
    live = await q.find_label("n1")
    assert live is not None and live.event.label == "y"
    with pytest.raises(Conflict, match="no longer the item's live label"):
        await q.replace_label(old.event_id, None, "alice", 30)
    with pytest.raises(NotFound):
        await q.replace_label("never", None, "alice", 30)


async def test_undo_gives_the_item_back_to_its_reviewer(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a", 0.9))
    await q.enqueue(request("b", 0.1))
    lease = await take(q, "alice")
    old = (await q.submit_label(lease.lease_id, "alice", "x")).event
    again = await q.replace_label(old.event_id, None, "alice", 30)
    assert again is not None and again.item.item_id == "a" and again.reviewer == "alice"
    assert (await q.stats()).labeled == 0
    relabel = await q.submit_label(again.lease_id, "alice", "y")
    assert relabel.complete and relabel.current is not None
    assert relabel.current.label == "y"


async def test_undo_of_a_pending_vote(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("a"), votes_needed=2)
    lease = await take(q, "alice")
    vote = (await q.submit_label(lease.lease_id, "alice", "x")).event
    record = await q.find_label(vote.event_id)
    assert record is not None and record.pending
    back = await q.replace_label(vote.event_id, None, "alice", 30)
    assert back is not None and back.votes == 0
    redo = await q.submit_label(back.lease_id, "alice", "y")
    assert not redo.complete and [v.label for v in redo.votes] == ["y"]


async def test_rescore_moves_queued_items(store: Store) -> None:
    q = store.queue
    await q.enqueue(request("sure", 0.9))
    await q.enqueue(request("unsure", 0.5))
    n = await q.rescore({
        "sure": Rescore(priority=0.05, predicted_label="a", probabilities={"a": 0.99},
                        model_version=7, suggestion="a"),
        "missing": Rescore(priority=1.0, predicted_label=None, probabilities={},
                           model_version=7),
    })
    assert n == 1
    order = [i.item_id for i in await q.queued(10)]
    assert order == ["unsure", "sure"]
    await take(q, "r")
    lease = await take(q, "r")
    assert (lease.item.item_id, lease.item.model_version, lease.item.suggestion) == \
        ("sure", 7, "a")
    event = (await q.submit_label(lease.lease_id, "r", "b")).event
    assert event.model_version == 7 and event.action is LabelAction.LABEL


@pytest.mark.parametrize("rescored", [False, True])
async def test_a_reopened_item_keeps_its_scores_under_the_new_priority(
        store: Store, rescored: bool) -> None:
    q = store.queue
    await q.enqueue(request("a", 0.2), votes_needed=2)
    if rescored:
        await q.rescore({"a": Rescore(priority=0.1, predicted_label="b", probabilities={"b": 0.8},
                                      model_version=7, suggestion="b")})
    for name, label in (("alice", "x"), ("bob", "y")):
        await q.submit_label((await take(q, name)).lease_id, name, label)
    assert await q.reopen("a", 2, 3, priority=0.95)
    item = (await take(q, "carol")).item
    seen = (item.priority, item.predicted_label, item.probabilities, item.model_version,
            item.suggestion)
    assert seen == ((0.95, "b", {"b": 0.8}, 7, "b") if rescored
                    else (0.95, "a", {"a": 0.6, "b": 0.4}, 3, None))


async def test_audit_trail_is_append_only_per_item_and_actor(store: Store) -> None:
    log = store.audit
    await log.append(AuditRecord(actor="alice", role="reviewer", action="lease", item_id="a/b"))
    await log.append(AuditRecord(actor="alice", action="label", item_id="a/b", label="x"))
    await log.append(AuditRecord(actor="bob", action="label_set", detail={"op": "rename"}))
    item = await log.by_item("a/b")
    assert [r.action for r in item] == ["lease", "label"]
    assert [r.action for r in await log.by_actor("alice", limit=1)] == ["label"]
    assert (await log.by_actor("bob"))[0].detail == {"op": "rename"}
    assert await log.by_item("nothing") == []
