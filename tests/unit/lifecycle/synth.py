"""Synthetic labelled embeddings for lifecycle tests: k Gaussian classes on the unit sphere."""

from __future__ import annotations

import numpy as np

from services.common.schemas import LabelAction, LabelEvent, LabelSetChange, Reason


class Stream:
    def __init__(self, k: int = 4, dim: int = 32, noise: float = 0.9, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.k, self.dim, self.noise = k, dim, noise
        self.centers = self.rng.normal(size=(k, dim))
        self.labels = [f"c{i}" for i in range(k)]

    def sample(self, n: int) -> tuple[np.ndarray, list[str]]:
        ys = self.rng.integers(0, self.k, size=n)
        X = self.centers[ys] + self.noise * self.rng.normal(size=(n, self.dim)) * np.sqrt(self.dim)
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        return X, [self.labels[y] for y in ys]

    def events(self, n: int, start: int = 0, reviewer: str = "r") -> list[LabelEvent]:
        X, ys = self.sample(n)
        return [label(f"i{start + i}", y, x, reviewer) for i, (x, y) in 
                enumerate(zip(X, ys, strict=True))]


def label(item: str, y: str, x: np.ndarray | list[float], reviewer: str = "r",
          retracts: str | None = None) -> LabelEvent:
    return LabelEvent(item_id=item, label=y, embedding=list(map(float, x)), reviewer=reviewer,
                      reason=Reason.UNCERTAINTY, retracts=retracts)


def retract(e: LabelEvent) -> LabelEvent:
    return LabelEvent(item_id=e.item_id, label=e.label, embedding=e.embedding, reviewer="r",
                      reason=e.reason, action=LabelAction.RETRACT, retracts=e.event_id)


def label_set(op: str, name: str, into: str | None = None) -> LabelEvent:
    return LabelEvent(item_id="label-set", label=name, embedding=[0.0], reviewer="admin",
                      reason=Reason.UNCERTAINTY, action=LabelAction.LABEL_SET,
                      change=LabelSetChange(op=op, label=name, into=into))  # type: ignore[arg-type]
