"""Publishes signed model versions: registry first, then the announcement."""

from __future__ import annotations

import time

from services.common.bus import Bus
from services.common.model import OnlineClassifier, dump_artifact
from services.common.schemas import ModelAnnouncement
from services.common.store import ModelRecord, ModelRegistry


class Publisher:
    def __init__(self, bus: Bus, registry: ModelRegistry, topic: str, key: bytes) -> None:
        self.bus = bus
        self.registry = registry
        self.topic = topic
        self._key = key

    async def publish(
        self, model: OnlineClassifier, metrics: dict[str, float]
    ) -> ModelAnnouncement:
        artifact, sha256, signature = dump_artifact(model, self._key)
        version = await self.registry.next_version()
        record = ModelRecord(
            version=version, sha256=sha256, signature=signature, classes=model.classes,
            n_labels=model.n_learned, metrics=metrics, created_at=time.time(),
        )
        # Stored before announced, so whoever hears the announcement can always fetch it.
        await self.registry.put(record, artifact)
        announcement = ModelAnnouncement(
            version=version, sha256=sha256, signature=signature, classes=record.classes,
            n_labels=record.n_labels, metrics=metrics,
        )
        await self.bus.publish(self.topic, announcement, key="model")
        return announcement
