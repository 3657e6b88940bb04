"""Learns label events once each and scores itself prequentially (predict, then learn)."""

from __future__ import annotations

from river import metrics, utils

from services.common.model import OnlineClassifier
from services.common.schemas import LabelEvent
from services.common.selection.base import calibrates


class Learner:
    def __init__(self, model: OnlineClassifier, recent_window: int = 200) -> None:
        self.model = model
        self.recent_window = recent_window
        self._learned: set[str] = set()
        self._accuracy = metrics.Accuracy()
        self._recent: metrics.base.Metric = utils.Rolling(  # type: ignore[assignment]
            metrics.Accuracy(), window_size=recent_window
        )

    @property
    def n_learned(self) -> int:
        return len(self._learned)

    @property
    def accuracy(self) -> float:
        return float(self._accuracy.get())

    @property
    def recent_accuracy(self) -> float:
        return float(self._recent.get())

    def learn(self, event: LabelEvent) -> bool:
        """False when this item was already learned: redelivery must not count twice."""
        if event.item_id in self._learned:
            return False
        predicted = self.model.predict_one(event.embedding)
        if predicted is not None:
            self._accuracy.update(event.label, predicted)
            self._recent.update(event.label, predicted)
        self.model.learn_one(event.embedding, event.label, calibrate=calibrates(event.reason))
        self._learned.add(event.item_id)
        return True
