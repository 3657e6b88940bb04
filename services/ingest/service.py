"""Ingest: HTTP in, documents topic out."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.auth.wiring import secure_app
from services.common.bus import Bus
from services.common.docs import install_offline_docs
from services.common.http import BodyLimitMiddleware, install_error_handlers
from services.common.observability import ops_router
from services.common.runtime import Service
from services.common.store import Store
from services.ingest.api import Deps, router
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings

BULK = "/v1/documents/bulk"


def build_ingest(settings: IngestSettings, bus: Bus, store: Store) -> Service:
    metrics = IngestMetrics()
    app = FastAPI(title="alstream ingest", version="0.1.0")
    install_error_handlers(app)
    install_offline_docs(app)
    app.state.deps = Deps(settings, bus, metrics)
    app.include_router(router())

    async def ready() -> dict[str, bool]:
        return {"store": await store.ping()}

    app.include_router(ops_router(metrics, ready, protect_metrics=settings.metrics_auth))
    secure_app(app, settings, store, metrics, stream_paths=frozenset({BULK}))
    # Bulk bodies are streamed line by line and bounded by the endpoint itself, which can then
    # say what it published before a limit stopped it (services/ingest/bulk_upload.py).
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, overrides={BULK: None})
    return Service(name="ingest", app=app)
