"""Zero-shot first predictions from label names or descriptions, handed over to the learned
model as labels arrive.

Configured labels are embedded with the same encoder as the documents; an item's similarity
to each prototype, through a softmax at ``temperature``, is a usable first prediction (and a
usable uncertainty) before any label exists. The learned model's weight grows as
``n / (n + handover)`` with ``n`` its labels, so by a few dozen labels it dominates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from services.common.model import OnlineClassifier, Vector


class PrototypeClassifier:
    def __init__(self, prototypes: Mapping[str, Sequence[float] | np.ndarray],
                 temperature: float = 0.05) -> None:
        if len(prototypes) < 2:
            raise ValueError("zero-shot prototypes need at least two labels")
        self.temperature = temperature
        self._labels = list(prototypes)
        m = np.stack([np.asarray(v, dtype=np.float32) for v in prototypes.values()])
        self._matrix = m / np.clip(np.linalg.norm(m, axis=1, keepdims=True), 1e-9, None)

    @property
    def classes(self) -> list[str]:
        return sorted(self._labels)

    def predict_proba_one(self, x: Vector) -> dict[str, float]:
        v = np.asarray(x, dtype=np.float32)
        logits = (self._matrix @ v) / (float(np.linalg.norm(v)) or 1.0) / self.temperature
        e = np.exp(logits - logits.max())
        p = e / e.sum()
        return {c: float(pi) for c, pi in zip(self._labels, p, strict=True)}


class HandoverClassifier:
    """Same interface as ``OnlineClassifier``; learning goes to the wrapped model."""

    def __init__(self, model: OnlineClassifier, prototypes: PrototypeClassifier,
                 handover: int = 30) -> None:
        self.model = model
        self.prototypes = prototypes
        self.handover = handover

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.model.classes) | set(self.prototypes.classes))

    @property
    def n_learned(self) -> int:
        return self.model.n_learned

    def learn_one(self, x: Vector, y: str) -> None:
        self.model.learn_one(x, y)

    def predict_proba_one(self, x: Vector) -> dict[str, float]:
        zero = self.prototypes.predict_proba_one(x)
        n = self.model.n_learned
        if n == 0:
            return zero
        learned = self.model.predict_proba_one(x)
        w = n / (n + self.handover)
        classes = set(zero) | set(learned)
        out = {c: w * learned.get(c, 0.0) + (1.0 - w) * zero.get(c, 0.0) for c in classes}
        total = sum(out.values()) or 1.0
        return {c: p / total for c, p in out.items()}

    def predict_one(self, x: Vector) -> str | None:
        probs = self.predict_proba_one(x)
        return max(probs, key=probs.__getitem__) if probs else None
