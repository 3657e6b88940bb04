"""Schemathesis with all its checks against each service's OpenAPI schema, authenticated, the
NDJSON bulk endpoint included: no 5xx and no answer that contradicts the schema.

``make test`` runs a few examples per operation; ``make fuzz`` sets ALSTREAM_FUZZ_EXAMPLES
(default there: 200) for the long run.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fuzz.conftest import AUTH, RESULTS, FuzzResult, ServerThread

EXAMPLES = int(os.environ.get("ALSTREAM_FUZZ_EXAMPLES", "5"))


@schemathesis.serializer("application/x-ndjson")
def ndjson(_: schemathesis.SerializationContext, value: Any) -> bytes:
    """The schema describes the body as an array of documents; on the wire, one per line."""
    items = value if isinstance(value, list) else [value]
    return b"\n".join(json.dumps(item).encode() for item in items)


def _schema(servers: ServerThread, name: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{servers.urls[name]}/openapi.json")


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 10,
                suppress_health_check=list(HealthCheck), database=None)


# schemathesis.pytest.from_fixture does not run on pytest 9 (it sets a private node id), so
# each operation gets its own hypothesis run here, and every failing one is reported.
@pytest.mark.parametrize("service", ["ingest", "scorer", "review_api", "trainer"])
def test_schema_holds_under_fuzzing(servers: ServerThread, service: str) -> None:
    started = time.perf_counter()
    schema = _schema(servers, service)
    failures: list[str] = []
    operations = examples = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            nonlocal examples
            examples += 1
            case.call_and_validate(headers=AUTH)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    RESULTS[service] = FuzzResult(operations, examples, len(failures),
                                  time.perf_counter() - started)
    assert operations >= 3
    assert not failures, "\n\n".join(failures)
