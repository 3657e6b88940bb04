"""At least 50 hostile inputs against every service: no request may produce a 5xx, and every
answer is valid JSON (or empty). Also the issue's exact repros, which must be 4xx with a
reason."""

from __future__ import annotations

import json
import re

import pytest

from tests.unit.security.conftest import Secured, lease, lease_base

DEEP = 100_000
JSON = "application/json"

# (name, raw body, content type); the bodies are bytes so nothing is normalised on the way.
HOSTILE: list[tuple[str, bytes, str | None]] = [
    ("nan text", b'{"text": NaN}', JSON),
    ("infinity text", b'{"text": Infinity}', JSON),
    ("-infinity text", b'{"text": -Infinity}', JSON),
    ("nan label", b'{"label": NaN}', JSON),
    ("infinity label", b'{"label": Infinity}', JSON),
    ("nan k", b'{"text": "a", "k": NaN}', JSON),
    ("1e309", b'{"text": "a", "k": 1e309}', JSON),
    ("-1e309 metadata", b'{"text": "a", "metadata": {"x": -1e309}}', JSON),
    ("huge int", b'{"text": "a", "k": 1' + b"0" * 5000 + b"}", JSON),
    ("lone low surrogate", b'{"text": "\\udc00"}', JSON),
    ("lone high surrogate", b'{"text": "ok \\ud800 x"}', JSON),
    ("surrogate key", b'{"\\udc00": 1, "text": "a"}', JSON),
    ("surrogate id", b'{"id": "\\udfff", "text": "x"}', JSON),
    ("surrogate label", b'{"label": "\\ud83d"}', JSON),
    ("surrogate role name", b'{"role": "app", "name": "\\udc80"}', JSON),
    ("nan metadata", b'{"text": "x", "metadata": {"k": NaN}}', JSON),
    ("surrogate metadata key", b'{"text": "x", "metadata": {"\\ud800": "v"}}', JSON),
    ("deep arrays", b"[" * DEEP + b"]" * DEEP, JSON),
    ("deep objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON),
    ("deep in a field", b'{"text": "x", "metadata": ' + b"[" * 3000 + b"]" * 3000 + b"}", JSON),
    ("unterminated deep", b"[" * DEEP, JSON),
    ("duplicate keys", b'{"text": "x", "text": "y"}', JSON),
    ("duplicate batch", b'{"documents": [], "documents": [{"text": "a"}]}', JSON),
    ("slash id", b'{"id": "https://example.com/a/b", "text": "x"}', JSON),
    ("dot-dot id", b'{"id": "../../etc/passwd", "text": "x"}', JSON),
    ("encoded id", b'{"id": "%2F..%2F%00", "text": "x"}', JSON),
    ("blank id", b'{"id": "   ", "text": "x"}', JSON),
    ("long id", b'{"id": "' + b"i" * 300 + b'", "text": "x"}', JSON),
    ("nul id", b'{"id": "a\\u0000b", "text": "x"}', JSON),
    ("newline id", b'{"id": "a\\nb", "text": "x"}', JSON),
    ("numeric id", b'{"id": 123, "text": "x"}', JSON),
    ("object id", b'{"id": {"$ne": null}, "text": "x"}', JSON),
    ("empty text", b'{"text": ""}', JSON),
    ("blank text", b'{"text": " \\t\\n "}', JSON),
    ("list text", b'{"text": ["a"]}', JSON),
    ("null text", b'{"text": null}', JSON),
    ("empty object", b"{}", JSON),
    ("array", b"[]", JSON),
    ("string", b'"text"', JSON),
    ("number", b"12345", JSON),
    ("null", b"null", JSON),
    ("true", b"true", JSON),
    ("empty body", b"", JSON),
    ("truncated", b'{"text": "x"', JSON),
    ("invalid utf-8", b'{"text": "\xff\xfe\xfd"}', JSON),
    ("utf-8 bom", b'\xef\xbb\xbf{"text": "x"}', JSON),
    ("comment", b'{"text": "x" /* hi */}', JSON),
    ("trailing comma", b'{"text": "x",}', JSON),
    ("negative k", b'{"text": "x", "k": -1}', JSON),
    ("string k", b'{"text": "x", "k": "10"}', JSON),
    ("huge k", b'{"text": "x", "k": 1e300}', JSON),
    ("long label", b'{"label": "' + b"l" * 5000 + b'"}', JSON),
    ("control label", b'{"label": "a\\u0007\\u001b[31m"}', JSON),
    ("rtl label", b'{"label": "\\u202eecaps"}', JSON),
    ("wrong role", b'{"role": "root", "name": "x"}', JSON),
    ("control name", b'{"role": "app", "name": "a\\u0000"}', JSON),
    ("many keys", json.dumps({"text": "x", "metadata": {f"k{i}": i for i in range(300)}})
     .encode(), JSON),
    ("extra field", b'{"text": "x", "admin": true}', JSON),
    ("text/plain", b'{"text": "x"}', "text/plain"),
    ("form", b"text=x", "application/x-www-form-urlencoded"),
    ("multipart", b"--b\r\nContent-Disposition: form-data; name=text\r\n\r\nx\r\n--b--",
     "multipart/form-data; boundary=b"),
    ("xml", b"<text>x</text>", "application/xml"),
    ("utf-16 json", '{"text": "x"}'.encode("utf-16"), "application/json; charset=utf-16"),
    ("no content type nan", b'{"text": NaN}', None),
    ("no content type surrogate", b'{"text": "\\udc00"}', None),
    ("json+ld surrogate", b'{"text": "\\udc00"}', "application/ld+json"),
    ("over the body limit", b'{"text": "' + b"x" * 10_000 + b'"}', JSON),
]

# Fixed targets (the issue's repros) plus, in the test below, every operation with a JSON
# body in every service's OpenAPI schema, so endpoints added later are covered too.
TARGETS = [
    ("ingest", "/v1/documents"),
    ("scorer", "/v1/classify"),
    ("scorer", "/v1/similar"),
    ("review", "/v1/review/some%2Fid/label"),
    ("trainer", "/v1/admin/keys"),
]
NO_LIMITS = [{"rate_limits": False}]


def check(resp: object, what: object) -> None:
    status = resp.status_code  # type: ignore[attr-defined]
    assert status < 500, (what, status, resp.text[:300])  # type: ignore[attr-defined]
    if resp.content:  # type: ignore[attr-defined]
        json.loads(resp.content)  # type: ignore[attr-defined]  # the answer itself is valid JSON


def test_there_are_at_least_50_hostile_inputs() -> None:
    assert len({name for name, *_ in HOSTILE}) == len(HOSTILE) >= 50


def json_operations(sec: Secured, svc: str) -> list[tuple[str, str]]:
    """(METHOD, url) of every operation taking a JSON body, path parameters filled in."""
    out = []
    for path, ops in sec.services[svc].app.openapi()["paths"].items():
        for method, op in ops.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                url = re.sub(r"\{[^}]+\}", "some%2Fid", path)
                out.append((method.upper(), url))
    return out


@pytest.mark.parametrize("secured", NO_LIMITS, indirect=True)
@pytest.mark.parametrize("svc", ["ingest", "scorer", "review", "trainer"])
async def test_no_hostile_body_gets_a_5xx(secured: Secured, svc: str) -> None:
    client = secured.clients[svc]
    targets = {(m, u) for m, u in json_operations(secured, svc)}
    targets |= {("POST", path) for s, path in TARGETS if s == svc}
    assert targets
    for method, url in sorted(targets):
        for name, body, ctype in HOSTILE:
            headers = {**secured.h("root"), **({"content-type": ctype} if ctype else {})}
            resp = await client.request(method, url, content=body, headers=headers)
            check(resp, (svc, method, url, name))


ODD_IDS = ["a/b", "a%2Fb", "..%2F..%2F", "%00", "%ED%B2%80", "%FF", "x" * 2000, "%20",
           "a?b=c", "a#b", "ü/ß", "%252F"]


@pytest.mark.parametrize("secured", NO_LIMITS, indirect=True)
async def test_no_odd_id_in_a_path_or_query_gets_a_5xx(secured: Secured) -> None:
    h = secured.h("root")
    for odd in ODD_IDS:
        for svc, method, url in [
            ("scorer", "GET", f"/v1/similar?item_id={odd}"),
            ("scorer", "GET", f"/v1/similar?item_id=x&k={odd}"),
            ("review", "POST", f"/v1/review/{odd}/label"),
            ("review", "POST", f"/v1/review/{odd}/skip"),
            ("review", "POST", f"/v1/review/{odd}/heartbeat"),
            ("trainer", "GET", f"/v1/admin/keys/{odd}"),
            ("ingest", "POST", f"/v1/admin/keys/{odd}/revoke"),
        ]:
            resp = await secured.clients[svc].request(method, url, headers=h,
                                                      json={"label": "space"})
            check(resp, (svc, url))


BULK_LINES: list[tuple[str, bytes]] = [
    ("nan", b'{"text": NaN}'), ("surrogate", b'{"text": "\\udc00"}'),
    # (lines stay under the fixture's 2048-byte line limit, so they are parsed)
    ("deep", b"[" * 1020 + b"]" * 1020), ("deep object", b'{"a":' * 330 + b"1" + b"}" * 330),
    ("too long and deep", b"[" * 30_000 + b"]" * 10),
    ("duplicate", b'{"text": "a", "text": "b"}'), ("1e309", b'{"text": "a", "x": 1e309}'),
    ("not json", b"hello"), ("array", b"[1, 2]"), ("invalid utf-8", b'{"text": "\xff"}'),
    ("crlf", b'{"text": "crlf"}\r'), ("huge int", b'{"text": "a", "n": 1' + b"0" * 5000 + b"}"),
]


@pytest.mark.parametrize("secured", NO_LIMITS, indirect=True)
async def test_hostile_bulk_lines_are_per_line_errors(secured: Secured) -> None:
    good = b'{"id": "good", "text": "fine"}'
    ingest = secured.clients["ingest"]
    headers = {**secured.h("app1"), "content-type": "application/x-ndjson"}
    for name, line in BULK_LINES:
        resp = await ingest.post("/v1/documents/bulk", content=good + b"\n" + line + b"\n" + good,
                                 headers=headers)
        check(resp, name)
        body = resp.json()
        assert resp.status_code == 200 and body["accepted"] >= 2, (name, body)
        assert body["accepted"] + body["rejected"] == 3, (name, body)
    for ctype in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                  None]:
        h = {**secured.h("app1"), **({"content-type": ctype} if ctype else {})}
        resp = await ingest.post("/v1/documents/bulk", content=good, headers=h)
        assert resp.status_code == 415, (ctype, resp.text)


