"""Publishes signed model versions: registry first, then the serving state, then the announcement.

Every version is a full signed artifact (docs/lifecycle.md): a replica that missed any number of
announcements loads the one it is told to serve and is identical to every other replica. With
sub-second publishing the registry keeps only the newest ``keep_last`` versions plus the one
being served (promoted or pinned); older ones are dropped after each publish.
"""

from __future__ import annotations

import time
from datetime import datetime

from services.common.bus import Bus
from services.common.schemas import ModelAnnouncement
from services.common.store import ModelRecord, ModelRegistry, ServingState


class Publisher:
    def __init__(self, bus: Bus, registry: ModelRegistry, topic: str, key: bytes,
                 keep_last: int = 50) -> None:
        self.bus = bus
        self.registry = registry
        self.topic = topic
        self.key = key
        self.keep_last = keep_last

    async def store(self, artifact: bytes, sha256: str, signature: str, classes: list[str],
                    n_labels: int, metrics: dict[str, float], offsets: dict[int, int],
                    decision: str, reason: str) -> ModelRecord:
        version = await self.registry.next_version()
        record = ModelRecord(
            version=version, sha256=sha256, signature=signature, classes=classes,
            n_labels=n_labels, metrics=metrics, created_at=time.time(),
            labels_offsets={str(p): o for p, o in offsets.items()},
            decision=decision, reason=reason,
        )
        # Stored before announced, so whoever hears the announcement can always fetch it.
        await self.registry.put(record, artifact)
        return record

    async def announce(self, record: ModelRecord, serving: ServingState, decision: str,
                       reason: str, label_times: tuple[datetime, datetime] | None = None,
                       ) -> ModelAnnouncement:
        # The serving state first: a replica starting now reads it, one running hears this.
        await self.registry.set_serving(serving)
        announcement = ModelAnnouncement(
            version=record.version, sha256=record.sha256, signature=record.signature,
            classes=record.classes, n_labels=record.n_labels, metrics=record.metrics,
            decision=decision,  # type: ignore[arg-type]
            reason=reason, serving_version=serving.version, pinned=serving.pinned,
            labels_offsets=record.labels_offsets,
            oldest_label_at=label_times[0] if label_times else None,
            newest_label_at=label_times[1] if label_times else None,
        )
        await self.bus.publish(self.topic, announcement, key="model")
        return announcement

    async def prune(self, serving: ServingState | None) -> list[int]:
        keep = {serving.version} if serving else set()
        return await self.registry.prune(self.keep_last, keep)
