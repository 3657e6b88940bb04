"""The trainer's learner: the label fold, prequential accuracy and the gate's evidence.

Prequential (predict, then learn) on every new ``label`` record: the live model's accuracy
overall and over the last ``recent_window`` labels, and the gate's paired comparison with the
serving model (services/trainer/gate.py). Replay can switch evaluation off for speed.
"""

from __future__ import annotations

from river import metrics, utils

from services.common.model import OnlineClassifier
from services.common.schemas import LabelAction, LabelEvent
from services.trainer.fold import LabelFold, Outcome
from services.trainer.gate import Gate


class Learner:
    def __init__(self, model: OnlineClassifier, recent_window: int = 200,
                 gate: Gate | None = None) -> None:
        self.fold = LabelFold(model)
        self.recent_window = recent_window
        self.gate = gate or Gate()
        self._accuracy = metrics.Accuracy()
        self._recent: metrics.base.Metric = utils.Rolling(  # type: ignore[assignment]
            metrics.Accuracy(), window_size=recent_window
        )

    @property
    def model(self) -> OnlineClassifier:
        return self.fold.model

    @model.setter
    def model(self, model: OnlineClassifier) -> None:
        self.fold.model = model

    @property
    def n_learned(self) -> int:
        """Items whose label is in the model now (retracted ones are not)."""
        return len(self.fold)

    @property
    def accuracy(self) -> float:
        return float(self._accuracy.get())

    @property
    def recent_accuracy(self) -> float:
        return float(self._recent.get())

    def apply(self, event: LabelEvent, evaluate: bool = True) -> Outcome:
        if evaluate and event.action == LabelAction.LABEL and not self.fold.redelivered(event):
            predicted = self.model.predict_one(event.embedding)
            if predicted is not None:
                self._accuracy.update(event.label, predicted)
                self._recent.update(event.label, predicted)
            self.gate.observe(self.fold.t, event.reviewer, event.embedding, event.label,
                              predicted)
        return self.fold.apply(event)
