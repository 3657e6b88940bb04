"""The scorer's routing with the selection package: budget, feedback, pressure, metrics, API."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from services.common.bus.base import Record
from services.common.bus.runner import Item
from services.common.schemas import Document, LabelEvent, Prediction, Reason
from services.common.selection import (
    FullSupervision,
    GlobalBudget,
    QueuePressure,
    build_selector,
)
from services.common.store import MemoryStore
from services.scorer.routing import AUDIT_PRIORITY, Router
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.unit.conftest import drain, eventually
from tests.unit.scorer.test_scorer import HOCKEY, SPACE, register, trained

DOC = Document(id="d", text="x")


def probs(rng: np.random.Generator) -> dict[str, float]:
    p = rng.dirichlet([0.5, 0.5, 0.5])
    return dict(zip("abc", p.tolist(), strict=True))


async def test_two_scorer_processes_share_one_budget_through_the_store():
    store = MemoryStore()
    # Each process would ask for every item on its own; together they get 10% of all items.
    routers = [Router(FullSupervision(), budget=GlobalBudget(store.kv, 0.1, warmup=50,
                                                             flush_every=5)) for _ in range(2)]
    rng = np.random.default_rng(0)
    routed = 0
    for i in range(2000):
        decision = await routers[i % 2].decide(DOC, rng.normal(size=8), probs(rng), 1)
        routed += decision.route
    assert 0.09 * 2000 <= routed <= 0.1 * (2000 + 50) + 2
    assert sum(r.refused for r in routers) > 1500


async def test_audit_items_jump_the_queue_and_labels_feed_the_estimate():
    router = Router(build_selector(0.2, seed=0, audit_share=0.05), n_learned=lambda: 500)
    rng = np.random.default_rng(1)
    audits = []
    for i in range(2000):
        d = await router.decide(Document(id=f"d{i}", text="x"), rng.normal(size=8),
                                probs(rng), 1)
        if d.reason == Reason.AUDIT:
            audits.append(d)
    assert audits and all(d.priority == AUDIT_PRIORITY for d in audits)
    assert router.selector is not None
    # Labels come back: audit ones right 80% of the time, uncertainty ones always wrong.
    events = []
    for i in range(200):
        reason = Reason.AUDIT if i % 2 else Reason.UNCERTAINTY
        right = reason == Reason.AUDIT and i % 10 != 1
        events.append(_item(LabelEvent(item_id=f"l{i}", label="a", embedding=[0.0] * 8,
                                       reviewer="r", reason=reason,
                                       predicted_label="a" if right else "b")))
    await router.on_labels(events)
    report = router.selector.audit.report()
    assert report["n"] == 100 and report["accuracy"] == pytest.approx(0.8)
    assert report["ci_low"] < 0.8 < report["ci_high"]


async def test_a_growing_queue_raises_the_threshold_and_a_drained_one_lowers_it():
    clock = {"t": 1000.0}
    router = Router(build_selector(0.1, seed=0), n_learned=lambda: 500,
                    pressure=QueuePressure(horizon_s=60, min_depth=10),
                    clock=lambda: clock["t"])
    rng = np.random.default_rng(2)

    async def route(n: int) -> int:
        return sum([(await router.decide(DOC, rng.normal(size=8), probs(rng), 1)).route
                    for _ in range(n)])

    await route(1500)
    relaxed_threshold = router.strategy.stats["threshold"]
    # Reviewers label one item every 10 s, while 500 items wait: ~5000 s of backlog.
    await router.on_labels([_item(LabelEvent(item_id=f"x{i}", label="a", embedding=[0.0] * 8,
                                             reviewer="r", reason=Reason.UNCERTAINTY,
                                             labeled_at=_at(1000.0 + 10 * i)))
                            for i in range(10)])
    clock["t"] = 1100.0
    router.observe_queue(500)
    pressed = await route(1500)
    assert router.strategy.stats["threshold"] > relaxed_threshold
    router.observe_queue(0)  # drained
    relaxed = await route(1500)
    assert pressed < 0.5 * relaxed


async def test_labels_from_before_the_start_restore_only_the_audit_estimate():
    # On start the label topic is replayed from the beginning: history must bring back the
    # audit estimate, but say nothing about reviewer throughput or drift now.
    clock = {"t": 2000.0}
    router = Router(build_selector(0.1, seed=0), n_learned=lambda: 500,
                    pressure=QueuePressure(horizon_s=60, min_depth=10),
                    clock=lambda: clock["t"])
    assert router.selector is not None and router.pressure is not None
    history = [_item(LabelEvent(item_id=f"h{i}", label="a", embedding=[0.0] * 8,
                                reviewer="r", reason=Reason.AUDIT if i % 2 else
                                Reason.UNCERTAINTY, predicted_label="a" if i % 4 == 1 else "b",
                                labeled_at=_at(1000.0 + i)))
               for i in range(40)]
    await router.on_labels(history)
    report = router.selector.audit.report()
    assert report["n"] == 20 and report["accuracy"] == pytest.approx(0.5)
    assert router.pressure.throughput == 0.0
    assert router.selector.drift is not None and router.selector.drift._labels == 0

    clock["t"] = 2010.0
    live = [_item(LabelEvent(item_id=f"n{i}", label="a", embedding=[0.0] * 8, reviewer="r",
                             reason=Reason.AUDIT, predicted_label="a",
                             labeled_at=_at(2000.0 + i))) for i in range(10)]
    await router.on_labels(live)
    report = router.selector.audit.report()
    assert report["n"] == 30 and report["accuracy"] == pytest.approx(20 / 30)
    assert router.pressure.throughput > 0
    assert router.selector.drift._labels == 10


async def test_scorer_exposes_selection_in_metrics_and_the_audit_api(bus, store, topics,
                                                                   encoder, running):
    settings = ScorerSettings(audit_share=0.05, label_budget=0.3, selection_seed=1)
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as scorer:
        record = await register(store, trained(encoder), settings)
        assert await scorer.service.state["holder"].load(record.version)
        docs = [Document(id=f"m{i}", text=f"{SPACE if i % 3 else HOCKEY} {i}")
                for i in range(120)]
        await bus.publish_many(topics.documents, [(d.id, d) for d in docs])

        async def scored():
            return len(await drain(bus, topics.predictions, group=f"p{time.time()}")) >= 120

        await eventually(scored)
        preds = [Prediction.model_validate_json(v) for v in await drain(bus, topics.predictions)]
        audited = [p for p in preds if p.reason == Reason.AUDIT]
        assert audited  # ~6 expected at a 5% audit share; the seed makes it deterministic
        # Reviewers label the audited items (the model is right on all of these).
        await bus.publish_many(topics.labels, [(p.doc_id, LabelEvent(
            item_id=p.doc_id, label=p.label or "space", embedding=[0.0] * encoder.dim,
            reviewer="ann", reason=Reason.AUDIT, predicted_label=p.label)) for p in audited])

        async def estimated():
            body = (await scorer.client.get("/v1/audit")).json()
            return body["estimate"]["n"] == len(audited)

        await eventually(estimated)
        body = (await scorer.client.get("/v1/audit")).json()
        assert body["selection"]["budget"] == pytest.approx(0.3)
        assert sum(body["routed_by_reason"].values()) == sum(p.routed for p in preds)
        text = (await scorer.client.get("/metrics")).text
        for name in ("alstream_selection_budget 0.3", "alstream_selection_query_rate",
                     "alstream_selection_threshold", "alstream_selection_drift_active",
                     "alstream_audit_accuracy_ci_low", 'alstream_scorer_routed_total{reason='):
            assert name in text, name
        assert body["estimate"]["accuracy"] == 1.0
        assert "alstream_audit_accuracy 1.0" in text


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _item(event: LabelEvent) -> Item[LabelEvent]:
    return Item(record=Record(topic="labels", partition=0, offset=0, key=None, value=b""),
                message=event)


async def test_label_descriptions_give_zero_shot_predictions_before_any_model(
        bus, store, encoder, running):
    settings = ScorerSettings(label_descriptions={"space": SPACE, "hockey": HOCKEY})
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as scorer:
        resp = (await scorer.client.post("/v1/classify", json={"text": "nasa moon rocket"}))
        body = resp.json()
        assert body["label"] == "space" and body["model_version"] == 0
        record = await register(store, trained(encoder), settings)
        assert await scorer.service.state["holder"].load(record.version)
        body = (await scorer.client.post("/v1/classify", json={"text": "puck ice goal"})).json()
        assert body["label"] == "hockey" and body["model_version"] == record.version


@pytest.mark.parametrize("strategy", ["selector", "random"])
async def test_the_audit_api_answers_with_the_routers_own_figures(bus, store, topics, encoder,
                                                                 running, strategy):
    """GET /v1/audit is typed (AuditOut): its JSON still carries every figure as the router
    keeps it, for a selector and for a plain strategy that has no audit sample."""
    settings = ScorerSettings(selection_strategy=strategy, label_budget=1.0, selection_seed=1)
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as scorer:
        await bus.publish_many(topics.documents, [(None, Document(id=f"d{i}", text=f"x {i}"))
                                                  for i in range(5)])
        await eventually(lambda: _n_predictions(bus, topics, 5))
        router = scorer.service.state["router"]
        body = (await scorer.client.get("/v1/audit")).json()
    assert set(body) == {"estimate", "audit_share", "selection", "routed_by_reason",
                         "drift_events", "budget_refused"}
    # Not-finite statistics (a threshold before any item) are null: JSON has no NaN.
    assert body["selection"] == {k: v if math.isfinite(v) else None
                                 for k, v in router.strategy.stats.items()}
    assert body["budget_refused"] == router.refused == 0
    selector = router.selector
    if selector is None:
        assert body["estimate"] is None and body["routed_by_reason"] == body["drift_events"] == {}
        return
    assert body["estimate"] == selector.audit.report()  # every key, null accuracy included
    assert body["routed_by_reason"] == selector.reasons and sum(selector.reasons.values()) == 5
    assert body["drift_events"] == selector.drift.events
    assert body["audit_share"] == selector.stats["audit_share"]


async def _n_predictions(bus, topics, n: int) -> bool:  # type: ignore[no-untyped-def]
    return len(await drain(bus, topics.predictions, group=f"p{time.time()}")) >= n
