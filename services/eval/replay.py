"""Replay one labelled stream through a strategy and the service's online model.

Per item, as the scorer does: predict, record the prequential hit (an empty prediction is a
miss), ask the strategy, and if it asks, hand the item to a simulated oracle whose label comes
back ``label_delay`` items later, when the model learns it and the strategy learns the outcome
(as the trainer and the scorer's label listener do). Holdout accuracy is measured at
``checkpoints`` evenly spaced points and at the end.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from services.common.schemas import Reason
from services.common.selection.base import Context, Outcome, Strategy


class Model(Protocol):
    @property
    def n_learned(self) -> int: ...

    @property
    def classes(self) -> list[str]: ...

    def learn_one(self, x: Any, y: str) -> object: ...

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


def holdout_accuracy(model: Model, X: np.ndarray, y: Sequence[str]) -> float:
    predict_many = getattr(model, "predict_many", None)
    if predict_many is not None:
        preds = predict_many(X)
    else:
        preds = []
        for x in X:
            p = model.predict_proba_one(x)
            preds.append(max(p, key=p.__getitem__) if p else None)
    return float(np.mean([a == b for a, b in zip(preds, y, strict=True)])) if len(y) else 0.0


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

    # Between two labels the model does not change, so the next items are predicted in one
    # matrix product (the model's own predict_proba_many, equal to predict_proba_one).
    many = getattr(model, "predict_proba_many", None)
    block: list[dict[str, float]] = []
    block_start = 0

    def predict(t: int) -> dict[str, float]:
        nonlocal block, block_start
        if many is None:
            return model.predict_proba_one(X[t])
        if not block_start <= t < block_start + len(block):
            block_start = t
            block = many(X[t:t + 64])
        return block[t - block_start]

    def deliver(upto: int) -> None:
        nonlocal labels, block
        while pending and pending[0][0] <= upto:
            _, i, predicted, reason = pending.popleft()
            model.learn_one(X[i], y[i])
            block = []
            strategy.learn(Outcome(x=X[i], label=y[i], predicted=predicted, reason=reason))
            labels += 1

    for t in range(n):
        deliver(t)
        probs = predict(t)
        predicted = max(probs, key=probs.__getitem__) if probs else None
        hit = predicted == y[t]
        hits += hit
        recent.append(hit)
        if (t + 1) % window == 0:
            window_acc.append(sum(recent) / len(recent))
        asked, reason = strategy.ask(probs, Context(x=X[t], n_learned=model.n_learned,
                                                    n_classes=len(model.classes)))
        if asked:
            reasons[reason.value if reason is not None else "none"] += 1
            pending.append((t + label_delay, t, predicted, reason))
        if t in marks:
            curve.append({"item": t + 1, "labels_used": labels + 0.0,
                          "holdout_accuracy": holdout_accuracy(model, X_holdout, y_holdout)})
        if on_item is not None:
            on_item()
    deliver(n + label_delay)  # the oracle answers what was asked before the stream ended
    final = holdout_accuracy(model, X_holdout, y_holdout)
    curve.append({"item": float(n), "labels_used": float(labels), "holdout_accuracy": final})
    audit = getattr(strategy, "audit", None)
    drift = getattr(strategy, "drift", None)
    return RunResult(
        labels_used=labels,
        n_items=n,
        prequential_accuracy=hits / n if n else 0.0,
        holdout_accuracy=final,
        curve=curve,
        reasons=dict(reasons),
        audit=audit.report() if audit is not None else None,
        drift_events=drift.events if drift is not None else None,
        window_accuracy=window_acc,
    )
