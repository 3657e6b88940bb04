"""faiss similarity index over every item queued for review or labeled.

Vectors are unit-norm, so inner product is cosine. The index is append-only (an item's text,
hence its vector, never changes); a label arriving later only updates the item's row in our
own id table. faiss-gpu is used when it is installed and sees a GPU, faiss-cpu otherwise.

On restart the index is rebuilt, not loaded from disk: ``IndexFeeder`` replays the
review-requests and labels topics from the beginning with consumer groups of its own, and then
keeps following them, so every scorer instance knows what every other one sent to humans.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from services.common.bus.runner import Item
from services.common.observability import Metrics
from services.common.schemas import LabelEvent, ReviewRequest

log = logging.getLogger(__name__)

Status = Literal["queued", "labeled"]
VectorLike = np.ndarray | Sequence[float]


@dataclass(frozen=True, slots=True)
class Neighbor:
    item_id: str
    score: float
    label: str | None
    status: Status
    text: str | None


class IndexMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.size = metrics.gauge(
            "scorer_index_items", "Items in the similarity index", ["status"]
        )
        self.search_seconds = metrics.histogram(
            "scorer_index_search_seconds", "faiss search time per call"
        )


def faiss_gpu_available() -> bool:
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class SimilarityIndex:
    """Thread-safe: searches run on worker threads while the feeder adds items."""

    def __init__(
        self,
        dim: int,
        device: Literal["auto", "cpu", "gpu"] = "auto",
        preview_chars: int = 300,
        metrics: IndexMetrics | None = None,
    ) -> None:
        import faiss

        self.dim = dim
        self.preview_chars = preview_chars
        self.metrics = metrics
        use_gpu = device == "gpu" or (device == "auto" and faiss_gpu_available())
        self._index: Any
        if use_gpu:
            self._gpu = faiss.StandardGpuResources()
            self._index = faiss.GpuIndexFlatIP(self._gpu, dim)
        else:
            self._index = faiss.IndexFlatIP(dim)
        self.device = "gpu" if use_gpu else "cpu"
        self._ids: list[str] = []  # faiss row -> item id
        self._rows: dict[str, int] = {}
        self._labels: dict[str, str] = {}
        self._texts: dict[str, str] = {}
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._rows

    @property
    def n_labeled(self) -> int:
        return len(self._labels)

    def add(
        self, item_id: str, vector: VectorLike, *, label: str | None = None,
        text: str | None = None,
    ) -> bool:
        """Insert or update one item; True when it was new. Labels are never removed."""
        return self.add_many([(item_id, vector, label, text)]) == 1

    def add_many(self, items: Sequence[tuple[str, VectorLike, str | None, str | None]]) -> int:
        """Upsert several items; returns how many were new."""
        with self._lock:
            fresh: list[np.ndarray] = []
            for item_id, vector, label, text in items:
                if label is not None:
                    self._labels[item_id] = label
                if text is not None and item_id not in self._texts:
                    self._texts[item_id] = text[: self.preview_chars]
                if item_id in self._rows:
                    continue
                v = np.asarray(vector, dtype=np.float32).reshape(-1)
                if v.shape[0] != self.dim:
                    raise ValueError(f"vector for {item_id!r} has {v.shape[0]} dims, not "
                                     f"{self.dim}")
                self._rows[item_id] = len(self._ids)
                self._ids.append(item_id)
                fresh.append(v)
            if fresh:
                self._index.add(np.ascontiguousarray(np.stack(fresh)))
            self._observe_size()
            return len(fresh)

    def vector(self, item_id: str) -> np.ndarray | None:
        with self._lock:
            row = self._rows.get(item_id)
            return None if row is None else np.asarray(self._index.reconstruct(row))

    def label_of(self, item_id: str) -> str | None:
        return self._labels.get(item_id)

    def search(
        self, vectors: np.ndarray, k: int, exclude: list[str | None] | None = None
    ) -> list[list[Neighbor]]:
        """The ``k`` most similar items for each row, best first; ``exclude[i]`` (an item id)
        is left out of row i's answer, so an item never finds itself."""
        queries = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        with self._lock:
            if not self._ids or len(queries) == 0:
                return [[] for _ in range(len(queries))]
            started = time.perf_counter()
            fetch = min(len(self._ids), k + (1 if exclude else 0))
            scores, rows = self._index.search(queries, fetch)
            if self.metrics:
                self.metrics.search_seconds.observe(time.perf_counter() - started)
            out: list[list[Neighbor]] = []
            for i in range(len(queries)):
                skip = exclude[i] if exclude else None
                found: list[Neighbor] = []
                for score, row in zip(scores[i], rows[i], strict=True):
                    if row < 0 or len(found) == k:
                        break
                    item_id = self._ids[row]
                    if item_id == skip:
                        continue
                    label = self._labels.get(item_id)
                    found.append(Neighbor(item_id, float(score), label,
                                          "labeled" if label is not None else "queued",
                                          self._texts.get(item_id)))
                out.append(found)
            return out

    def _observe_size(self) -> None:
        if self.metrics:
            self.metrics.size.labels("labeled").set(len(self._labels))
            self.metrics.size.labels("queued").set(len(self._ids) - len(self._labels))


class IndexFeeder:
    """Consumer-loop handlers that keep the index in step with the review and label topics."""

    def __init__(self, index: SimilarityIndex) -> None:
        self.index = index

    async def on_review_requests(self, items: list[Item[ReviewRequest]]) -> None:
        await self._add([(i.message.item_id, i.message.embedding, None, i.message.text)
                   for i in items])

    async def on_labels(self, items: list[Item[LabelEvent]]) -> None:
        await self._add([(i.message.item_id, i.message.embedding, i.message.label, None)
                   for i in items])

    async def _add(self, rows: list[tuple[str, list[float], str | None, str | None]]) -> None:
        good = [r for r in rows if len(r[1]) == self.index.dim]
        if len(good) < len(rows):
            # Another encoder's vectors (a different model) cannot be compared; skip, loudly.
            log.warning("index skipped %d items with embeddings of the wrong size",
                        len(rows) - len(good))
        # On a thread: the lock may be held by a search, which must not stall the loop.
        await asyncio.to_thread(self.index.add_many, [
            (i, np.asarray(v, dtype=np.float32), lab, t) for i, v, lab, t in good])
