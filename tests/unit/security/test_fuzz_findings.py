"""Regressions for what `make fuzz` (schemathesis) found, one test per finding.

Finding 1 (ST202, schema-valid request rejected): POST /v1/admin/keys with the name "\\u0085".
The schema's pattern used `\\s`; the fuzzer's regex engine does not count U+0085 (NEL) as
whitespace, pydantic's strip_whitespace does, so the name was stripped to "" and refused with
a 422. The patterns now spell whitespace out (services.common.schemas.SPACE).

Finding 2 (ST202): GET /v1/audit/items/%0A. The item id is a `{item_id:path}` parameter, whose
route regex ends in `$`, which matches before a final newline: the id "\n" reached the handler
as "" and was refused with a 422, while the schema (minLength 1, no pattern) called it valid.
The parameter is now a DocId, as ids are stored: its published pattern says "not blank".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import BaseModel, ValidationError

from services.common.auth.admin import KeyIn
from services.ingest.api import DocumentIn
from services.review_api.api import LabelIn
from services.scorer.feedback import FeedbackIn
from tests.unit.security.conftest import Secured

# Whitespace and invisible characters as Python, pydantic and ECMAScript may see them: every
# character up to U+3000 (the last White_Space one) that is a space or not printable, plus the
# zero-width ones, which no engine counts as whitespace.
ODD = [c for c in map(chr, range(0x3001)) if c.isspace() or not c.isprintable()
       if not 0xD800 <= ord(c) <= 0xDFFF] + ["\u200b", "\ufeff"]
# ECMAScript's \s (the regex dialect of JSON Schema and OpenAPI): no U+0085, but U+FEFF.
ECMA_SPACE = r"\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
FIELDS: list[tuple[type[BaseModel], str, dict[str, Any]]] = [
    (KeyIn, "name", {"role": "app"}),
    (DocumentIn, "id", {"text": "x"}),
    (DocumentIn, "text", {}),
    (LabelIn, "label", {}),
    (FeedbackIn, "doc_id", {"label": "x", "text": "x"}),
]


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield node["pattern"]
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_no_published_pattern_uses_an_engine_dependent_whitespace_class(
        secured: Secured) -> None:
    found = [(name, p) for name, svc in secured.services.items()
             for p in _patterns(svc.app.openapi())]
    assert len(found) >= 8  # the walk reaches the ids, texts, labels and key names
    assert [(name, p) for name, p in found if re.search(r"(?<!\\)\\[sS]", p)] == []


def as_ecmascript(pattern: str) -> str:
    """The pattern with `\s`/`\S` meaning what they mean in ECMAScript, for Python's re."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        token = pattern[i:i + 2] if pattern[i] == "\\" else pattern[i]
        i += len(token)
        if token == "\\s":
            token = ECMA_SPACE if in_class else f"[{ECMA_SPACE}]"
        elif token == "\\S":
            assert not in_class, "\\S inside a class: not translated"
            token = f"[^{ECMA_SPACE}]"
        elif token == "[":
            in_class = True
        elif token == "]":
            in_class = False
        out.append(token)
    return "".join(out)


def _schema_allows(model: type[BaseModel], field: str, value: str) -> bool:
    """Whether the published schema calls ``value`` valid, with either regex dialect."""
    prop = model.model_json_schema()["properties"][field]
    prop = next((b for b in prop.get("anyOf", []) if b.get("type") == "string"), prop)
    pattern = prop["pattern"]
    return (prop.get("minLength", 0) <= len(value) <= prop.get("maxLength", len(value))
            and any(re.search(p, value) for p in (pattern, as_ecmascript(pattern))))


def _accepted(model: type[BaseModel], field: str, rest: dict[str, Any], value: str) -> bool:
    try:
        model(**rest, **{field: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("model", "field", "rest"), FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, f, _ in FIELDS])
def test_a_value_the_schema_allows_is_accepted(model: type[BaseModel], field: str,
                                               rest: dict[str, Any]) -> None:
    """What the fuzzer checks (ST202), over whitespace and control characters alone, twice,
    before and after a letter."""
    refused = [v for c in ODD for v in (c, c * 2, c + "a", "a" + c)
               if _schema_allows(model, field, v) and not _accepted(model, field, rest, v)]
    assert refused == []
    assert _schema_allows(model, field, "a") and _accepted(model, field, rest, "a")


async def test_the_found_key_name_is_outside_the_served_schema(secured: Secured) -> None:
    """The exact repro: the served schema now says "\\u0085" is no name, and the service
    refuses it with a 422 that names the field."""
    schema = secured.services["ingest"].app.openapi()["components"]["schemas"]["KeyIn"]
    pattern = schema["properties"]["name"]["pattern"]
    assert re.search(as_ecmascript(pattern), "\u0085") is None
    assert re.search(pattern, "\u0085") is None
    resp = await secured.clients["ingest"].post("/v1/admin/keys", headers=secured.h("root"),
                                                json={"name": "\u0085", "role": "reviewer"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "name"]


def test_the_ecmascript_reading_differs_where_the_finding_was() -> None:
    """The helper above is what makes the tests see the finding: U+0085 is whitespace to
    Python's `\\s`, not to ECMAScript's."""
    assert re.search(r"\S", "\x85") is None
    assert re.search(as_ecmascript(r"\S"), "\x85") is not None
    assert re.search(as_ecmascript(r"[^\s\x00]"), "\ufeff") is None


async def test_an_audit_item_id_the_schema_allows_is_not_refused(secured: Secured) -> None:
    """Finding 2, exactly and around it: each whitespace or control character alone, before
    and after a letter, as the item id in the path. What the schema allows is answered (no
    422); "\n", which the route empties, is outside the schema and refused."""
    doc = secured.services["review"].app.openapi()
    (param,) = doc["paths"]["/v1/audit/items/{item_id}"]["get"]["parameters"][:1]
    schema = param["schema"]
    assert param["name"] == "item_id" and schema["minLength"] == 1

    def allowed(value: str) -> bool:
        pattern = schema.get("pattern", "")  # none before the fix: any string of 1-256
        return len(value) <= schema["maxLength"] and all(
            re.search(p, value) for p in (pattern, as_ecmascript(pattern)))

    client, admin = secured.clients["review"], secured.h("root")
    refused = []
    for value in [v for c in ODD if ord(c) < 0x100 or c.isspace() for v in (c, c + "a", "a" + c)]:
        if allowed(value):
            resp = await client.get(f"/v1/audit/items/{quote(value, safe='')}", headers=admin)
            if resp.status_code == 422:
                refused.append(value)
    assert refused == []
    assert not allowed("\n")
    resp = await client.get("/v1/audit/items/%0A", headers=admin)
    assert resp.status_code == 422
