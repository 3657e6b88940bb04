"""OWASP API Security Top 10 (2023), API1-API3 and API5, against the services with keys on.
API4 (resource consumption) is in test_limits.py."""

from __future__ import annotations

import re

import pytest

from services.common.auth.keys import parse_token
from services.common.schemas import LabelEvent, LabelSource
from tests.unit.conftest import drain
from tests.unit.security.conftest import (
    Secured,
    bearer,
    lease,
    lease_base,
    next_path,
    operations,
)

# One protected endpoint per service, as (service, method, path, json).
PROTECTED = [
    ("ingest", "POST", "/v1/documents", {"text": "hello"}),
    ("scorer", "POST", "/v1/classify", {"text": "hello"}),
    ("scorer", "GET", "/v1/model", None),
    ("review", "POST", "/v1/review/next", None),
    ("review", "GET", "/v1/review/stats", None),
    ("trainer", "GET", "/v1/status", None),
    ("trainer", "GET", "/v1/admin/keys", None),
]


async def call(sec: Secured, svc: str, method: str, path: str, body: object = None,
               headers: dict[str, str] | None = None) -> object:
    return await sec.clients[svc].request(method, path, json=body, headers=headers or {})


# -- API2: broken authentication -----------------------------------------------------------
@pytest.mark.parametrize(("svc", "method", "path", "body"), PROTECTED)
async def test_api2_missing_malformed_wrong_or_revoked_key_is_401(
        secured: Secured, svc: str, method: str, path: str, body: object) -> None:
    if path == "/v1/review/next":
        method = next_path(secured)
    real = secured.tokens["root"]
    key_id = real.split("_")[1]
    revoked_token = secured.tokens["app2"]
    await secured.store.keys.revoke(revoked_token.split("_")[1])
    cases = {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {real}"},
        "empty bearer": {"Authorization": "Bearer "},
        "malformed": bearer("not-a-key"),
        "truncated": bearer(real[:-5]),
        "wrong secret": bearer(f"alstream_{key_id}_{'A' * 43}"),
        "unknown id": bearer(f"alstream_{'0' * 12}_{'A' * 43}"),
        "revoked": bearer(revoked_token),
        "x-reviewer only": {"X-Reviewer": "alice"},
    }
    for case, headers in cases.items():
        resp = await call(secured, svc, method, path, body, headers)
        assert resp.status_code == 401, (case, resp.status_code, resp.text)  # type: ignore[attr-defined]
        assert resp.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
        assert real not in resp.text  # type: ignore[attr-defined]
    # and the valid admin key passes
    resp = await call(secured, svc, method, path, body, bearer(real))
    assert resp.status_code < 400, resp.text  # type: ignore[attr-defined]


async def test_api2_revocation_takes_effect_at_once_and_health_stays_open(secured: Secured) -> None:
    ingest = secured.clients["ingest"]
    assert (await ingest.post("/v1/documents", json={"text": "x"},
                              headers=secured.h("app1"))).status_code == 202
    resp = await ingest.post(f"/v1/admin/keys/{secured.tokens['app1'].split('_')[1]}/revoke",
                             headers=secured.h("root"))
    assert resp.status_code == 200 and resp.json()["revoked"] is True
    resp = await ingest.post("/v1/documents", json={"text": "x"}, headers=secured.h("app1"))
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    for client in secured.clients.values():
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200  # open by default


async def test_api2_bootstrap_admin_key_works_and_keys_are_stored_hashed(secured: Secured) -> None:
    from tests.unit.security.conftest import BOOTSTRAP

    resp = await secured.clients["scorer"].post(
        "/v1/admin/keys", json={"role": "reviewer", "name": "carol"}, headers=bearer(BOOTSTRAP))
    assert resp.status_code == 201
    token = resp.json()["token"]
    record = await secured.store.keys.get(resp.json()["key"]["id"])
    # parse_token, not split("_"): the secret is URL-safe base64 and may hold "_" itself (a
    # leading one made the checked part "", which every string contains: 1 run in 64 failed).
    parsed = parse_token(token)
    assert parsed is not None and record is not None
    assert parsed[1] not in record.model_dump_json()
    listed = await secured.clients["review"].get("/v1/admin/keys", headers=bearer(BOOTSTRAP))
    assert "carol" in listed.text and token not in listed.text
    assert "secret_sha256" not in listed.text


# -- API1: broken object-level authorization ----------------------------------------------
async def test_api1_a_reviewer_cannot_touch_another_reviewers_lease(secured: Secured) -> None:
    await secured.queue("item-a", "item-b")
    mine = await lease(secured, "alice")
    review = secured.clients["review"]
    item = mine["item_id"]
    base = lease_base(secured, mine)
    for action, body in [("label", {"label": "space"}), ("skip", None), ("heartbeat", None)]:
        resp = await review.post(f"{base}/{action}", json=body, headers=secured.h("bob"))
        assert resp.status_code in (403, 409), (action, resp.text)
        assert mine["text"] not in resp.text  # nothing of alice's item leaks
    # bob's own next is the other item, never alice's leased one
    assert (await lease(secured, "bob"))["item_id"] != item
    # and alice's lease is intact: she can still label it, as herself
    resp = await review.post(f"{base}/label", json={"label": "space"}, headers=secured.h("alice"))
    assert resp.status_code == 200, resp.text
    events = [LabelEvent.model_validate_json(v)
              for v in await drain(secured.bus, secured.topics.labels)]
    assert [(e.item_id, e.reviewer) for e in events] == [(item, "alice")]


