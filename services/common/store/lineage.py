"""Lineage: what happened to each document, kept in the store with a retention.

Kafka topics are not an index, so the predictions (written by the trainer from the predictions
topic) and each item's current label fact (written by the trainer when it publishes the version
that first learned it) are kept by id, bounded by count and by age: the oldest entries go first
once ``max_items`` is exceeded, and every entry expires after ``max_age_s``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from datetime import datetime

from pydantic import BaseModel, Field

from services.common.schemas import Prediction


class LabelFact(BaseModel):
    """An item's label as the model sees it: who, when, and the version that first learned it."""

    item_id: str = Field(description="The labelled item's (document's) id")
    event_id: str = Field(description="The label event on the labels topic")
    label: str = Field(description="The label")
    reviewer: str = Field(description="Who gave it (a reviewer, an app or 'consensus')")
    source: str = Field(description="reviewer, admin, app or consensus (see LabelSource)")
    labeled_at: datetime = Field(description="When the label was accepted (UTC)")
    status: str = Field(description="learned, replaced (by a later label) or retracted")
    learned_in_version: int | None = Field(
        default=None, description="The first published version that learned it; null until then")
    weight: float = Field(default=1.0, description="How much the model learns from it, (0, 1]")


class Lineage(ABC):
    def __init__(self, max_items: int, max_age_s: float) -> None:
        self.max_items = max_items
        self.max_age_s = max_age_s

    @abstractmethod
    async def put_predictions(self, predictions: list[Prediction]) -> None: ...

    @abstractmethod
    async def prediction(self, doc_id: str) -> Prediction | None: ...

    @abstractmethod
    async def put_labels(self, facts: list[LabelFact]) -> None: ...

    @abstractmethod
    async def label(self, item_id: str) -> LabelFact | None: ...


class _Bounded:
    """Insertion-ordered map bounded by count and age (the memory store's retention)."""

    def __init__(self, max_items: int, max_age_s: float) -> None:
        self.max_items, self.max_age_s = max_items, max_age_s
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def put(self, key: str, value: str, now: float) -> None:
        self._data.pop(key, None)
        self._data[key] = (now, value)
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)
        while self._data:
            first = next(iter(self._data.values()))
            if first[0] > now - self.max_age_s:
                break
            self._data.popitem(last=False)

    def get(self, key: str, now: float) -> str | None:
        entry = self._data.get(key)
        if entry is None or entry[0] <= now - self.max_age_s:
            return None
        return entry[1]


class MemoryLineage(Lineage):
    def __init__(self, max_items: int = 100_000, max_age_s: float = 7 * 86400.0) -> None:
        super().__init__(max_items, max_age_s)
        self._predictions = _Bounded(max_items, max_age_s)
        self._labels = _Bounded(max_items, max_age_s)

    async def put_predictions(self, predictions: list[Prediction]) -> None:
        now = time.time()
        for p in predictions:
            self._predictions.put(p.doc_id, p.model_dump_json(), now)

    async def prediction(self, doc_id: str) -> Prediction | None:
        raw = self._predictions.get(doc_id, time.time())
        return None if raw is None else Prediction.model_validate_json(raw)

    async def put_labels(self, facts: list[LabelFact]) -> None:
        now = time.time()
        for f in facts:
            self._labels.put(f.item_id, f.model_dump_json(), now)

    async def label(self, item_id: str) -> LabelFact | None:
        raw = self._labels.get(item_id, time.time())
        return None if raw is None else LabelFact.model_validate_json(raw)
