"""Re-prioritisation: when a new model version is served, re-score the waiting queue.

Each queued item's stored embedding goes through the new model (no re-embedding); its
priority becomes the new margin uncertainty, so items the model is now sure about sink below
uncertain ones. Items it is at least ``suggest_confidence`` sure about also carry its label as
a suggestion on the reviewer page; a suggestion is never published: only a human's label is.
Audit items keep their place (and get no suggestion), so the audit estimate stays unbiased.
The artifact is read from the store registry and verified (load_verified) before unpickling.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from services.common.bus.runner import Item
from services.common.errors import NotFound, SignatureError
from services.common.model import OnlineClassifier, load_verified
from services.common.schemas import ModelAnnouncement, Reason, ReviewRequest
from services.common.store import Rescore, Store
from services.review_api.metrics import ReviewMetrics
from services.review_api.settings import ReviewSettings

log = logging.getLogger(__name__)


def margin_uncertainty(p: dict[str, float]) -> float:
    """1 - (p1 - p2), the scorer's priority (services/common/selection/uncertainty.Margin);
    written out here so the review API does not import the selection package (and River)."""
    if len(p) < 2:
        return 1.0
    first, second = sorted(p.values(), reverse=True)[:2]
    return min(1.0, max(0.0, 1.0 - (first - second)))


def rescore_items(model: OnlineClassifier, version: int, items: list[ReviewRequest],
                  suggest_confidence: float) -> dict[str, Rescore]:
    todo = [i for i in items if i.reason is not Reason.AUDIT and i.embedding]
    if not todo:
        return {}
    dims = {len(i.embedding) for i in todo}
    out: dict[str, Rescore] = {}
    for dim in dims:  # one matrix product per embedding size (one in practice)
        rows = [i for i in todo if len(i.embedding) == dim]
        probs = model.predict_proba_many(np.asarray([i.embedding for i in rows]))
        for item, p in zip(rows, probs, strict=True):
            if not p:
                continue
            top = max(p, key=p.__getitem__)
            out[item.item_id] = Rescore(
                priority=margin_uncertainty(p), predicted_label=top, probabilities=p,
                model_version=version,
                suggestion=top if p[top] >= suggest_confidence else item.suggestion)
    return out


class Reprioritiser:
    def __init__(self, settings: ReviewSettings, store: Store, metrics: ReviewMetrics) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._key = settings.signing_key.get_secret_value().encode()
        self.version = 0

    async def on_announcements(self, items: list[Item[ModelAnnouncement]]) -> None:
        newest = max(i.message.version for i in items)
        if newest > self.version:
            await self.apply(newest)

    async def apply(self, version: int) -> int:
        try:
            record, artifact = await self._store.models.get(version)
            model = load_verified(artifact, sha256=record.sha256, signature=record.signature,
                                  key=self._key)
        except (SignatureError, TypeError, NotFound) as exc:
            log.error("not re-scoring the queue with model version %d: %s", version, exc)
            return 0
        queued = await self._store.queue.queued(self._settings.reprioritise_limit)
        updates = await asyncio.to_thread(rescore_items, model, version, queued,
                                          self._settings.suggest_confidence)
        n = await self._store.queue.rescore(updates)
        self.version = version
        self._metrics.rescored.inc(n)
        log.info("re-scored %d queued items with model version %d", n, version)
        return n
