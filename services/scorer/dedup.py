"""Near-duplicate suppression: a step between prediction and routing.

An item whose nearest neighbour among everything already queued for review or labeled is at
least ``threshold`` cosine-similar is not sent to humans again: the label (or the pending
label) of its twin answers it. When that twin is labeled, its label is reported as a
suggestion. Items routed earlier in the same batch count too, so a burst of copies yields one
review request, not many.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.common.observability import Metrics
from services.scorer.index import SimilarityIndex


@dataclass(frozen=True, slots=True)
class DupCheck:
    duplicate_of: str | None  # an indexed item this one nearly repeats
    similarity: float  # to the nearest indexed item (0 when the index is empty)
    suggestion: str | None  # label of the nearest labeled item above the threshold


NO_DUPLICATE = DupCheck(duplicate_of=None, similarity=0.0, suggestion=None)


class DedupMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.suppressed = metrics.counter(
            "scorer_near_duplicates_total",
            "Items kept from routing: a near-duplicate is already queued or labeled",
        )
        self.suggested = metrics.counter(
            "scorer_suggestions_total", "Predictions carrying a near-duplicate's human label"
        )


class NearDuplicates:
    def __init__(
        self,
        index: SimilarityIndex,
        threshold: float = 0.95,
        k: int = 5,
        metrics: DedupMetrics | None = None,
    ) -> None:
        self.index = index
        self.threshold = threshold
        self.k = k
        self.metrics = metrics

    def check(self, item_ids: list[str], vectors: np.ndarray) -> list[DupCheck]:
        """One faiss search for the whole batch (blocking; run it off the event loop).

        An item never matches itself: a redelivered document must not suppress its own
        review request.
        """
        neighbours = self.index.search(vectors, self.k, exclude=list(item_ids))
        out: list[DupCheck] = []
        for found in neighbours:
            near = [n for n in found if n.score >= self.threshold]
            labeled = next((n for n in near if n.label is not None), None)
            out.append(DupCheck(
                duplicate_of=near[0].item_id if near else None,
                similarity=found[0].score if found else 0.0,
                suggestion=labeled.label if labeled else None,
            ))
        if self.metrics:
            self.metrics.suggested.inc(sum(c.suggestion is not None for c in out))
        return out

    def within_batch(self, vector: np.ndarray, routed: list[np.ndarray]) -> bool:
        """Whether ``vector`` nearly repeats an item routed earlier in the same batch."""
        if not routed:
            return False
        return bool(np.max(np.stack(routed) @ vector) >= self.threshold)

    def suppressed(self) -> None:
        if self.metrics:
            self.metrics.suppressed.inc()
