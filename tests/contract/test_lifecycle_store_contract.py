"""Lifecycle parts of the store contract (registry serving state and retention, lineage), on
the memory store and on Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from services.common.errors import NotFound
from services.common.schemas import Prediction, Reason
from services.common.store import MemoryStore, ModelRecord, ServingState, Store
from services.common.store.lineage import LabelFact


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def small(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """A store whose lineage keeps at most 5 entries of each kind, for at most 1 s."""
    impl: Store
    if request.param == "memory":
        impl = MemoryStore(lineage_max_items=5, lineage_max_age_s=1.0)
    else:
        from services.common.store.redis import RedisStore

        impl = RedisStore(request.getfixturevalue("redis_url"),
                          prefix=request.getfixturevalue("redis_prefix"),
                          lineage_max_items=5, lineage_max_age_s=1.0)
    await impl.start()
    try:
        yield impl
    finally:
        await impl.stop()


def record(v: int) -> ModelRecord:
    return ModelRecord(version=v, sha256="s", signature="g", classes=["a"], n_labels=v,
                       created_at=time.time(), labels_offsets={"0": v * 10}, decision="held",
                       reason="why")


def prediction(doc: str, version: int = 1) -> Prediction:
    return Prediction(doc_id=doc, label="a", probabilities={"a": 0.9, "b": 0.1},
                      confidence=0.9, uncertainty=0.2, model_version=version, routed=True,
                      reason=Reason.AUDIT)


async def test_serving_state_and_retention(small: Store) -> None:
    reg = small.models
    assert await reg.serving() is None
    for _ in range(8):
        v = await reg.next_version()
        await reg.put(record(v), f"artifact-{v}".encode())
    await reg.set_serving(ServingState(version=2, pinned=True, updated_at=1.0))
    assert await reg.serving() == ServingState(version=2, pinned=True, updated_at=1.0)
    dropped = await reg.prune(keep_last=3, keep={2})
    assert dropped == [1, 3, 4, 5]
    assert [r.version for r in await reg.versions()] == [2, 6, 7, 8]
    with pytest.raises(NotFound):
        await reg.get(4)
    kept, artifact = await reg.get(2)
    assert artifact == b"artifact-2" and kept.labels_offsets == {"0": 20}
    assert kept.decision == "held" and kept.reason == "why"
    assert (await reg.latest()).version == 8
    assert await reg.prune(keep_last=3, keep={2}) == []


async def test_lineage_keeps_by_id_within_count_and_age(small: Store) -> None:
    lin = small.lineage
    await lin.put_predictions([prediction("a/b c"), prediction("d2")])
    got = await lin.prediction("a/b c")
    assert got == prediction("a/b c").model_copy(update={"scored_at": got.scored_at})
    assert await lin.prediction("missing") is None
    fact = LabelFact(item_id="a/b c", event_id="e1", label="a", reviewer="alice",
                     source="reviewer", labeled_at=datetime.now(UTC), status="learned",
                     learned_in_version=3)
    await lin.put_labels([fact])
    assert await lin.label("a/b c") == fact
    # Count: 5 at most; the oldest go first.
    await lin.put_predictions([prediction(f"n{i}") for i in range(5)])
    assert await lin.prediction("a/b c") is None and await lin.prediction("d2") is None
    assert await lin.prediction("n0") is not None and await lin.prediction("n4") is not None
    # Age: nothing older than max_age_s.
    await asyncio.sleep(1.2)
    assert await lin.prediction("n4") is None and await lin.label("a/b c") is None
