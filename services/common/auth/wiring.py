"""One call that makes a service's app safe to expose (issue 9): who is calling, how often,
key management, strict JSON, and slow-client limits for its HTTP server."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from services.common.auth.admin import admin_router
from services.common.auth.authenticator import KeyAuthenticator
from services.common.auth.principal import DevAuthenticator
from services.common.auth.ratelimit import Limits
from services.common.hardening import StrictJsonMiddleware
from services.common.observability import Metrics
from services.common.openapi import declare_auth_errors
from services.common.settings import CommonSettings
from services.common.slowclients import uvicorn_options
from services.common.store import Store

log = logging.getLogger(__name__)


def secure_app(app: FastAPI, settings: CommonSettings, store: Store, metrics: Metrics,
               stream_paths: frozenset[str] = frozenset()) -> None:
    """Call before adding the body-limit middleware, so that limit applies first (outermost).

    ``stream_paths`` are endpoints that read their body as a stream and check it themselves.
    """
    if settings.auth:
        boot = settings.bootstrap_admin_key
        app.state.authenticator = KeyAuthenticator(
            store.keys, boot.get_secret_value() if boot else None)
    else:
        app.state.authenticator = DevAuthenticator()
    app.state.keys = store.keys
    app.state.limits = Limits.from_settings(settings, store.limits, metrics)
    app.include_router(admin_router())
    declare_auth_errors(app)
    app.add_middleware(StrictJsonMiddleware, skip_paths=stream_paths)
    app.state.uvicorn_options = uvicorn_options(
        settings.http_header_timeout_s, settings.http_keep_alive_s,
        settings.http_max_connections, settings.http_max_header_bytes)
