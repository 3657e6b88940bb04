"""The audit sample and the only accuracy estimate we trust.

Labels chosen by uncertainty come from where the model is weakest, so accuracy measured on
them is biased low (and drifts with the threshold). A small share of the stream picked
uniformly at random, independent of the model, gives an unbiased estimate of the accuracy of
the predictions the scorer actually served. Only outcomes tagged ``audit`` feed the estimate.
"""

from __future__ import annotations

import math
from collections import deque
from statistics import NormalDist

from services.common.schemas import Reason
from services.common.selection.base import (
    Context,
    Decision,
    Outcome,
    Probabilities,
    Seeded,
    Strategy,
)


class AuditSampler(Seeded, Strategy):
    """Each item with probability ``share``, whatever the model says."""

    reason = Reason.AUDIT

    def __init__(self, share: float = 0.01, seed: int | None = None) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"audit share must be in [0, 1], got {share}")
        self.share = share
        self.seed = seed
        self._init_rng()
        self._asked = 0

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        # Always draw, so the audit stream does not depend on how many items came before.
        if self._rng.random() < self.share:
            self._asked += 1
            return True, Reason.AUDIT
        return False, None


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval: keeps its coverage for small n and accuracies near 0 or 1,
    where the normal approximation collapses."""
    if total <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = correct / total
    denom = 1.0 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


class AuditEstimator:
    """Accuracy of served predictions on audit labels, over the last ``window`` of them
    (recent, so it follows the model as it improves) with a Wilson ``confidence`` interval."""

    def __init__(self, window: int = 500, confidence: float = 0.95) -> None:
        self.window = window
        self.confidence = confidence
        self._hits: deque[bool] = deque(maxlen=window)
        self._total = 0

    def learn(self, outcome: Outcome) -> bool:
        """Count an outcome if (and only if) it is an audit label; returns whether it was."""
        if outcome.reason != Reason.AUDIT:
            return False
        self._hits.append(outcome.predicted is not None and outcome.predicted == outcome.label)
        self._total += 1
        return True

    @property
    def n(self) -> int:
        return len(self._hits)

    @property
    def n_total(self) -> int:
        return self._total

    @property
    def accuracy(self) -> float | None:
        return sum(self._hits) / len(self._hits) if self._hits else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(sum(self._hits), len(self._hits), self.confidence)

    def report(self) -> dict[str, float | int | None]:
        low, high = self.interval
        return {
            "accuracy": self.accuracy,
            "ci_low": low,
            "ci_high": high,
            "confidence": self.confidence,
            "n": self.n,
            "n_total": self.n_total,
        }

    def __repr__(self) -> str:
        return f"AuditEstimator(window={self.window}, confidence={self.confidence})"
