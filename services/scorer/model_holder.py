"""The model being served, swapped atomically when a new signed version is announced.

Readers take ``snapshot()`` once per request or batch, so a swap never mixes two models inside
one answer and never blocks a request. With zero-shot prototypes (configured label names or
descriptions), the snapshot blends them with the learned model, which takes over as its labels
grow (services/common/selection/zeroshot.py); before any model exists they alone predict.
"""

from __future__ import annotations

import logging

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
        if version <= self.version:
            return False
        try:
            record, artifact = await self._registry.get(version)
            model = load_verified(
                artifact, sha256=record.sha256, signature=record.signature, key=self._key
            )
        except (SignatureError, TypeError, NotFound) as exc:
            self._metrics.model_rejected.inc()
            log.error("refusing model version %d: %s", version, exc)
            return False
        self._current = (version, model)
        self._serve()
        self._metrics.model_version.set(version)
        self._metrics.model_swaps.inc()
        log.info("serving model version %d (%d labels, classes=%s)",
                 version, model.n_learned, model.classes)
        return True

    async def load_latest(self) -> None:
        latest = await self._registry.latest()
        if latest is not None:
            await self.load(latest.version)

    async def on_announcements(self, items: list[Item[ModelAnnouncement]]) -> None:
        newest = max(i.message.version for i in items)
        await self.load(newest)
