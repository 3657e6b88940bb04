"""Review API: review requests in (a priority queue in the store), label events out."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import FastAPI

from services.common.auth.wiring import secure_app
from services.common.bus import Bus
from services.common.bus.runner import ConsumerLoop, Item
from services.common.docs import install_offline_docs
from services.common.http import BodyLimitMiddleware, install_error_handlers
from services.common.observability import ops_router
from services.common.runtime import Service
from services.common.schemas import ModelAnnouncement, ReviewRequest
from services.common.store import Store
from services.review_api.admin_api import admin_router
from services.review_api.api import router
from services.review_api.deps import Deps
from services.review_api.metrics import ReviewMetrics
from services.review_api.page import page_router
from services.review_api.reprioritise import Reprioritiser
from services.review_api.settings import ReviewSettings


def build_review_api(settings: ReviewSettings, bus: Bus, store: Store) -> Service:
    metrics = ReviewMetrics()
    topics = settings.topics
    deps = Deps(settings, bus, store, metrics)

    async def enqueue(items: list[Item[ReviewRequest]]) -> None:
        for item in items:
            # Idempotent by item id: a redelivered request is recognised and dropped.
            needed = deps.flow.votes_needed(item.message.reason)
            if await store.queue.enqueue(item.message, votes_needed=needed):
                metrics.enqueued.labels(item.message.reason.value).inc()
            else:
                metrics.enqueue_duplicates.inc()

    requests = ConsumerLoop(
        bus=bus, consumer=bus.consumer([topics.review_requests], settings.consumer_group),
        schema=ReviewRequest, handler=enqueue, dead_letter_topic=topics.dead_letter,
        group=settings.consumer_group, metrics=metrics,
    )
    loops: list[ConsumerLoop[Any]] = [requests]
    # One re-scoring per announcement is enough: the review API processes share a group.
    reprioritiser = Reprioritiser(settings, store, metrics)
    if settings.reprioritise:  # otherwise no consumer at all, not one that is never run
        loops.append(ConsumerLoop(
            bus=bus, consumer=bus.consumer([topics.models], f"{settings.consumer_group}-models",
                                           from_beginning=False),
            schema=ModelAnnouncement, handler=reprioritiser.on_announcements,
            dead_letter_topic=topics.dead_letter, group=f"{settings.consumer_group}-models",
            metrics=metrics,
        ))
    stop = asyncio.Event()

    async def gauges() -> None:
        # Expired leases return to the queue inside stats(), so this also reaps them.
        while not stop.is_set():
            await deps.refresh_gauges()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.stats_interval_s)

    async def outbox() -> None:
        # Label events a crash or a broker outage left in the store's outbox: at start, then
        # every outbox_interval_s (services/common/outbox_relay.py).
        await deps.relay.run(stop)

    app = FastAPI(title="alstream review API", version="0.1.0")
    install_error_handlers(app)
    install_offline_docs(app)
    app.state.deps = deps
    app.include_router(router())
    app.include_router(admin_router())
    app.include_router(page_router(settings))

    async def ready() -> dict[str, bool]:
        return {"store": await store.ping()}

    app.include_router(ops_router(metrics, ready, protect_metrics=settings.metrics_auth))
    secure_app(app, settings, store, metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    def on_stop() -> None:
        for loop in loops:
            loop.stop()
        stop.set()

    return Service(name="review_api", app=app, jobs=[*(loop.run for loop in loops), gauges, outbox],
                   on_stop=[on_stop],
                   state={"requests": requests, "metrics": metrics,
                          "reprioritiser": reprioritiser, "deps": deps})
