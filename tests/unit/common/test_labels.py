"""The governed label set on its own (the review API tests cover it through HTTP)."""

from __future__ import annotations

import pytest

from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.labels import ATTEMPTS, STATE_KEY, LabelGovernance
from services.common.store import MemoryStore
from services.common.store.memory import MemoryKeyValue


async def test_normalisation_and_fixed_set():
    g = LabelGovernance(MemoryStore().kv, [" Sports ", "space"])
    assert await g.resolve("  sports\t", admin=False) == "Sports"
    # full-width letters fold to their ASCII forms
    assert await g.resolve("\uff33\uff30\uff21\uff23\uff25", admin=False) == "space"
    with pytest.raises(InvalidInput, match="valid labels: \\['Sports', 'space'\\]"):
        await g.resolve("sport", admin=True)  # a fixed set is fixed for admins too
    with pytest.raises(InvalidInput, match="empty"):
        await g.resolve("   ", admin=False)


async def test_case_folding_can_be_turned_off():
    g = LabelGovernance(MemoryStore().kv, ["Sports"], case_fold=False)
    assert await g.resolve("Sports", admin=False) == "Sports"
    with pytest.raises(InvalidInput):
        await g.resolve("sports", admin=False)


async def test_open_mode():
    kv = MemoryStore().kv
    closed = LabelGovernance(kv, None)
    with pytest.raises(InvalidInput, match="admin"):
        await closed.resolve("News", admin=False)
    assert await closed.resolve("News ", admin=True) == "news"
    assert await closed.resolve("NEWS", admin=False) == "news"  # known now, for everyone
    anyone = LabelGovernance(kv, None, open_new=True)
    assert await anyone.resolve("Weather", admin=False) == "weather"
    assert [x.label for x in (await anyone.listing()).labels] == ["news", "weather"]


async def test_rename_merge_retire_and_counts():
    g = LabelGovernance(MemoryStore().kv, ["a", "b", "c"])
    await g.count("a", +3)
    await g.count("b", +2)
    change, event = await g.change("rename", "A", "alpha")
    assert (change.op, change.label, change.into) == ("rename", "a", "alpha")
    assert event.change == change and event.action == "label_set"
    assert await g.resolve("a", admin=False) == "alpha"  # the old name follows
    with pytest.raises(Conflict):
        await g.change("rename", "b", "ALPHA")
    await g.change("merge", "alpha", "b")
    assert await g.resolve("a", admin=False) == "b"  # a -> alpha -> b
    await g.change("retire", "c", None)
    with pytest.raises(InvalidInput, match="retired"):
        await g.resolve("c", admin=False)
    listing = await g.listing()
    counts = {x.label: (x.count, x.retired) for x in listing.labels}
    assert counts == {"b": (5, False), "c": (0, True)}
    assert listing.renamed == {"a": "b", "alpha": "b"}
    with pytest.raises(NotFound, match="merge target"):
        await g.change("merge", "b", "zzz")
    state = await g.state()
    assert state.version == 3 and len(state.changes) == 3  # one id per change, in order


async def test_a_rename_onto_a_name_renamed_away_or_retired_makes_it_live_again():
    g = LabelGovernance(MemoryStore().kv, ["a", "b", "c"])
    await g.change("rename", "a", "alpha")
    await g.change("retire", "c", None)
    await g.change("rename", "b", "a")  # "a" led to "alpha"; now it is b's new name
    await g.change("rename", "alpha", "c")  # "c" was retired; now it is alpha's new name
    assert [await g.resolve(y, admin=False) for y in ("a", "b", "alpha", "c")] == [
        "a", "a", "c", "c"]
    assert sorted(await g.known()) == ["a", "c"]


class Interloper(MemoryKeyValue):
    """Another writer adds a label right after each of our next ``races`` reads of the label
    set (between our read and our write)."""

    def __init__(self) -> None:
        super().__init__()
        self.races = 0
        self.rival = LabelGovernance(self, None)
        self._rival_busy = False  # the rival's own reads are not raced
        self.n = 0

    async def get(self, key: str) -> bytes | None:
        value = await super().get(key)
        if key == STATE_KEY and self.races > 0 and not self._rival_busy:
            self.races -= 1
            self.n += 1
            self._rival_busy = True
            try:
                await self.rival.resolve(f"new-{self.n}", admin=True)  # a state write
            finally:
                self._rival_busy = False
        return value


async def test_a_lost_compare_and_set_plans_again_on_the_winners_state():
    kv = Interloper()
    g = LabelGovernance(kv, None)
    await g.resolve("a", admin=True)
    kv.races = 1
    change, _ = await g.change("rename", "a", "alpha")
    assert change.into == "alpha" and g.retries == 1
    state = await g.state()
    # Neither write is lost: the rival's new label and the rename are both in the state.
    assert sorted(await g.known(state)) == ["alpha", "new-1"] and len(state.changes) == 1
    kv.races = 1
    assert await g.resolve("b", admin=True) == "b" and g.retries == 2
    assert sorted(await g.known()) == ["alpha", "b", "new-1", "new-2"]


async def test_a_change_that_loses_every_round_is_a_409_with_the_reason():
    kv = Interloper()
    g = LabelGovernance(kv, None)
    await g.resolve("a", admin=True)
    kv.races = 10**6
    with pytest.raises(Conflict, match="kept changing"):
        await g.change("rename", "a", "alpha")
    assert g.retries == ATTEMPTS
    assert (await g.state()).changes == []  # nothing half-applied
    with pytest.raises(Conflict, match="kept changing"):
        await g.resolve("brand-new", admin=True)
