"""Corrections end to end: what the review API publishes lets a learner forget exactly.

Labels go through the API (label, undo + relabel, a correction, a rename); the records on the
labels topic are then applied in log order with the learner's exact down-dating
(services/common/lda.py). The result equals a model that only ever learned the surviving
labels. The trainer's own application of these records is issue 11's; this checks that the
review API emits the right records, in the right order, with the right ``retracts``.
"""

from __future__ import annotations

import numpy as np

from services.common.bus import MemoryBus
from services.common.model import OnlineClassifier
from services.common.schemas import LabelAction, LabelEvent
from tests.unit.common.test_lda import assert_same_model
from tests.unit.conftest import drain
from tests.unit.review_api.conftest import ADMIN, ALICE, label, lease, request, start

DIM = 16


def apply(model: OnlineClassifier, events: list[LabelEvent]) -> None:
    """A reference reader of the labels log (the trainer's job, in a few lines)."""
    live: dict[str, LabelEvent] = {}
    for e in events:
        if e.action is LabelAction.LABEL_SET and e.change is not None:
            if e.change.op == "rename" and e.change.into:
                model.rename_class(e.change.label, e.change.into)
            continue
        if e.retracts is not None:
            old = live.pop(e.retracts)
            model.unlearn_one(old.embedding, old.label)
        if e.action is LabelAction.LABEL:
            model.learn_one(e.embedding, e.label)
            live[e.event_id] = e


async def test_retracted_labels_are_forgotten_exactly(settings, store, topics, running):
    bus = MemoryBus(partitions=1)  # the labels topic has one partition: one log order
    await bus.ensure_topics(topics)
    rng = np.random.default_rng(5)
    vectors = {f"i{n}": (rng.normal(size=DIM) / 4).tolist() for n in range(8)}
    items = [request(i, 1 - n / 10, embedding=v) for n, (i, v) in enumerate(vectors.items())]
    r = await start(running, settings, bus, store, topics, items)
    try:
        wanted = ["sports", "space", "sports", "space", "Politics", "space", "sports", "space"]
        events = {}
        for n in range(8):
            item = await lease(r)
            events[item["item_id"]] = (await label(r, item, wanted[n])).json()["event_id"]
        # i2: undone, then labelled again differently; i3: corrected; i5: undone for good
        back = (await r.client.post(f"/v1/review/labels/{events['i2']}/undo",
                                    headers=ALICE)).json()["item"]
        await label(r, back, "space")
        await r.client.put(f"/v1/review/labels/{events['i3']}", json={"label": "Politics"},
                           headers=ALICE)
        gone = await r.client.post(f"/v1/review/labels/{events['i5']}/undo", headers=ALICE)
        assert gone.status_code == 200
        rename = await r.client.post("/v1/labels/changes", headers=ADMIN,
                                     json={"op": "rename", "label": "space", "into": "astro"})
        assert rename.status_code == 200
    finally:
        await r.__aexit__()
    log = [LabelEvent.model_validate_json(v) for v in await drain(bus, topics.labels)]
    assert sum(e.action is LabelAction.RETRACT for e in log) == 2
    replayed = OnlineClassifier()
    apply(replayed, log)

    final = {"i0": "sports", "i1": "astro", "i2": "astro", "i3": "Politics", "i4": "Politics",
             "i6": "sports", "i7": "astro"}  # i5 was undone and never labelled again
    clean = OnlineClassifier()
    for item_id, y in final.items():
        clean.learn_one(vectors[item_id], y)
    assert replayed.class_counts == clean.class_counts
    assert_same_model(replayed._learner, clean._learner, tol=1e-6)  # type: ignore[arg-type]
