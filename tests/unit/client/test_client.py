"""The Python client against a scripted transport: paths, headers, retries, errors."""

from __future__ import annotations

import json

import httpx
import pytest

from services.client import ApiError, Client, Endpoints
from services.client import client as client_mod


class Script:
    """Answers queued responses in order and records every request."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(client_mod.time, "sleep", waited.append)
    return waited


def make(script: Script, **kw) -> Client:
    return Client(Endpoints.local("h"), transport=httpx.MockTransport(script), **kw)


def test_classify_posts_text_to_the_scorer_and_types_the_answer():
    script = Script(httpx.Response(200, json={
        "label": "sports", "probabilities": {"sports": 0.9, "tech": 0.1}, "confidence": 0.9,
        "uncertainty": 0.2, "model_version": 3}))
    got = make(script).classify("The goalie stopped 40 shots")
    assert (got.label, got.model_version) == ("sports", 3)
    assert got.model_extra == {"uncertainty": 0.2}  # unknown fields are kept, not refused
    (req,) = script.requests
    assert str(req.url) == "http://h:8002/v1/classify"
    assert json.loads(req.content) == {"text": "The goalie stopped 40 shots"}


def test_api_key_is_a_bearer_token_and_reviewer_a_header():
    script = Script(httpx.Response(204))
    assert make(script, api_key="k-123", reviewer="alice").review_next() is None
    (req,) = script.requests
    assert req.headers["authorization"] == "Bearer k-123"
    assert req.headers["x-reviewer"] == "alice"
    assert (req.method, req.url.path) == ("POST", "/v1/review/next")


def test_review_round_trip_uses_the_lease_id_escaped_as_one_segment():
    script = Script(
        httpx.Response(200, json={"item_id": "https://x/1", "lease_id": "l/1", "text": "t",
                                  "reason": "uncertain", "expires_at": 12.5}),
        httpx.Response(200, json={"item_id": "https://x/1", "label": "sports",
                                  "event_id": "e1", "duplicate": False}),
        httpx.Response(200, json={"event_id": "e2"}),
    )
    c = make(script)
    item = c.review_next()
    assert item is not None and item.lease_id == "l/1"
    assert c.label(item.lease_id, "sports").event_id == "e1"
    c.undo("e1")
    paths = [r.url.raw_path.decode() for r in script.requests]
    assert paths == ["/v1/review/next", "/v1/review/leases/l%2F1/label",
                     "/v1/review/labels/e1/undo"]


def test_429_is_retried_after_the_servers_retry_after(sleeps):
    script = Script(httpx.Response(429, headers={"retry-after": "2"}, json={"detail": "busy"}),
                    httpx.Response(503, json={"detail": "starting"}),
                    httpx.Response(202, json={"accepted": 1, "ids": ["a"]}))
    assert make(script, backoff_s=0.5).ingest(["hello"]).ids == ["a"]
    assert len(script.requests) == 3
    assert sleeps[0] == 2.0  # the server's word, not our backoff
    assert 0.0 <= sleeps[1] <= 1.0  # jittered exponential backoff: attempt 1 of base 0.5


def test_retries_give_up_with_the_last_answer(sleeps):
    script = Script(*[httpx.Response(429, json={"detail": "slow down"})] * 3)
    with pytest.raises(ApiError) as err:
        make(script, retries=2).classify("x")
    assert (err.value.status, err.value.detail) == (429, "slow down")
    assert len(script.requests) == 3 and len(sleeps) == 2


def test_client_errors_are_not_retried_and_carry_the_detail(sleeps):
    script = Script(httpx.Response(409, json={"detail": "lease expired"}))
    with pytest.raises(ApiError, match=r"409.*lease expired"):
        make(script).label("l1", "sports")
    assert sleeps == []


def test_connection_refused_is_retried_then_raised(sleeps):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    c = Client(transport=httpx.MockTransport(refuse), retries=2)
    with pytest.raises(httpx.ConnectError):
        c.model()
    assert len(sleeps) == 2


def test_bulk_sends_ndjson_and_reports_bad_lines(tmp_path):
    path = tmp_path / "docs.ndjson"
    path.write_text('{"text": "a"}\nnot json\n')
    script = Script(httpx.Response(200, json={"accepted": 1, "rejected": 1,
                                              "errors": [{"line": 2, "error": "bad"}]}))
    got = make(script).bulk(path)
    assert (got.accepted, got.rejected, got.errors[0]["line"]) == (1, 1, 2)
    (req,) = script.requests
    assert req.content == path.read_bytes()
    assert req.headers["content-type"] == "application/x-ndjson"


def test_endpoints_from_env_override_only_what_is_set():
    ep = Endpoints.from_env({"ALSTREAM_SCORER_URL": "http://scorer:9000/"})
    assert ep.scorer == "http://scorer:9000"
    assert ep.ingest == "http://127.0.0.1:8001"


def test_a_review_api_without_leases_is_spoken_to_in_its_own_dialect():
    script = Script(
        httpx.Response(405, json={"detail": "Method Not Allowed"}),
        httpx.Response(200, json={"item_id": "d1", "text": "t", "reason": "uncertain",
                                  "lease_expires_at": 9.0}),
        httpx.Response(200, json={"item_id": "d1", "label": "x", "event_id": "e1",
                                  "duplicate": False}),
    )
    c = make(script, reviewer="alice")
    item = c.review_next()
    assert item is not None and (item.lease_id, item.expires_at) == ("d1", 9.0)
    c.label(item.lease_id, "x")
    calls = [(r.method, r.url.path) for r in script.requests]
    assert calls == [("POST", "/v1/review/next"), ("GET", "/v1/review/next"),
                     ("POST", "/v1/review/d1/label")]


def test_feedback_goes_to_the_scorer_with_the_document():
    script = Script(httpx.Response(200, json={"doc_id": "d1", "label": "sports",
                                              "mode": "review", "event_id": "e",
                                              "duplicate": False}))
    got = make(script, api_key="app-key").feedback("d1", "sports", "The goalie stopped 40")
    assert got["mode"] == "review"
    (req,) = script.requests
    assert str(req.url) == "http://h:8002/v1/feedback"
    assert json.loads(req.content) == {"doc_id": "d1", "label": "sports",
                                       "text": "The goalie stopped 40"}
