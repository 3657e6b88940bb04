"""GET /v1/documents/{id}: prediction, routing, label, learning version; and the CLI's text."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np

from services.common.schemas import Document, LabelEvent, Reason
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from services.trainer.lineage import render
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings
from tests.unit.conftest import eventually


async def test_document_lineage_end_to_end(bus1, store, topics, encoder, running):
    settings = TrainerSettings(publish_interval_ms=50)
    async with (running(build_trainer(settings, bus1, store)) as t,
                running(build_scorer(ScorerSettings(), bus1, store, encoder=encoder))):
        docs = [Document(id=f"https://example.org/news/{i}?x=1", text=f"rocket launch {i}")
                for i in range(12)]
        await bus1.publish_many(topics.documents, [(d.id, d) for d in docs])
        doc = docs[3].id
        path = f"/v1/documents/{quote(doc, safe='/:')}"  # '?' is part of the id

        async def predicted() -> bool:
            return (await t.client.get(path)).status_code == 200

        await eventually(predicted, what="prediction kept")
        body = (await t.client.get(path)).json()
        assert body["id"] == doc and body["label"] is None
        assert body["prediction"]["model_version"] == 0
        assert body["routing"]["routed"] == body["prediction"]["routed"]
        if body["routing"]["routed"]:  # cold start: no model yet
            assert body["routing"]["reason"] == "cold_start"
            assert "cold start" in body["routing"]["explanation"]

        vec = encoder.encode([docs[3].text])[0]
        labels = [LabelEvent(item_id=doc, label="space", embedding=list(map(float, vec)),
                             reviewer="alice", reason=Reason.COLD_START),
                  LabelEvent(item_id="other", label="hockey",
                             embedding=list(map(float, -np.asarray(vec))), reviewer="bob",
                             reason=Reason.COLD_START)]
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in labels])

        async def labelled() -> bool:
            lab = (await t.client.get(path)).json()["label"]
            return lab is not None and lab["learned_in_version"] is not None

        await eventually(labelled, what="label fact with its version")
        body = (await t.client.get(path)).json()
        lab = body["label"]
        assert (lab["label"], lab["reviewer"], lab["source"], lab["status"]) == (
            "space", "alice", "reviewer", "learned")
        assert lab["event_id"] == labels[0].event_id
        assert lab["learned_in_version"] >= 1
        assert body["serving"]["version"] >= lab["learned_in_version"]
        text = render(body)
        assert f"document  {doc}" in text and "space (learned) by alice" in text
        assert f"first in version {lab['learned_in_version']}" in text

        resp = await t.client.get("/v1/documents/never/seen")
        assert resp.status_code == 404 and "never/seen" in resp.json()["detail"]
