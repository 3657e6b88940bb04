"""Replay one labelled stream through a strategy and the service's online model, as the
running service would.

Per item, as the scorer does: predict with the *served* model, record the prequential hit (an
empty prediction is a miss), ask the strategy with the scorer's context
(``selection.base.scored_context``), and if it asks, hand the item to a simulated oracle whose
label comes back ``label_delay`` items later. Then, as the trainer does, the model learns it
and the strategy learns the outcome. The served model is what the trainer last *published*:
with ``publish_every`` > 0, a snapshot after every ``publish_every`` labels, or after
``publish_items`` items (the trainer's time cadence at the stream's rate) when at least one
new label came in; until the first publish the scorer has no model at all (cold start). With
``publish_every`` = 0 the served model is the trainer's, updated at once.

With ``refine``, as the trainer does with the observations topic: every scored item enters a
window of unlabeled items (services/common/unlabeled.py), leaves it when its label is learned,
and before each publish the model refines its means on the window (lda_semisup.py).

Holdout accuracy and expected calibration error (ECE, 15 bins) of the trainer's model are
measured at ``checkpoints`` evenly spaced points and at the end.
"""

from __future__ import annotations

import copy
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from services.common.lda_semisup import RefineConfig
from services.common.schemas import Reason
from services.common.selection.base import Outcome, Strategy, calibrates, scored_context
from services.common.unlabeled import UnlabeledWindow
from services.eval.calibration import holdout_scores


class Model(Protocol):
    @property
    def n_learned(self) -> int: ...

    @property
    def classes(self) -> list[str]: ...

    def learn_one(self, x: Any, y: str, *, calibrate: bool = True) -> Any: ...

    def predict_proba_one(self, x: Any) -> dict[str, float]: ...