# -- the issue's repros, exactly ---------------------------------------------------------
@pytest.mark.parametrize("secured", NO_LIMITS, indirect=True)
async def test_issue_repros_are_422_with_a_reason(secured: Secured) -> None:
    h = {**secured.h("root"), "content-type": JSON}
    resp = await secured.clients["scorer"].post("/v1/classify", content=b'{"text":NaN}',
                                                headers=h)
    assert resp.status_code == 422 and "NaN" in resp.text
    await secured.queue("item-1")
    base = lease_base(secured, await lease(secured, "root"))
    resp = await secured.clients["review"].post(f"{base}/label",
                                                content=b'{"label":Infinity}', headers=h)
    assert resp.status_code == 422 and "Infinity" in resp.text
    for svc, path in TARGETS:
        resp = await secured.clients[svc].post(path, content=b'{"text": "\\udc00", "label": "a"}',
                                               headers=h)
        assert resp.status_code in (413, 422), (svc, path, resp.status_code)
        if resp.status_code == 422:
            assert "surrogate" in resp.text


@pytest.mark.parametrize("secured", NO_LIMITS, indirect=True)
async def test_a_validation_error_never_echoes_the_input(secured: Secured) -> None:
    h = {**secured.h("root"), "content-type": JSON}
    secret_ish = "do-not-echo-" + "z" * 50
    resp = await secured.clients["ingest"].post(
        "/v1/documents", content=json.dumps({"text": [secret_ish]}).encode(), headers=h)
    assert resp.status_code == 422 and secret_ish not in resp.text
    assert set(resp.json()["detail"][0]) == {"loc", "msg", "type"}
