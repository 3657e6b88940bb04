"""/docs and /redoc must work with no internet: every asset they reference is served locally."""

from __future__ import annotations

import re

import pytest

from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings

_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.fixture
async def ingest(bus, store, running):
    async with running(build_ingest(IngestSettings(), bus, store)) as r:
        yield r


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_doc_pages_reference_only_local_assets_and_they_are_served(ingest, page):
    resp = await ingest.client.get(page)
    assert resp.status_code == 200
    refs = [a or b for a, b in _REF.findall(resp.text)]
    assert refs, f"no asset references found in {page}"
    remote = [r for r in refs if not r.startswith("/")]
    assert remote == [], f"{page} loads from the network: {remote}"
    for ref in refs:
        asset = await ingest.client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content, ref
    if page == "/docs":
        assert "/openapi.json" in refs
        assert any(r.endswith("swagger-ui-bundle.js") for r in refs)


async def test_openapi_schema_does_not_list_the_doc_pages(ingest):
    paths = (await ingest.client.get("/openapi.json")).json()["paths"]
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)
    assert "/v1/documents" in paths
