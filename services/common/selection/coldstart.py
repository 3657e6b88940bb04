"""Cold start: while the model knows too little, ask for items unlike those already asked.

An untrained model's uncertainty is flat, so ranking by it is ranking by noise; and River's
samplers ask for nothing at all then. Novelty (one minus the highest cosine similarity to the
items already sent to review) spreads the first labels over the embedding space, so early
labels cover many classes instead of the most frequent one.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from services.common.schemas import Reason
from services.common.selection.base import Context, Decision, Probabilities
from services.common.selection.quantile import QuantileUncertainty
from services.common.selection.uncertainty import Measure


class Novelty(Measure):
    """``1 - max cos(x, m)`` over the last ``memory`` asked items; 1 when nothing was asked."""

    name = "novelty"
    reason = Reason.COLD_START

    def __init__(self, memory: int = 256) -> None:
        self.memory = memory
        self._asked: deque[np.ndarray] = deque(maxlen=memory)

    def __call__(self, probabilities: Probabilities) -> float:
        raise TypeError("novelty needs the item's embedding: call score(probs, context)")

    def informative(self, probabilities: Probabilities) -> bool:
        return True  # novelty needs no model

    def score(self, probabilities: Probabilities, context: Context | None) -> float:
        if context is None or context.x is None:
            return 1.0  # no embedding: every item is as novel as any other
        if not self._asked:
            return 1.0
        x = np.asarray(context.x, dtype=np.float32)
        sims = np.stack(self._asked) @ x
        norm = float(np.linalg.norm(x)) or 1.0
        return float(np.clip(1.0 - sims.max() / norm, 0.0, 1.0))

    def remember(self, context: Context | None) -> None:
        if context is not None and context.x is not None:
            x = np.asarray(context.x, dtype=np.float32)
            self._asked.append(x / (float(np.linalg.norm(x)) or 1.0))


class DiversityColdStart(QuantileUncertainty):
    """Active while the model has learned fewer than ``max(min_labels, per_class * known
    classes)`` labels or knows fewer than two classes. Asks (within budget) for an item whose
    novelty is in the top of recent items' (the quantile rule), or that is at least
    ``novel_enough`` on its own: nothing asked so far resembles it (cosine below 0.2 at the
    default), so it is worth a label however the recent items look."""

    def __init__(self, budget: float, min_labels: int = 20, per_class: int = 2,
                 novel_enough: float = 0.8, memory: int = 256, history: int = 300,
                 window: int = 1000, seed: int | None = None) -> None:
        super().__init__(budget, Novelty(memory), history=history, window=window, seed=seed)
        self.min_labels = min_labels
        self.per_class = per_class
        self.novel_enough = novel_enough
        self.memory = memory
        self.reason = Reason.COLD_START

    def _wants(self, u: float) -> bool:
        quantile_says = super()._wants(u)  # also records u in the history
        return quantile_says or u >= self.novel_enough

    def active(self, probabilities: Probabilities, context: Context | None) -> bool:
        n_learned = context.n_learned if context is not None else 0
        n_classes = max(len(probabilities), context.n_classes if context is not None else 0)
        return n_classes < 2 or n_learned < max(self.min_labels, self.per_class * n_classes)

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        asked, reason = super().ask(probabilities, context)
        if asked:
            assert isinstance(self.measure, Novelty)
            self.measure.remember(context)
        return asked, reason
