"""Stream path of the scorer: documents in; a prediction for each, review requests for some."""

from __future__ import annotations

import asyncio
import hashlib
import time

import numpy as np

from services.common.bus import Bus
from services.common.bus.runner import Item
from services.common.model import OnlineClassifier
from services.common.schemas import Document, Observation, Prediction, ReviewRequest
from services.common.selection.zeroshot import HandoverClassifier
from services.common.topics import Topics
from services.scorer.dedup import NO_DUPLICATE, DupCheck, NearDuplicates
from services.scorer.embedder import Embedder
from services.scorer.metrics import ScorerMetrics
from services.scorer.model_holder import ModelHolder
from services.scorer.routing import Decision, Router, margin_uncertainty


def predict_batch(
    model: OnlineClassifier | HandoverClassifier | None, vectors: np.ndarray
) -> list[dict[str, float]]:
    if model is None:
        return [{} for _ in range(len(vectors))]
    return [model.predict_proba_one(v) for v in vectors]


def observed(doc_id: str, fraction: float) -> bool:
    """Whether a document's embedding goes on the observations topic. Decided by its id, not
    at random: a redelivered batch and every replica make the same choice."""
    if fraction >= 1.0:
        return True
    digest = hashlib.blake2b(doc_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


def top_label(probabilities: dict[str, float]) -> tuple[str | None, float]:
    if not probabilities:
        return None, 0.0
    label = max(probabilities, key=probabilities.__getitem__)
    return label, probabilities[label]


class StreamScorer:
    def __init__(
        self,
        bus: Bus,
        topics: Topics,
        embedder: Embedder,
        holder: ModelHolder,
        router: Router,
        metrics: ScorerMetrics,
        dedup: NearDuplicates | None = None,
        observe_fraction: float = 1.0,
    ) -> None:
        self.bus = bus
        self.topics = topics
        self.embedder = embedder
        self.holder = holder
        self.router = router
        self.metrics = metrics
        self.dedup = dedup
        self.observe_fraction = observe_fraction

    async def handle(self, items: list[Item[Document]]) -> None:
        started = time.perf_counter()
        docs = [item.message for item in items]
        vectors = await self.embedder.embed([d.text for d in docs])
        version, model = self.holder.snapshot()
        # ~250 us per item: off the loop so /classify stays responsive during a batch.
        all_probs = await asyncio.to_thread(predict_batch, model, vectors)
        checks = await self._near_duplicates(docs, vectors)
        routed_now: list[np.ndarray] = []
        predictions: list[tuple[str | None, Prediction]] = []
        reviews: list[tuple[str | None, ReviewRequest]] = []
        for doc, vector, probs, dup in zip(docs, vectors, all_probs, checks, strict=True):
            if self._repeats(dup, vector, routed_now):
                # Near-duplicate step, before routing: a twin is already with the humans.
                decision = Decision(route=False, reason=None, priority=0.0,
                                    uncertainty=margin_uncertainty(probs))
            else:
                decision = await self.router.decide(doc, vector, probs, version)
            label, confidence = top_label(probs)
            predictions.append((doc.id, Prediction(
                doc_id=doc.id, label=label, probabilities=probs, confidence=confidence,
                uncertainty=decision.uncertainty, model_version=version,
                routed=decision.route, reason=decision.reason, suggestion=dup.suggestion,
            )))
            self.metrics.uncertainty.observe(decision.uncertainty)
            if decision.route and decision.reason is not None:
                self.metrics.routed.labels(decision.reason.value).inc()
                routed_now.append(vector)
                reviews.append((doc.id, ReviewRequest(
                    item_id=doc.id, text=doc.text, embedding=vector.tolist(),
                    priority=decision.priority, reason=decision.reason,
                    predicted_label=label, probabilities=probs, model_version=version,
                    metadata=doc.metadata,
                )))
        # Review requests first: if we crash in between, the redelivered batch re-publishes
        # both, and the queue ignores the duplicate request.
        if reviews:
            await self.bus.publish_many(self.topics.review_requests, reviews)
            await self._remember(reviews)
        await self.bus.publish_many(self.topics.predictions, predictions)
        # Five decimals (unit-norm vectors, entries ~0.05): a third of the bytes of full
        # floats in JSON, and far below what moves a class mean.
        observations = [(d.id, Observation(item_id=d.id, model_version=version,
                                           embedding=np.round(v.astype(float), 5).tolist()))
                        for d, v in zip(docs, vectors, strict=True)
                        if self.observe_fraction > 0 and observed(d.id, self.observe_fraction)]
        if observations:
            await self.bus.publish_many(self.topics.observations, observations)
        self.metrics.scored.inc(len(docs))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    async def _near_duplicates(self, docs: list[Document], vectors: np.ndarray) -> list[DupCheck]:
        if self.dedup is None:
            return [NO_DUPLICATE] * len(docs)
        return await asyncio.to_thread(self.dedup.check, [d.id for d in docs], vectors)

    def _repeats(self, dup: DupCheck, vector: np.ndarray, routed_now: list[np.ndarray]) -> bool:
        if self.dedup is None:
            return False
        if dup.duplicate_of is None and not self.dedup.within_batch(vector, routed_now):
            return False
        self.dedup.suppressed()
        return True

    async def _remember(self, reviews: list[tuple[str | None, ReviewRequest]]) -> None:
        """Index what was just routed, so the next batch sees it before the feeder does."""
        if self.dedup is not None:
            rows = [(r.item_id, np.asarray(r.embedding, dtype=np.float32), None, r.text)
                    for _, r in reviews]
            await asyncio.to_thread(self.dedup.index.add_many, rows)
