"""The governed label set under concurrency, on the memory store and on Redis.

Its state (``labels:state``) is one JSON document. It used to be written read-modify-write:
two admins changing it at the same moment each wrote their own document, one change was lost
from the label set while both label_set events still reached the model. Now every write is a
compare-and-set (with the change's outbox entry in the same step), and a loser plans again.
"""

from __future__ import annotations

import asyncio

from services.common.errors import Conflict, NotFound
from services.common.labels import STATE_KEY, LabelGovernance, LabelState
from services.common.schemas import LabelAction, LabelEvent, Reason
from services.common.store import Store

N = 36  # changes, half from each client
WORKERS = 3  # concurrent admins per client: 6 writers at once (18 measured fine too)
ANCHORS = [f"keep{j}" for j in range(4)]  # merge targets, never changed themselves
LABELS = [f"l{i}" for i in range(N)] + ANCHORS


class Racing(LabelGovernance):
    """A client that yields between reading the label set and writing it, as a network round
    trip does: another client's change can land in between (on the memory store too)."""

    async def _read(self) -> tuple[bytes | None, LabelState]:
        out = await super()._read()
        await asyncio.sleep(0)
        return out


def clients(store: Store, second: Store, fixed: list[str] | None) -> list[Racing]:
    return [Racing(s.kv, fixed, outbox=s.outbox) for s in (store, second)]


def op_for(i: int) -> tuple[str, str, str | None]:
    if i % 3 == 0:
        return "rename", f"l{i}", f"x{i}"
    if i % 3 == 1:
        return "merge", f"l{i}", ANCHORS[i % 4]
    return "retire", f"l{i}", None


async def label_set_events(store: Store) -> list[LabelEvent]:
    return [e.event for e in await store.outbox.pending(10_000)
            if e.event.action == LabelAction.LABEL_SET]


async def test_compare_and_set_and_transfer(store: Store) -> None:
    kv = store.kv
    assert await kv.compare_and_set("k", None, b"")  # absent -> empty: set
    assert not await kv.compare_and_set("k", None, b"x")  # empty is not absent
    assert await kv.compare_and_set("k", b"", b"v1")
    assert not await kv.compare_and_set("k", b"v0", b"v2")
    assert await kv.get("k") == b"v1"
    await kv.incr("c:a", 3)
    await kv.incr("c:b", 2)
    assert await kv.transfer("c:a", "c:b") == 3.0
    assert await kv.transfer("c:a", "c:b") == 0.0  # moved once only
    assert await kv.get("c:a") is None and float(await kv.get("c:b") or 0) == 5.0


async def test_outbox_add_with_expect_is_a_compare_and_set(store: Store) -> None:
    ob, kv = store.outbox, store.kv
    e1, e2 = (LabelEvent(event_id=i, item_id=i, label="x", embedding=[], reviewer="r",
                         reason=Reason.UNCERTAINTY) for i in ("e1", "e2"))
    assert await ob.add([e1], marks={"doc": b"v1"}, expect={"doc": None})
    assert not await ob.add([e2], marks={"doc": b"v2"}, expect={"doc": None})
    assert not await ob.add([e2], marks={"doc": b"v2"}, expect={"doc": b"v0"})
    assert await kv.get("doc") == b"v1"  # a failed add writes nothing: marks nor events
    assert [e.event.event_id for e in await ob.pending(10)] == ["e1"]
    assert await ob.add([e2], marks={"doc": b"v2"}, expect={"doc": b"v1"})
    assert [e.event.event_id for e in await ob.pending(10)] == ["e1", "e2"]


async def test_concurrent_changes_from_two_clients_all_land_in_outbox_order(
        store: Store, second_store: Store) -> None:
    a, b = clients(store, second_store, LABELS)
    for i, label in enumerate(LABELS):
        await a.count(label, i + 1)

    async def run(client: Racing, mine: range) -> None:
        for i in mine:
            await client.change(*op_for(i), actor=f"admin-{i % 2}")

    # Both clients at once, each with WORKERS admins going through their share of the changes.
    await asyncio.gather(*(run(client, range(2 * w + k, N, 2 * WORKERS))
                           for w in range(WORKERS) for k, client in enumerate((a, b))))
    assert a.retries + b.retries > 0  # the race did happen (and was lost, then won again)

    state = await a.state()
    assert state.version == N and len(state.changes) == N  # no change lost
    expected_renamed = {f"l{i}": (into or "") for i in range(N)
                        for op, _, into in [op_for(i)] if op != "retire"}
    assert state.renamed == expected_renamed
    assert sorted(state.retired) == sorted(f"l{i}" for i in range(N) if i % 3 == 2)
    # The outbox: exactly one label_set event per applied change, in the state's order.
    events = await label_set_events(store)
    assert [e.event_id for e in events] == state.changes
    assert sorted((e.change.op, e.change.label, e.change.into) for e in events
                  if e.change is not None) == sorted(op_for(i) for i in range(N))
    # Counts moved with their labels, each once.
    counts = {x.label: x.count for x in (await a.listing()).labels}
    assert counts == {
        **{f"x{i}": i + 1 for i in range(N) if i % 3 == 0},
        **{f"l{i}": i + 1 for i in range(N) if i % 3 == 2},
        **{k: N + 1 + j + sum(i + 1 for i in range(N) if i % 3 == 1 and i % 4 == j)
           for j, k in enumerate(ANCHORS)},
    }


async def test_two_admins_merging_the_same_label_one_wins(
        store: Store, second_store: Store) -> None:
    a, b = clients(store, second_store, ["x", "y", "z"])
    out = await asyncio.gather(a.change("merge", "x", "y"), b.change("merge", "x", "z"),
                               return_exceptions=True)
    won = [o for o in out if not isinstance(o, BaseException)]
    lost = [o for o in out if isinstance(o, BaseException)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], NotFound)  # planned again: "x" is no longer a label
    state = await a.state()
    events = await label_set_events(store)
    assert [e.event_id for e in events] == state.changes == [won[0][1].event_id]


async def test_labels_created_on_first_use_and_admin_changes_all_land(
        store: Store, second_store: Store) -> None:
    a, b = clients(store, second_store, None)  # open mode: a new label writes the state too
    await a.resolve("base", admin=True)

    async def renames() -> None:
        for i in range(4):
            await a.change("rename", f"base{i - 1}" if i else "base", f"base{i}")

    await asyncio.gather(renames(), *((a if i % 2 else b).resolve(f"new-{i}", admin=True)
                                      for i in range(N)))
    state = await a.state()
    assert sorted(await a.known(state)) == sorted([*(f"new-{i}" for i in range(N)), "base3"])
    assert state.version == 1 + N + 4 and len(state.changes) == 4
    assert [e.event_id for e in await label_set_events(store)] == state.changes
    raw = await store.kv.get(STATE_KEY)
    assert raw is not None and LabelState.model_validate_json(raw) == state


async def test_a_change_refused_on_the_winners_state_adds_nothing(
        store: Store, second_store: Store) -> None:
    a, b = clients(store, second_store, ["x", "y"])
    out = await asyncio.gather(a.change("rename", "x", "w"), b.change("rename", "y", "w"),
                               return_exceptions=True)
    refused = [o for o in out if isinstance(o, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict)  # "w" exists by then
    assert "exists already" in str(refused[0])
    assert len(await label_set_events(store)) == len((await a.state()).changes) == 1
