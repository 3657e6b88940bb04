"""The model being served, swapped atomically to whatever version the trainer says to serve.

Readers take ``snapshot()`` once per request or batch, so a swap never mixes two models inside
one answer and never blocks a request: the artifact is fetched, verified and unpickled off the
event loop, then one reference is replaced. Announcements name the version every replica must
serve (``serving_version``: the last promoted, or a pinned one), so replicas converge on the
same signed artifact, a held candidate is never served, and a pin can go back in time
(docs/lifecycle.md). With zero-shot prototypes (configured label names or descriptions), the
snapshot blends them with the learned model, which takes over as its labels grow
(services/common/selection/zeroshot.py); before any model exists they alone predict.
"""

from __future__ import annotations

import asyncio
import logging
import time

from services.common.bus.runner import Item
from services.common.errors import NotFound, SignatureError
from services.common.model import OnlineClassifier, load_verified
from services.common.schemas import ModelAnnouncement
from services.common.selection.zeroshot import HandoverClassifier, PrototypeClassifier
from services.common.store import ModelRegistry
from services.scorer.metrics import ScorerMetrics

log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(self, registry: ModelRegistry, key: bytes, metrics: ScorerMetrics) -> None:
        self._registry = registry
        self._key = key
        self._metrics = metrics
        self._current: tuple[int, OnlineClassifier | None] = (0, None)
        self._prototypes: PrototypeClassifier | None = None
        self._served: tuple[int, OnlineClassifier | HandoverClassifier | None] = (0, None)
        self.pinned = False

    def snapshot(self) -> tuple[int, OnlineClassifier | HandoverClassifier | None]:
        return self._served

    def set_prototypes(self, prototypes: PrototypeClassifier | None) -> None:
        self._prototypes = prototypes
        self._serve()

    def _serve(self) -> None:
        version, model = self._current
        if self._prototypes is None:
            self._served = (version, model)
        else:
            self._served = (version, HandoverClassifier(model or OnlineClassifier(),
                                                        self._prototypes))

    @property
    def version(self) -> int:
        return self._current[0]

    async def load(self, version: int) -> bool:
        """Verify and swap to ``version``; False (and the old model kept) if it fails."""
        if version == self.version:
            return True
        try:
            record, artifact = await self._registry.get(version)
            model = await asyncio.to_thread(
                load_verified, artifact, sha256=record.sha256, signature=record.signature,
                key=self._key)
        except (SignatureError, TypeError, NotFound) as exc:
            self._metrics.model_rejected.inc()
            log.error("refusing model version %d: %s", version, exc)
            return False
        self._current = (version, model)
        self._serve()
        self._metrics.model_version.set(version)
        self._metrics.model_labels_offset.set(sum(record.labels_offsets.values()))
        self._metrics.model_swaps.inc()
        log.info("serving model version %d (%d labels, classes=%s)",
                 version, model.n_learned, model.classes)
        return True

    def _set_pinned(self, pinned: bool) -> None:
        self.pinned = pinned
        self._metrics.model_pinned.set(int(pinned))

    async def load_latest(self) -> None:
        """On start: the serving state the trainer recorded, else the newest version."""
        serving = await self._registry.serving()
        if serving is not None:
            self._set_pinned(serving.pinned)
            await self.load(serving.version)
            return
        latest = await self._registry.latest()
        if latest is not None:
            await self.load(latest.version)

    async def on_announcements(self, items: list[Item[ModelAnnouncement]]) -> None:
        # In log order the last announcement is the trainer's latest word (one partition).
        last = items[-1].message
        target = last.serving_version if last.serving_version is not None else last.version
        self._set_pinned(last.pinned)
        if target == self.version:
            return
        if await self.load(target) and last.decision == "promoted" and last.oldest_label_at:
            # Label accepted by the review API -> served here; the oldest label new in it.
            fresh = time.time() - last.oldest_label_at.timestamp()
            self._metrics.model_freshness.observe(max(0.0, fresh))
