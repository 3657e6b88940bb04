"""OWASP API4 (unrestricted resource consumption): every size, count and rate limit, and one
key flooding while another keeps working."""

from __future__ import annotations

import json

import pytest

from services.common.schemas import Document
from tests.helpers import metric
from tests.unit.conftest import drain
from tests.unit.security.conftest import Secured

NDJSON = {"content-type": "application/x-ndjson"}


async def published(sec: Secured) -> list[Document]:
    return [Document.model_validate_json(v) for v in await drain(sec.bus, sec.topics.documents)]


@pytest.mark.parametrize(("svc", "method", "path", "body", "kind"), [
    ("scorer", "POST", "/v1/classify", {"text": "rocket launch"}, "classify"),
    ("ingest", "POST", "/v1/documents", {"text": "rocket launch"}, "ingest"),
    ("review", "GET", "/v1/review/stats", None, "review"),
])
async def test_a_flooding_key_gets_429_while_another_key_keeps_working(
        secured: Secured, svc: str, method: str, path: str, body: object, kind: str) -> None:
    client = secured.clients[svc]
    flood, other = ("alice", "bob") if svc == "review" else ("app1", "app2")
    statuses = []
    for n in range(60):  # burst is 10, refill 5/s: a tight loop runs dry
        resp = await client.request(method, path, json=body, headers=secured.h(flood))
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            refused = resp
        if n % 6 == 0:
            # a polite client (within its own limit), interleaved with the flood: never refused
            ok = await client.request(method, path, json=body, headers=secured.h(other))
            assert ok.status_code < 400, ok.text
    assert statuses.count(429) >= 30 and statuses[0] < 400
    assert int(refused.headers["retry-after"]) >= 1
    assert kind in refused.json()["detail"]
    text = (await client.get("/metrics")).text
    assert metric(text, "alstream_rate_limited_total") == statuses.count(429)


async def test_rate_limit_refills(secured: Secured) -> None:
    from services.common.auth.ratelimit import EndpointClass

    limits = secured.services["scorer"].app.state.limits
    limits.rates[EndpointClass.CLASSIFY] = (4.0, 2.0)  # tiny burst, refill in 0.25 s
    client, h = secured.clients["scorer"], secured.h("app1")
    codes = [(await client.post("/v1/classify", json={"text": "a b"}, headers=h)).status_code
             for _ in range(5)]
    assert 429 in codes
    import asyncio

    await asyncio.sleep(0.6)
    assert (await client.post("/v1/classify", json={"text": "a b"}, headers=h)).status_code == 200


async def test_json_body_over_the_limit_is_413_before_parsing(secured: Secured) -> None:
    for svc, path in [("ingest", "/v1/documents"), ("scorer", "/v1/classify"),
                      ("review", "/v1/review/x/label"), ("trainer", "/v1/admin/keys")]:
        resp = await secured.clients[svc].post(
            path, content=b'{"text": "' + b"a" * 70_000 + b'"}',
            headers={**secured.h("root"), "content-type": "application/json"})
        assert resp.status_code == 413, (svc, resp.text)
        assert "limit" in resp.json()["detail"]


async def test_batch_and_text_limits(secured: Secured) -> None:
    ingest, h = secured.clients["ingest"], secured.h("app1")
    resp = await ingest.post("/v1/documents", headers=h,
                             json={"documents": [{"text": f"t{i}"} for i in range(6)]})
    assert resp.status_code == 422 and "limit is 5" in resp.json()["detail"]
    resp = await ingest.post("/v1/documents", headers=h, json={"text": "x" * 1001})
    assert resp.status_code == 422
    resp = await secured.clients["scorer"].post("/v1/classify", headers=h,
                                                json={"text": "x" * 501})
    assert resp.status_code == 422
    resp = await secured.clients["scorer"].post("/v1/similar", headers=secured.h("alice"),
                                                json={"text": "x", "k": 101})
    assert resp.status_code == 422
    assert await published(secured) == []


async def test_bulk_document_limit_equals_the_batch_limit_and_reports_what_it_kept(
        secured: Secured) -> None:
    lines = [json.dumps({"id": f"b{i}", "text": f"text {i}"}) for i in range(8)]
    resp = await secured.clients["ingest"].post(
        "/v1/documents/bulk", content="\n".join(lines).encode(),
        headers={**secured.h("app1"), **NDJSON})
    assert resp.status_code == 413
    body = resp.json()
    assert (body["accepted"], body["complete"], body["next_line"]) == (5, False, 6)
    assert "5 documents" in body["detail"]
    assert sorted(d.id for d in await published(secured)) == [f"b{i}" for i in range(5)]


async def test_bulk_bytes_limit_is_413_and_honest(secured: Secured) -> None:
    ingest, h = secured.clients["ingest"], {**secured.h("app1"), **NDJSON}
    # Announced too big: refused before reading.
    resp = await ingest.post("/v1/documents/bulk", content=b"x" * 70_000, headers=h)
    assert resp.status_code == 413 and resp.json()["accepted"] == 0

    async def chunked():  # no Content-Length: counted while streaming
        yield json.dumps({"id": "c0", "text": "first"}).encode() + b"\n"
        for _ in range(100):
            yield b" " * 1000

    resp = await ingest.post("/v1/documents/bulk", content=chunked(), headers=h)
    assert resp.status_code == 413
    assert resp.json()["accepted"] == 1 and resp.json()["complete"] is False
    assert [d.id for d in await published(secured)] == ["c0"]


async def test_bulk_line_length_and_line_count_limits(secured: Secured) -> None:
    ingest, h = secured.clients["ingest"], {**secured.h("app1"), **NDJSON}
    body = b"\n".join([json.dumps({"id": "ok1", "text": "fine"}).encode(),
                       json.dumps({"id": "long", "text": "y" * 3000}).encode(),
                       json.dumps({"id": "ok2", "text": "fine"}).encode()])
    resp = await ingest.post("/v1/documents/bulk", content=body, headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    assert resp.json()["errors"] == [{"line": 2, "error": "line longer than 2048 bytes"}]
    resp = await ingest.post("/v1/documents/bulk", content=b"\n" * 30 + b'{"text": "x"}',
                             headers=h)
    assert resp.status_code == 413 and "20 lines" in resp.json()["detail"]


async def test_metrics_can_require_a_key(secured: Secured) -> None:
    from services.common.observability import ops_router

    app = secured.services["trainer"].app
    app.include_router(ops_router(secured.services["trainer"].state["metrics"],
                                  lambda: {"ok": True}, protect_metrics=True), prefix="/locked")
    client = secured.clients["trainer"]
    assert (await client.get("/locked/metrics")).status_code == 401
    assert (await client.get("/locked/metrics", headers=secured.h("app1"))).status_code == 200
    assert (await client.get("/locked/healthz")).status_code == 200
