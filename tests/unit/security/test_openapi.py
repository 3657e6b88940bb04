"""The OpenAPI schemas say what the services do: error codes, the NDJSON bulk body, the
/metrics content type, and a description on every model, field, operation and parameter."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from services.common.auth.admin import admin_router
from services.common.openapi import declare_auth_errors
from tests.unit.security.conftest import Secured

OPEN = {"/healthz", "/readyz", "/metrics"}
SCALARS = {"string", "integer", "number", "boolean", "null"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def schemas(sec: Secured) -> dict[str, dict[str, Any]]:
    return {name: svc.app.openapi() for name, svc in sec.services.items()}


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object under ``node`` (properties, items, anyOf/allOf/oneOf branches,
    additionalProperties), with a path naming it."""
    if not isinstance(node, dict):
        return
    yield where, node
    for name, prop in node.get("properties", {}).items():
        yield from _walk(prop, f"{where}.{name}")
    for key in ("items", "additionalProperties", "not"):
        yield from _walk(node.get(key), f"{where}[{key}]")
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for i, branch in enumerate(node.get(key, [])):
            yield from _walk(branch, f"{where}[{key}{i}]")


def _body_schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Inline schemas of request and response bodies (a model there is only a $ref)."""
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            bodies = [("request", op.get("requestBody", {}))]
            bodies += [(code, r) for code, r in op.get("responses", {}).items()]
            for what, body in bodies:
                for media, content in body.get("content", {}).items():
                    yield f"{method.upper()} {path} {what} {media}", content.get("schema", {})


def undescribed(doc: dict[str, Any]) -> list[str]:
    """What an API consumer would find without a description: a component schema, a property
    of any object schema (a property that only refers to a model needs its own description:
    the model's says what the type is, not what the field means), an operation, a parameter."""
    missing = []
    roots = list(doc.get("components", {}).get("schemas", {}).items())
    for name, schema in roots:
        if not schema.get("description"):
            missing.append(name)
    for root, schema in [*roots, *_body_schemas(doc)]:
        for where, node in _walk(schema, root):
            missing += [f"{where}.{field}" for field, prop in node.get("properties", {}).items()
                        if not prop.get("description")]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in METHODS:
                continue
            if not (op.get("summary") and op.get("description")):
                missing.append(f"{method.upper()} {path}")
            missing += [f"{method.upper()} {path} ?{q['name']}" for q in op.get("parameters", [])
                        if not q.get("description")]
    return missing


def test_every_schema_field_operation_and_parameter_is_described(secured: Secured) -> None:
    docs = schemas(secured)
    assert set(docs) == {"ingest", "scorer", "review", "trainer"}
    for name, doc in docs.items():
        assert len(doc["components"]["schemas"]) >= 10, name  # the walk sees the models
        assert undescribed(doc) == [], name


def test_the_check_finds_a_missing_description(secured: Secured) -> None:
    """The check above is not vacuous: one field, one model, one operation without a
    description are each found."""
    doc = copy.deepcopy(schemas(secured)["trainer"])
    models = doc["components"]["schemas"]
    del models["TrainerStatus"]["properties"]["gate"]["description"]
    del models["Registry"]["description"]
    del doc["paths"]["/v1/status"]["get"]["description"]
    assert undescribed(doc) == ["Registry", "TrainerStatus.gate", "GET /v1/status"]


def _untyped(node: Any, doc: dict[str, Any], where: str, seen: set[str]) -> Iterator[str]:
    """Where ``node`` says nothing about a value: ``{}``, an object with neither properties nor
    typed additionalProperties (``dict``/``dict[str, Any]``), an array of anything. Follows
    $refs (each component once) and properties, so a model with an ``Any`` field is found."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _untyped(doc["components"]["schemas"][name], doc, name, seen)
        return
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in node.get(key, [])]
    for i, branch in enumerate(branches):
        yield from _untyped(branch, doc, f"{where}[{i}]", seen)
    kind = node.get("type")
    if branches or "enum" in node or "const" in node or kind in SCALARS:
        return
    if kind == "array":
        yield from _untyped(node.get("items", {}), doc, f"{where}[items]", seen)
        return
    values = node.get("additionalProperties")  # True or {}: values of any type
    values = values if isinstance(values, dict) and values else None
    if kind == "object" and (node.get("properties") or values):
        for name, prop in node.get("properties", {}).items():
            yield from _untyped(prop, doc, f"{where}.{name}", seen)
        if values:
            yield from _untyped(values, doc, f"{where}[values]", seen)
    else:
        yield where


def untyped_responses(doc: dict[str, Any]) -> list[str]:
    """Every 2xx JSON response of every operation, and every part of it, has a real schema.
    Left out by design: 204 (no body) and non-JSON bodies (/metrics text; the NDJSON request
    body and the HTML page are not responses of the schema). A 2xx other than 204 that
    declares no body at all counts as untyped."""
    found: list[str] = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for code, response in op.get("responses", {}).items():
                if not code.startswith("2") or code == "204":
                    continue
                where = f"{method.upper()} {path} {code}"
                content = response.get("content") or {}
                if not content:
                    found.append(where)
                for media, body in content.items():
                    if media == "application/json" or media.endswith("+json"):
                        found += [f"{where} {x}" for x in _untyped(
                            body.get("schema", {}), doc, "body", set())]
    return found


def test_every_json_success_response_has_a_typed_schema(secured: Secured) -> None:
    for name, doc in schemas(secured).items():
        assert untyped_responses(doc) == [], name
    review = schemas(secured)["review"]["paths"]
    ok = review["/v1/review/leases/{lease_id}/similar"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeaseSimilar"}


class Loose(BaseModel):
    """A model with one untyped field."""

    name: str
    extra: Any


def test_the_check_finds_an_untyped_response() -> None:
    """The check above is not vacuous: FastAPI's schemas for the two forms the services had
    (``-> object`` and ``-> dict[str, Any]``), a model with an ``Any`` field, a list of
    anything and a 200 without a body are each found; a 204, the Prometheus text and a
    typed model are not."""
    app = FastAPI()

    @app.get("/object")
    async def as_object() -> object:
        return {}

    @app.get("/dict")
    async def as_dict() -> dict[str, Any]:
        return {}

    @app.get("/loose", response_model=Loose)
    async def loose() -> Loose:
        return Loose(name="x", extra=1)

    @app.get("/list")
    async def as_list() -> list[Any]:
        return []

    @app.get("/typed")
    async def typed() -> dict[str, list[int]]:
        return {}

    @app.get("/empty", responses={200: {"description": "Nothing", "content": {}}},
             response_class=Response)
    async def empty() -> Response:
        return Response()

    @app.delete("/gone", status_code=204)
    async def gone() -> Response:
        return Response(status_code=204)

    @app.get("/metrics", responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
             response_class=Response)
    async def metrics() -> Response:
        return Response()

    assert untyped_responses(app.openapi()) == [
        "GET /object 200 body", "GET /dict 200 body", "GET /loose 200 Loose.extra",
        "GET /list 200 body[items]", "GET /empty 200"]


def test_422_is_declared_with_the_error_body_the_handler_sends(secured: Secured) -> None:
    """FastAPI's HTTPValidationError is not what validation_handler answers; no operation
    declares it and the schema does not carry it."""
    for name, doc in schemas(secured).items():
        assert not {"HTTPValidationError", "ValidationError"} & set(
            doc["components"]["schemas"]), name
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if "422" in op["responses"]:
                    body = op["responses"]["422"]["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_a_router_that_lists_no_422_gets_the_error_body_too() -> None:
    """The rewrite behind the test above, on a route no service has (today every router
    lists its 422s)."""
    app = FastAPI()
    app.include_router(admin_router())  # what secure_app mounts: it declares ErrorBody

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    declare_auth_errors(app)
    doc = app.openapi()
    body = doc["paths"]["/v1/things/{thing_id}"]["get"]["responses"]["422"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]


def test_protected_operations_declare_auth_and_limit_errors(secured: Secured) -> None:
    for name, doc in schemas(secured).items():
        for path, ops in doc["paths"].items():
            if path in OPEN:
                continue
            for method, op in ops.items():
                declared = set(op["responses"])
                wanted = {"401", "403"} | ({"422"} if op.get("parameters") or
                                           op.get("requestBody") else set())
                assert wanted <= declared, (name, method, path, declared)
                if "401" in declared:
                    assert "WWW-Authenticate" in op["responses"]["401"].get("headers", {})


def test_limited_operations_declare_429_and_body_operations_413(secured: Secured) -> None:
    docs = schemas(secured)
    for name, method, path in [("ingest", "post", "/v1/documents"),
                               ("ingest", "post", "/v1/documents/bulk"),
                               ("scorer", "post", "/v1/classify"),
                               ("scorer", "post", "/v1/similar")]:
        responses = docs[name]["paths"][path][method]["responses"]
        assert {"413", "429"} <= set(responses), (name, path)
        assert "Retry-After" in responses["429"]["headers"]
    bulk = docs["ingest"]["paths"]["/v1/documents/bulk"]["post"]
    assert "415" in bulk["responses"]
    body = bulk["requestBody"]["content"]["application/x-ndjson"]["schema"]
    assert body["items"]["$ref"].endswith("/DocumentIn") and body["maxItems"] == 1000


def test_metrics_declares_the_prometheus_content_type(secured: Secured) -> None:
    for name, doc in schemas(secured).items():
        content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert list(content) == [CONTENT_TYPE_LATEST], name


async def test_metrics_answers_with_that_content_type(secured: Secured) -> None:
    for client in secured.clients.values():
        resp = await client.get("/metrics")
        assert resp.headers["content-type"] == CONTENT_TYPE_LATEST