@dataclass
class RunResult:
    labels_used: int
    n_items: int
    prequential_accuracy: float
    holdout_accuracy: float
    curve: list[dict[str, float]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    audit: dict[str, Any] | None = None
    drift_events: dict[str, int] | None = None
    window_accuracy: list[float] = field(default_factory=list)
    ece: float = 0.0
    reliability: list[dict[str, float]] = field(default_factory=list)
    asked_at: list[int] = field(default_factory=list)
    first_model_at: int | None = None
    worst_overspend: float = 0.0  # max over items of labels asked - budget x items seen
    refinements: dict[str, int] = field(default_factory=dict)  # applied / rejected / skipped


class _Served:
    """The scorer's view: the trainer's last published snapshot, or the trainer's model."""

    def __init__(self, model: Model, publish_every: int, publish_items: int,
                 refine: RefineConfig | None = None) -> None:
        self.trainer = model
        self.refine = refine
        self.window = UnlabeledWindow(refine.window) if refine is not None else None
        self.refinements: Counter[str] = Counter()
        self.publish_every = publish_every
        self.publish_items = publish_items
        self.model: Model | None = model if publish_every <= 0 else None
        self.first_at: int | None = 0 if publish_every <= 0 else None
        self._since_labels = 0
        self._last_publish = 0

    def learned(self) -> None:
        self._since_labels += 1

    def tick(self, t: int) -> bool:
        """Publish if the cadence says so (before item ``t`` is scored); True if it did."""
        if self.publish_every <= 0 or self._since_labels == 0:
            return False
        due = self._since_labels >= self.publish_every or (
            self.publish_items > 0 and t - self._last_publish >= self.publish_items)
        if not due:
            return False
        if self.window is not None and self.refine is not None:
            self._refine(self.window, self.refine)
        self.model = copy.deepcopy(self.trainer)
        self._since_labels = 0
        self._last_publish = t
        if self.first_at is None:
            self.first_at = t
        return True

    def _refine(self, window: UnlabeledWindow, config: RefineConfig) -> None:
        """What the trainer does before it publishes (services/trainer/trainer.py)."""
        refine = getattr(self.trainer, "refine", None)
        if refine is None or len(window) < config.min_items:
            self.refinements["skipped"] += 1
            return
        done = refine(window.matrix(), config)
        self.refinements["applied" if done.applied else "rejected"] += 1


def replay(
    X: np.ndarray,
    y: Sequence[str],
    X_holdout: np.ndarray,
    y_holdout: Sequence[str],
    strategy: Strategy,
    model: Model,
    label_delay: int = 0,
    checkpoints: int = 10,
    window: int = 500,
    on_item: Callable[[], None] | None = None,
    publish_every: int = 0,
    publish_items: int = 0,
    budget: float | None = None,
    refine: RefineConfig | None = None,
) -> RunResult:
    n = len(y)
    marks = {round(n * (i + 1) / checkpoints) - 1 for i in range(checkpoints)} if checkpoints \
        else set()
    pending: deque[tuple[int, int, str | None, Reason | None]] = deque()
    hits = 0
    labels = 0
    reasons: Counter[str] = Counter()
    curve: list[dict[str, float]] = []
    recent: deque[bool] = deque(maxlen=window)
    window_acc: list[float] = []
    asked_at: list[int] = []
    worst = 0.0
    served = _Served(model, publish_every, publish_items, refine)
    unlabeled = served.window

    # Between two model changes the served model is fixed, so the next items are predicted in
    # one matrix product (the model's own predict_proba_many, equal to predict_proba_one).
    block: list[dict[str, float]] = []
    block_start = 0

    def predict(t: int) -> dict[str, float]:
        nonlocal block, block_start
        current = served.model
        if current is None:
            return {}
        many = getattr(current, "predict_proba_many", None)
        if many is None:
            return current.predict_proba_one(X[t])
        if not block_start <= t < block_start + len(block):
            block_start = t
            block = many(X[t:t + 64])
        return block[t - block_start]

    def deliver(upto: int) -> None:
        nonlocal labels, block
        while pending and pending[0][0] <= upto:
            _, i, predicted, reason = pending.popleft()
            model.learn_one(X[i], y[i], calibrate=calibrates(reason))
            if unlabeled is not None:
                unlabeled.discard(str(i))
            served.learned()
            if served.model is model:
                block = []
            strategy.learn(Outcome(x=X[i], label=y[i], predicted=predicted, reason=reason))
            labels += 1

    def checkpoint(item: int) -> None:
        scores = holdout_scores(model, X_holdout, y_holdout)
        curve.append({"item": float(item), "labels_used": float(labels),
                      "holdout_accuracy": scores["accuracy"], "ece": scores["ece"]})

    for t in range(n):
        deliver(t)
        if served.tick(t):
            block = []
        probs = predict(t)
        predicted = max(probs, key=probs.__getitem__) if probs else None
        hit = predicted == y[t]
        hits += hit
        recent.append(hit)
        if (t + 1) % window == 0:
            window_acc.append(sum(recent) / len(recent))
        current = served.model
        asked, reason = strategy.ask(probs, scored_context(
            X[t], probs, current.n_learned if current is not None else 0))
        if asked:
            reasons[reason.value if reason is not None else "none"] += 1
            pending.append((t + label_delay, t, predicted, reason))
            asked_at.append(t)
        if unlabeled is not None:  # the scorer's observation of the item, labelled or not
            unlabeled.add(str(t), X[t])
        if budget is not None:
            worst = max(worst, len(asked_at) - budget * (t + 1))
        if t in marks:
            checkpoint(t + 1)
        if on_item is not None:
            on_item()
    deliver(n + label_delay)  # the oracle answers what was asked before the stream ended
    final = holdout_scores(model, X_holdout, y_holdout)
    curve.append({"item": float(n), "labels_used": float(labels),
                  "holdout_accuracy": final["accuracy"], "ece": final["ece"]})
    audit = getattr(strategy, "audit", None)
    drift = getattr(strategy, "drift", None)
    return RunResult(
        labels_used=labels,
        n_items=n,
        prequential_accuracy=hits / n if n else 0.0,
        holdout_accuracy=final["accuracy"],
        curve=curve,
        reasons=dict(reasons),
        audit=audit.report() if audit is not None else None,
        drift_events=drift.events if drift is not None else None,
        window_accuracy=window_acc,
        ece=final["ece"],
        reliability=final["bins"],
        asked_at=asked_at,
        first_model_at=served.first_at,
        worst_overspend=worst,
        refinements=dict(served.refinements),
    )
