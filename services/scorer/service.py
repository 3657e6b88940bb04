"""Scorer: wires encoder, model holder, router and the stream pipeline to the bus and HTTP."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import FastAPI

from services.common.auth.wiring import secure_app
from services.common.bus import Bus
from services.common.bus.runner import ConsumerLoop, Item
from services.common.docs import install_offline_docs
from services.common.encoding import Encoder, make_encoder
from services.common.http import BodyLimitMiddleware, install_error_handlers
from services.common.observability import ops_router
from services.common.outbox_relay import OutboxRelay
from services.common.runtime import Service
from services.common.schemas import Document, LabelEvent, ModelAnnouncement, ReviewRequest
from services.common.selection.zeroshot import PrototypeClassifier
from services.common.store import Store
from services.scorer.api import Deps, router
from services.scorer.batcher import BatcherMetrics
from services.scorer.dedup import DedupMetrics, NearDuplicates
from services.scorer.embedder import Embedder
from services.scorer.feedback import feedback_router
from services.scorer.index import IndexFeeder, IndexMetrics, SimilarityIndex
from services.scorer.metrics import ScorerMetrics
from services.scorer.model_holder import ModelHolder
from services.scorer.pipeline import StreamScorer
from services.scorer.selection import audit_router, build_router, poll_queue
from services.scorer.settings import ScorerSettings
from services.scorer.similar_api import similar_router


def build_scorer(
    settings: ScorerSettings, bus: Bus, store: Store, encoder: Encoder | None = None
) -> Service:
    metrics = ScorerMetrics()
    topics = settings.topics
    encoder = encoder or make_encoder(
        settings.encoder_backend, settings.model_path, settings.device, settings.max_length,
        cache_dir=settings.onnx_cache_dir, threads=settings.encoder_threads,
    )
    embedder = Embedder(
        encoder, batch_size=settings.batch_size,
        max_batch_tokens=settings.token_budget(encoder.device),
        max_wait_s=settings.max_wait_s(encoder.device), metrics=BatcherMetrics(metrics),
        interactive_capacity=settings.queue_interactive, stream_capacity=settings.queue_stream,
    )
    index = SimilarityIndex(encoder.dim, device=settings.index_device,
                            metrics=IndexMetrics(metrics))
    dedup = NearDuplicates(index, settings.dup_threshold, metrics=DedupMetrics(metrics))
    holder = ModelHolder(store.models, settings.signing_key.get_secret_value().encode(), metrics)
    selection, selection_metrics = build_router(settings, store, holder, metrics)
    scorer = StreamScorer(bus, topics, embedder, holder, selection, metrics, dedup,
                          observe_fraction=settings.observe_fraction)
    documents = ConsumerLoop(
        bus=bus,
        consumer=bus.consumer([topics.documents], settings.consumer_group),
        schema=Document, handler=scorer.handle, dead_letter_topic=topics.dead_letter,
        group=settings.consumer_group, metrics=metrics, max_records=settings.batch_size,
    )
    # Every scorer instance must see every announcement: a group of its own, new records only.
    run_id = f"{settings.instance_id}-{uuid.uuid4().hex[:8]}"  # this start of this instance
    models_group = f"{settings.consumer_group}-models-{run_id}"
    announcements = ConsumerLoop(
        bus=bus,
        consumer=bus.consumer([topics.models], models_group, from_beginning=False,
                              fetch_wait_ms=settings.models_fetch_wait_ms),
        schema=ModelAnnouncement, handler=holder.on_announcements,
        dead_letter_topic=topics.dead_letter, group=models_group, metrics=metrics,
    )
    # The similarity index is rebuilt on every start by replaying everything sent to review
    # and every label (groups of this start's own, from the beginning), then follows both.
    # The same label replay restores the audit estimate and then feeds selection (drift,
    # reviewer throughput, audit) with new labels. The run id matters: a restarted container
    # keeps its hostname and pid, and a reused group would resume, not replay.
    feeder = IndexFeeder(index)
    index_group = f"{settings.consumer_group}-index-{run_id}"
    index_reviews = ConsumerLoop(
        bus=bus, consumer=bus.consumer([topics.review_requests], f"{index_group}-reviews"),
        schema=ReviewRequest, handler=feeder.on_review_requests,
        dead_letter_topic=topics.dead_letter, group=f"{index_group}-reviews", metrics=metrics,
        max_records=500,
    )

    async def on_labels(items: list[Item[LabelEvent]]) -> None:
        await feeder.on_labels(items)
        await selection.on_labels(items)

    index_labels = ConsumerLoop(
        bus=bus, consumer=bus.consumer([topics.labels], f"{index_group}-labels"),
        schema=LabelEvent, handler=on_labels,
        dead_letter_topic=topics.dead_letter, group=f"{index_group}-labels", metrics=metrics,
        max_records=500,
    )
    poll_stop = asyncio.Event()

    async def queue_poller() -> None:
        await poll_queue(selection, store, selection_metrics, settings.queue_poll_s, poll_stop)

    app = FastAPI(title="alstream scorer", version="0.1.0")
    install_error_handlers(app)
    install_offline_docs(app)
    app.state.deps = Deps(settings, embedder, holder, metrics)
    app.include_router(router())
    app.include_router(audit_router(selection))
    # App feedback learned directly (feedback_mode learn/weighted) goes through the store's
    # labels outbox, like reviewers' labels; this relay publishes it (and whatever is pending).
    relay = OutboxRelay(store.outbox, bus, topics.labels, metrics,
                        interval_s=settings.outbox_interval_s)
    relay_stop = asyncio.Event()

    async def outbox() -> None:
        await relay.run(relay_stop)

    app.include_router(feedback_router(
        settings, bus, store, holder, lambda texts: embedder.embed(texts, interactive=True),
        relay))
    app.include_router(similar_router(
        index, lambda texts: embedder.embed(texts, interactive=True), settings.classify_max_chars
    ))

    async def ready() -> dict[str, bool]:
        return {"store": await store.ping(), "encoder": embedder.batcher.running}

    app.include_router(ops_router(metrics, ready, protect_metrics=settings.metrics_auth))
    secure_app(app, settings, store, metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    async def on_start() -> None:
        await embedder.start()
        await holder.load_latest()
        # Zero-shot prototypes: configured descriptions, else the fixed label set's names.
        described = settings.label_descriptions or {
            name: name for name in settings.label_set or []}
        if len(described) >= 2:
            vectors = await embedder.embed(list(described.values()))
            holder.set_prototypes(PrototypeClassifier(dict(zip(described, vectors, strict=True))))

    async def on_stop() -> None:
        documents.stop()
        announcements.stop()
        index_reviews.stop()
        index_labels.stop()
        poll_stop.set()
        relay_stop.set()

    return Service(
        name="scorer", app=app,
        jobs=[documents.run, announcements.run, index_reviews.run, index_labels.run,
              queue_poller, outbox],
        on_start=[on_start], on_stop=[on_stop], on_close=[embedder.stop],
        state={"holder": holder, "documents": documents, "metrics": metrics, "index": index,
               "embedder": embedder, "router": selection},
    )
