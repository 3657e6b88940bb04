"""The governed label set on its own (the review API tests cover it through HTTP)."""

from __future__ import annotations

import pytest

from services.common.errors import Conflict, InvalidInput, NotFound
from services.common.labels import LabelGovernance
from services.common.store import MemoryStore


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
    change = await g.change("rename", "A", "alpha")
    assert (change.op, change.label, change.into) == ("rename", "a", "alpha")
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
