"""The OpenAPI schemas say what the services do: error codes, the NDJSON bulk body, the
/metrics content type, and a description on every model, field, operation and parameter."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST

from services.common.auth.admin import admin_router
from services.common.openapi import declare_auth_errors
from tests.unit.security.conftest import Secured

OPEN = {"/healthz", "/readyz", "/metrics"}
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
