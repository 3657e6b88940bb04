from __future__ import annotations

import numpy as np
import pytest

from services.common.bus.base import Record
from services.common.bus.runner import Item
from services.common.observability import Metrics
from services.common.schemas import LabelEvent, Reason, ReviewRequest
from services.scorer.dedup import DedupMetrics, NearDuplicates
from services.scorer.index import IndexFeeder, IndexMetrics, SimilarityIndex

DIM = 8


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


@pytest.fixture
def index() -> SimilarityIndex:
    return SimilarityIndex(DIM, device="cpu")


def test_search_ranks_by_cosine_and_carries_labels(index):
    index.add("a", unit(1, 0), text="about a")
    index.add("b", unit(1, 1), label="sports")
    index.add("c", unit(0, 1))
    [found] = index.search(unit(1, 0.1)[None, :], k=2)
    assert [n.item_id for n in found] == ["a", "b"]
    assert found[0].score == pytest.approx(float(unit(1, 0.1) @ unit(1, 0)), abs=1e-6)
    assert (found[0].status, found[0].text) == ("queued", "about a")
    assert (found[1].status, found[1].label) == ("labeled", "sports")


def test_upsert_keeps_one_row_and_adds_the_label_later(index):
    assert index.add("a", unit(1, 0)) is True
    assert index.add("a", unit(1, 0), label="space") is False
    assert len(index) == 1 and index.n_labeled == 1 and index.label_of("a") == "space"
    np.testing.assert_allclose(index.vector("a"), unit(1, 0), rtol=1e-6)
    assert index.vector("missing") is None


def test_an_item_never_finds_itself_when_excluded(index):
    index.add_many([("a", unit(1, 0), None, None), ("b", unit(1, 0.2), None, None)])
    [found] = index.search(unit(1, 0)[None, :], k=5, exclude=["a"])
    assert [n.item_id for n in found] == ["b"]
    assert index.search(np.stack([unit(1, 0), unit(0, 1)]), k=1)[1][0].item_id == "b"


def test_empty_index_and_wrong_dimensions(index):
    assert index.search(unit(1)[None, :], k=3) == [[]]
    with pytest.raises(ValueError, match="dims"):
        index.add("x", np.ones(DIM + 1, dtype=np.float32))


def test_size_metric_by_status():
    metrics = Metrics()
    index = SimilarityIndex(DIM, device="cpu", metrics=IndexMetrics(metrics))
    index.add("a", unit(1), label="x")
    index.add("b", unit(0, 1))
    get = metrics.registry.get_sample_value
    assert get("alstream_scorer_index_items", {"status": "labeled"}) == 1
    assert get("alstream_scorer_index_items", {"status": "queued"}) == 1


def _item(message, offset: int = 0) -> Item:
    return Item(Record("t", 0, offset, None, b""), message)


async def test_feeder_indexes_review_requests_and_labels(index):
    feeder = IndexFeeder(index)
    await feeder.on_labels([_item(LabelEvent(
        item_id="a", label="space", embedding=unit(1).tolist(), reviewer="r",
        reason=Reason.UNCERTAINTY))])
    await feeder.on_review_requests([
        _item(ReviewRequest(item_id="a", text="rocket", embedding=unit(1).tolist(),
                            priority=1.0, reason=Reason.UNCERTAINTY)),
        _item(ReviewRequest(item_id="b", text="puck", embedding=unit(0, 1).tolist(),
                            priority=1.0, reason=Reason.UNCERTAINTY)),
        _item(ReviewRequest(item_id="c", text="other model", embedding=[1.0, 0.0],
                            priority=1.0, reason=Reason.UNCERTAINTY)),
    ])
    assert len(index) == 2 and "c" not in index  # a 2-d vector cannot join a 8-d index
    assert index.label_of("a") == "space"
    [found] = index.search(unit(1)[None, :], k=1)
    assert (found[0].item_id, found[0].label, found[0].text) == ("a", "space", "rocket")


def test_near_duplicates_are_flagged_and_labeled_twins_suggest(index):
    metrics = Metrics()
    dedup = NearDuplicates(index, threshold=0.95, metrics=DedupMetrics(metrics))
    index.add("queued", unit(1, 0))
    index.add("labeled", unit(0, 1), label="hockey")
    checks = dedup.check(["new1", "new2", "new3"],
                         np.stack([unit(1, 0.05), unit(0.05, 1), unit(1, 1)]))
    assert (checks[0].duplicate_of, checks[0].suggestion) == ("queued", None)
    assert (checks[1].duplicate_of, checks[1].suggestion) == ("labeled", "hockey")
    assert checks[2].duplicate_of is None and checks[2].similarity == pytest.approx(0.7071, 1e-3)
    assert metrics.registry.get_sample_value("alstream_scorer_suggestions_total") == 1


def test_an_item_is_not_its_own_duplicate(index):
    dedup = NearDuplicates(index, threshold=0.9)
    index.add("doc-1", unit(1, 0))
    [check] = dedup.check(["doc-1"], unit(1, 0)[None, :])
    assert check.duplicate_of is None


def test_within_batch(index):
    dedup = NearDuplicates(index, threshold=0.95)
    assert not dedup.within_batch(unit(1), [])
    assert dedup.within_batch(unit(1, 0.01), [unit(0, 1), unit(1)])
    assert not dedup.within_batch(unit(1, 1), [unit(1)])


def test_gpu_is_used_when_faiss_sees_one(monkeypatch):
    import faiss

    made: list[int] = []

    def gpu_flat(resources: object, dim: int) -> faiss.IndexFlatIP:
        made.append(dim)
        return faiss.IndexFlatIP(dim)  # stands in for the GPU index: same interface

    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    monkeypatch.setattr(faiss, "GpuIndexFlatIP", gpu_flat, raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    index = SimilarityIndex(DIM)
    assert index.device == "gpu" and made == [DIM]
    index.add("a", unit(1))
    assert index.search(unit(1)[None, :], k=1)[0][0].item_id == "a"
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 0)
    assert SimilarityIndex(DIM).device == "cpu"
    assert SimilarityIndex(DIM, device="cpu").device == "cpu"
