"""A synthetic scored stream for strategy tests: small embeddings, calibrated probabilities."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from services.common.selection import Context, Outcome, Strategy

CLASSES = ["a", "b", "c", "d"]


@dataclass
class Item:
    x: np.ndarray
    probabilities: dict[str, float]
    label: str


def stream(n: int, seed: int = 0, dim: int = 8, untrained: int = 0) -> Iterator[Item]:
    """Items whose labels are drawn from their own probabilities (no drift); the first
    ``untrained`` items come with an empty prediction, as from a model with no labels."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        x = rng.normal(size=dim)
        x /= np.linalg.norm(x)
        logits = rng.normal(scale=2.0, size=len(CLASSES))
        p = np.exp(logits - logits.max())
        p /= p.sum()
        label = CLASSES[int(rng.choice(len(CLASSES), p=p))]
        probs = {} if i < untrained else dict(zip(CLASSES, p.tolist(), strict=True))
        yield Item(x.astype(np.float32), probs, label)


def run(strategy: Strategy, items: list[Item], n_learned: int = 100) -> list[bool]:
    """Ask for every item; asked items' labels come straight back, as an instant oracle."""
    decisions = []
    for it in items:
        known = 0 if not it.probabilities else n_learned
        asked, reason = strategy.ask(
            it.probabilities, Context(x=it.x, n_learned=known, n_classes=len(it.probabilities))
        )
        assert (reason is not None) == asked
        decisions.append(asked)
        if asked:
            predicted = max(it.probabilities, key=it.probabilities.__getitem__) \
                if it.probabilities else None
            strategy.learn(Outcome(x=it.x, label=it.label, predicted=predicted, reason=reason))
    return decisions