async def test_api1_the_reviewer_is_the_keys_owner_not_a_header(secured: Secured) -> None:
    await secured.queue("item-h")
    review = secured.clients["review"]
    mine = await lease(secured, "alice")
    base = lease_base(secured, mine)
    # bob claims to be alice through the dev header: he is still bob
    resp = await review.post(f"{base}/label", json={"label": "space"},
                             headers={**secured.h("bob"), "X-Reviewer": "alice"})
    assert resp.status_code in (403, 409)


# -- API3: broken object-property-level authorization -------------------------------------
async def test_api3_no_payload_sets_reviewer_source_model_version_or_weight(
        secured: Secured) -> None:
    await secured.queue("item-p")
    mine = await lease(secured, "alice")
    review = secured.clients["review"]
    base = lease_base(secured, mine)
    for field, value in [("reviewer", "bob"), ("source", "admin"), ("model_version", 99),
                         ("weight", 0.01), ("event_id", "forged"), ("embedding", [1.0])]:
        resp = await review.post(f"{base}/label", json={"label": "space", field: value},
                                 headers=secured.h("alice"))
        assert resp.status_code == 422, (field, resp.text)
    resp = await review.post(f"{base}/label", json={"label": "space"}, headers=secured.h("alice"))
    assert resp.status_code == 200
    (event,) = [LabelEvent.model_validate_json(v)
                for v in await drain(secured.bus, secured.topics.labels)]
    assert event.reviewer == "alice" and event.source is LabelSource.REVIEWER
    assert event.weight == 1.0 and event.model_version == 1  # from the queued item
    # ingest and classify refuse server-owned fields too
    for svc, path, body in [
        ("ingest", "/v1/documents", {"text": "t", "created_at": "2020-01-01T00:00:00Z"}),
        ("ingest", "/v1/documents", {"text": "t", "model_version": 3}),
        ("scorer", "/v1/classify", {"text": "t", "model_version": 3}),
    ]:
        resp = await secured.clients[svc].post(path, json=body, headers=secured.h("app1"))
        assert resp.status_code == 422, (path, body, resp.text)


# -- API5: broken function-level authorization --------------------------------------------
# Admin-only operations beyond /v1/admin/*: the governed label set, the audit trail and
# per-reviewer statistics (issue 10), where this branch has them.
ADMIN_ONLY = {"/v1/labels/changes", "/v1/audit/items/{item_id}", "/v1/audit/items/{item_id:path}",
              "/v1/audit/reviewers/{name}", "/v1/review/reviewers"}


def admin_routes(sec: Secured) -> list[tuple[str, str, str]]:
    return [(svc, method, re.sub(r"\{[^}]+\}", "0123456789ab", path))
            for svc in sec.services for method, path in operations(sec, svc)
            if path.startswith("/v1/admin") or path in ADMIN_ONLY]


async def test_api5_app_and_reviewer_keys_get_403_on_every_admin_endpoint(
        secured: Secured) -> None:
    routes = admin_routes(secured)
    assert len(routes) >= 4 * len(secured.services)  # keys: create, list, get, revoke
    for svc, method, path in routes:
        for who in ("app1", "alice"):
            body = {"role": "admin", "name": "me"} if method in ("POST", "PUT") else None
            resp = await call(secured, svc, method, path, body, secured.h(who))
            assert resp.status_code == 403, (svc, method, path, who, resp.text)  # type: ignore[attr-defined]
    # an admin may (the same calls succeed or are a clean 404 for the made-up id)
    resp = await call(secured, "ingest", "GET", "/v1/admin/keys", None, secured.h("root"))
    assert resp.status_code == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(("svc", "method", "path", "body", "wrong"), [
    ("ingest", "POST", "/v1/documents", {"text": "x"}, "alice"),
    ("scorer", "POST", "/v1/classify", {"text": "x"}, "alice"),
    ("review", "POST", "/v1/review/next", None, "app1"),
    ("review", "GET", "/v1/review/stats", None, "app1"),
    ("scorer", "GET", "/v1/similar?item_id=x", None, "app1"),
    ("scorer", "POST", "/v1/similar", {"text": "x"}, "app1"),
])
async def test_api5_roles_are_enforced_per_endpoint(secured: Secured, svc: str, method: str,
                                                    path: str, body: object, wrong: str) -> None:
    if path == "/v1/review/next":
        method = next_path(secured)
    resp = await call(secured, svc, method, path, body, secured.h(wrong))
    assert resp.status_code == 403, resp.text  # type: ignore[attr-defined]
    assert "role" in resp.json()["detail"]  # type: ignore[attr-defined]


OPEN = {"/healthz", "/readyz", "/metrics", "/"}


async def test_every_operation_but_health_and_metrics_needs_a_key(secured: Secured) -> None:
    """Behaviour, not declarations: each operation in each OpenAPI schema (the other
    engineers' new endpoints included) answers 401 to a caller without a key."""
    checked = 0
    for svc in secured.services:
        for method, path in operations(secured, svc):
            if path in OPEN or path.startswith("/static"):
                continue
            url = path
            for param in ("item_id", "lease_id", "event_id", "key_id", "id", "label"):
                url = url.replace("{" + param + "}", "x").replace("{" + param + ":path}", "x")
            resp = await call(secured, svc, method, url, {} if method != "GET" else None)
            assert resp.status_code == 401, (svc, method, path, resp.status_code)  # type: ignore[attr-defined]
            checked += 1
    assert checked >= 20
