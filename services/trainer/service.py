"""Trainer: label events in, folded exactly once each; gated, signed versions out (wiring)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.common.auth.wiring import secure_app
from services.common.bus import Bus
from services.common.bus.runner import ConsumerLoop, Item
from services.common.docs import install_offline_docs
from services.common.http import BodyLimitMiddleware, install_error_handlers
from services.common.model import OnlineClassifier
from services.common.observability import ops_router
from services.common.runtime import Service
from services.common.schemas import LabelEvent, Observation, Prediction
from services.common.store import Store
from services.trainer.api import router
from services.trainer.checkpoint import Checkpointer
from services.trainer.gate import Gate
from services.trainer.learner import Learner
from services.trainer.metrics import TrainerMetrics
from services.trainer.publisher import Publisher
from services.trainer.semisup import Refiner
from services.trainer.settings import TrainerSettings
from services.trainer.trainer import Trainer


def new_learner(settings: TrainerSettings) -> Learner:
    gate = Gate(settings.gate_window, settings.gate_tolerance, settings.gate_min_compared,
                settings.gate_enabled)
    return Learner(OnlineClassifier(learning_rate=settings.learning_rate,
                                    kind=settings.model_kind,
                                    prior_strength=settings.model_prior_strength,
                                    half_life=settings.model_half_life), gate=gate)


def checkpointer_for(settings: TrainerSettings, store: Store) -> Checkpointer:
    key = settings.signing_key.get_secret_value().encode()
    return Checkpointer(store.kv, f"trainer:{settings.consumer_group}:checkpoint", key)


def build_trainer(settings: TrainerSettings, bus: Bus, store: Store) -> Service:
    metrics = TrainerMetrics()
    topics = settings.topics
    key = settings.signing_key.get_secret_value().encode()
    refiner = Refiner(settings.refine_config(), metrics,
                      labelled=lambda item_id: item_id in trainer.learner.fold.items) \
        if settings.semisup_enabled and settings.model_kind == "lda" else None
    trainer = Trainer(
        settings, new_learner(settings),
        Publisher(bus, store.models, topics.models, key, keep_last=settings.keep_versions),
        metrics, checkpointer_for(settings, store), bus=bus, lineage=store.lineage,
        new_learner=lambda: new_learner(settings), refiner=refiner,
    )
    labels = ConsumerLoop(
        bus=bus, consumer=bus.consumer([topics.labels], settings.consumer_group,
                                       fetch_wait_ms=settings.labels_fetch_wait_ms),
        schema=LabelEvent, handler=trainer.handle, dead_letter_topic=topics.dead_letter,
        group=settings.consumer_group, metrics=metrics, max_records=500,
    )
    loops: list[ConsumerLoop[Any]] = [labels]
    if settings.lineage_predictions:
        # Lineage: predictions kept by document id in the store (Kafka topics are no index).
        async def keep_predictions(items: list[Item[Prediction]]) -> None:
            await store.lineage.put_predictions([i.message for i in items])

        group = f"{settings.consumer_group}-lineage"
        loops.append(ConsumerLoop(
            bus=bus, consumer=bus.consumer([topics.predictions], group), schema=Prediction,
            handler=keep_predictions, dead_letter_topic=topics.dead_letter, group=group,
            metrics=metrics, max_records=500,
        ))

    if refiner is not None:
        # Soft state (services/trainer/semisup.py): its own group, committed as it goes.
        group = f"{settings.consumer_group}-observations"
        loops.append(ConsumerLoop(
            bus=bus, consumer=bus.consumer([topics.observations], group), schema=Observation,
            handler=refiner.observe, dead_letter_topic=topics.dead_letter, group=group,
            metrics=metrics, max_records=500,
        ))

    async def on_start() -> None:
        await trainer.restore()

    app = FastAPI(title="alstream trainer", version="0.1.0")
    install_error_handlers(app)
    install_offline_docs(app)
    app.include_router(router(trainer, store))

    async def ready() -> dict[str, bool]:
        return {"store": await store.ping()}

    app.include_router(ops_router(metrics, ready, protect_metrics=settings.metrics_auth))
    secure_app(app, settings, store, metrics)
    # The trainer reads no documents; its bodies are admin requests (key creation).
    app.add_middleware(BodyLimitMiddleware, max_bytes=65_536)

    def on_stop() -> None:
        for loop in loops:
            loop.stop()
        trainer.stop()

    publishing = trainer.publish_loop if settings.publish_interval_ms > 0 else trainer.timer
    return Service(name="trainer", app=app, jobs=[*(loop.run for loop in loops), publishing],
                   on_start=[on_start], on_stop=[on_stop],
                   state={"trainer": trainer, "labels": labels, "metrics": metrics})
