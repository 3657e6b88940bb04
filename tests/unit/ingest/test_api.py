from __future__ import annotations

import json

import pytest

from services.common.schemas import Document
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings
from tests.unit.conftest import drain


@pytest.fixture
def settings() -> IngestSettings:
    return IngestSettings(max_body_bytes=4096, max_batch=5, max_text_chars=1000)


@pytest.fixture
async def ingest(settings, bus, store, running):
    async with running(build_ingest(settings, bus, store)) as r:
        yield r


async def published(bus, topics) -> list[Document]:
    return [Document.model_validate_json(v) for v in await drain(bus, topics.documents)]


async def test_single_document_gets_an_id_and_is_published_keyed_by_it(ingest, bus, topics):
    resp = await ingest.client.post("/v1/documents", json={"text": "a rocket launch"})
    assert resp.status_code == 202
    (doc_id,) = resp.json()["ids"]
    docs = await published(bus, topics)
    assert [d.id for d in docs] == [doc_id]
    assert docs[0].text == "a rocket launch"


async def test_batch_keeps_given_ids(ingest, bus, topics):
    body = {"documents": [{"id": "a", "text": "one"}, {"id": "b", "text": "two",
                                                         "metadata": {"lang": "en"}}]}
    resp = await ingest.client.post("/v1/documents", json=body)
    assert resp.status_code == 202
    assert resp.json() == {"accepted": 2, "ids": ["a", "b"]}
    docs = {d.id: d for d in await published(bus, topics)}
    assert docs["b"].metadata == {"lang": "en"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": ""}, "at least 1 character"),
        ({"text": "   "}, "at least 1 character"),
        ({}, "Field required"),
        ({"text": 42}, "valid string"),
        ({"text": "x", "metadata": "not a dict"}, "valid dictionary"),
        ({"text": "x", "colour": "red"}, "Extra inputs"),
        ({"documents": []}, "at least 1 item"),
        ({"documents": [{"text": "ok"}, {"text": ""}]}, "at least 1 character"),
        ([1, 2], "valid dictionary"),
    ],
)
async def test_bad_documents_get_422_with_a_reason_and_nothing_is_published(
    ingest, bus, topics, body, fragment
):
    resp = await ingest.client.post("/v1/documents", json=body)
    assert resp.status_code == 422, resp.text
    assert fragment in resp.text
    assert await published(bus, topics) == []


async def test_malformed_json_is_422(ingest):
    resp = await ingest.client.post(
        "/v1/documents", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert "JSON" in resp.text


async def test_oversized_body_is_413_with_the_limit(ingest, bus, topics):
    resp = await ingest.client.post("/v1/documents", json={"text": "x" * 5000})
    assert resp.status_code == 413
    assert "4096" in resp.json()["detail"]
    assert await published(bus, topics) == []


async def test_oversized_chunked_body_is_413(ingest):
    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    resp = await ingest.client.post(
        "/v1/documents", content=chunks(), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413


async def test_text_over_the_character_limit_is_422(ingest):
    resp = await ingest.client.post("/v1/documents", json={"text": "y" * 1001})
    assert resp.status_code == 422
    assert "limit is 1000" in resp.json()["detail"]


async def test_batch_over_the_limit_is_422(ingest):
    docs = [{"text": f"d{i}"} for i in range(6)]
    resp = await ingest.client.post("/v1/documents", json={"documents": docs})
    assert resp.status_code == 422
    assert "limit is 5" in resp.json()["detail"]


async def test_bulk_ndjson_keeps_good_lines_and_reports_bad_ones(ingest, bus, topics):
    lines = [json.dumps({"id": f"n{i}", "text": f"text {i}"}) for i in range(3)]
    lines.insert(1, "{broken")
    lines.insert(3, json.dumps({"text": ""}))
    resp = await ingest.client.post("/v1/documents/bulk", content="\n".join(lines).encode(),
                                    headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["accepted"] == 3 and body["rejected"] == 2 and body["complete"]
    assert [e["line"] for e in body["errors"]] == [2, 4]
    assert sorted(d.id for d in await published(bus, topics)) == [f"n{i}" for i in range(3)]


async def test_empty_bulk_is_422(ingest):
    resp = await ingest.client.post("/v1/documents/bulk", content=b"",
                                    headers={"content-type": "application/x-ndjson"})
    assert resp.status_code == 422
