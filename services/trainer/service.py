"""Trainer: label events in; learned once each; signed versions out every N labels or T s."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import FastAPI
from pydantic import BaseModel

from services.common.bus import Bus
from services.common.bus.runner import ConsumerLoop, Item
from services.common.docs import install_offline_docs
from services.common.http import install_error_handlers
from services.common.model import OnlineClassifier
from services.common.observability import ops_router
from services.common.runtime import Service
from services.common.schemas import LabelEvent
from services.common.store import Store
from services.trainer.checkpoint import Checkpointer, TrainerState
from services.trainer.learner import Learner
from services.trainer.metrics import TrainerMetrics
from services.trainer.publisher import Publisher
from services.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)


class TrainerStatus(BaseModel):
    model_version: int
    labels_learned: int
    labels_since_publish: int
    prequential_accuracy: float
    prequential_accuracy_recent: float
    classes: list[str]
    model_updates: int  # learn_one calls; equals labels_learned unless a label was learned twice


class Trainer:
    def __init__(self, settings: TrainerSettings, learner: Learner, publisher: Publisher,
                 metrics: TrainerMetrics, checkpointer: Checkpointer | None = None) -> None:
        self.settings = settings
        self.learner = learner
        self.publisher = publisher
        self.metrics = metrics
        # With a checkpointer the learner survives restarts together with the label offsets
        # it reflects (services/trainer/checkpoint.py).
        self.checkpointer = checkpointer
        self.state = TrainerState(learner)
        self.version = 0
        self.since_publish = 0
        self._last_publish = time.monotonic()
        # learn and pickle must not interleave: one lock around the model.
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()

    async def handle(self, items: list[Item[LabelEvent]]) -> None:
        async with self._lock:
            # Records below the checkpointed offsets are already in the restored learner.
            events = [i.message for i in items if self.state.is_new(i.record)]
            results = await asyncio.to_thread(lambda: [self.learner.learn(e) for e in events])
            new = sum(results)
            self.metrics.learned.inc(new)
            self.metrics.duplicates.inc(len(items) - new)
            self.metrics.prequential.set(self.learner.accuracy)
            self.metrics.prequential_recent.set(self.learner.recent_accuracy)
            self.since_publish += new
            self.state.advance(i.record for i in items)
            if self.since_publish >= self.settings.publish_every_labels:
                await self._publish()
            # Before the consumer loop commits these offsets: checkpoint first, commit after.
            await self.save_checkpoint()

    async def save_checkpoint(self) -> None:
        if self.checkpointer is not None:
            self.state.learner, self.state.since_publish = self.learner, self.since_publish
            size = await self.checkpointer.save(self.state)
            self.metrics.checkpoint_bytes.set(size)

    async def restore(self) -> bool:
        """Load the last checkpoint, if any; True when one was restored."""
        state = await self.checkpointer.load() if self.checkpointer else None
        if state is None:
            return False
        self.state, self.learner, self.since_publish = state, state.learner, state.since_publish
        log.info("restored checkpoint: %d labels learned, offsets %s",
                 self.learner.n_learned, state.offsets)
        return True

    async def _publish(self) -> None:
        started = time.perf_counter()
        announcement = await self.publisher.publish(
            self.learner.model,
            {"prequential_accuracy": self.learner.accuracy,
             "prequential_accuracy_recent": self.learner.recent_accuracy},
        )
        self.version = announcement.version
        self.since_publish = 0
        self._last_publish = time.monotonic()
        self.metrics.model_version.set(self.version)
        self.metrics.published.inc()
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        log.info("published model version %d after %d labels (prequential acc %.3f)",
                 self.version, self.learner.n_learned, self.learner.accuracy)

    async def timer(self) -> None:
        """Publish pending labels every publish_every_s, so a trickle still reaches the scorer."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
            due = time.monotonic() - self._last_publish >= self.settings.publish_every_s
            if self.since_publish and (due or self._stop.is_set()):
                async with self._lock:
                    if self.since_publish:
                        await self._publish()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> TrainerStatus:
        return TrainerStatus(
            model_version=self.version, labels_learned=self.learner.n_learned,
            labels_since_publish=self.since_publish,
            prequential_accuracy=self.learner.accuracy,
            prequential_accuracy_recent=self.learner.recent_accuracy,
            classes=self.learner.model.classes,
            model_updates=self.learner.model.n_learned,
        )


def build_trainer(settings: TrainerSettings, bus: Bus, store: Store) -> Service:
    metrics = TrainerMetrics()
    topics = settings.topics
    key = settings.signing_key.get_secret_value().encode()
    trainer = Trainer(
        settings,
        Learner(OnlineClassifier(learning_rate=settings.learning_rate, kind=settings.model_kind)),
        Publisher(bus, store.models, topics.models, key),
        metrics,
        Checkpointer(store.kv, f"trainer:{settings.consumer_group}:checkpoint", key),
    )
    labels = ConsumerLoop(
        bus=bus, consumer=bus.consumer([topics.labels], settings.consumer_group),
        schema=LabelEvent, handler=trainer.handle, dead_letter_topic=topics.dead_letter,
        group=settings.consumer_group, metrics=metrics,
    )

    async def on_start() -> None:
        latest = await store.models.latest()
        trainer.version = latest.version if latest else 0
        await trainer.restore()

    app = FastAPI(title="alstream trainer", version="0.1.0")
    install_error_handlers(app)
    install_offline_docs(app)

    @app.get("/v1/status", response_model=TrainerStatus, tags=["trainer"])
    async def status() -> TrainerStatus:
        return trainer.status()

    async def ready() -> dict[str, bool]:
        return {"store": await store.ping()}

    app.include_router(ops_router(metrics, ready))

    def on_stop() -> None:
        labels.stop()
        trainer.stop()

    return Service(name="trainer", app=app, jobs=[labels.run, trainer.timer],
                   on_start=[on_start], on_stop=[on_stop],
                   state={"trainer": trainer, "labels": labels, "metrics": metrics})
