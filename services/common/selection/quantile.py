"""Quantile-thresholded uncertainty: the selective part of the scorer's default strategy.

It asks for the items whose uncertainty is in the top share of the recent stream, the share
steered so that spending tracks the budget exactly (docs/evaluation.md, issue 13).
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from services.common.selection.base import Context, Probabilities
from services.common.selection.strategies import BudgetedStrategy
from services.common.selection.uncertainty import Measure


class SortedWindow:
    """The last ``size`` values, kept sorted too, so a quantile is one index (np.quantile
    costs milliseconds per call; this costs microseconds)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def append(self, value: float) -> None:
        if len(self._fifo) == self.size:
            old = self._fifo.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._fifo.append(value)
        bisect.insort(self._sorted, value)

    def quantile(self, q: float) -> float:
        """Linear interpolation between order statistics, as numpy's default."""
        if not self._sorted:
            return math.nan
        pos = q * (len(self._sorted) - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, len(self._sorted) - 1)
        return self._sorted[lo] + (self._sorted[hi] - self._sorted[lo]) * (pos - lo)

    def __len__(self) -> int:
        return len(self._fifo)


class QuantileUncertainty(BudgetedStrategy):
    """Ask when ``u`` is in the top ``b_eff`` share of the last ``history`` items' uncertainty.

    The threshold is the ``1 - b_eff`` quantile of recent uncertainties; ``b_eff`` is the
    target rate corrected by how far the spend is from the exact budget so far:
    ``b + deficit / horizon`` (labels behind, or ahead when negative, repaid over ``horizon``
    items), clipped. Uncertainty keeps falling as the model learns, so the recent quantile
    lags and needs that push; and labels spent early (cold start's warm-up allowance) are paid
    back at a reduced rate, not by stopping. Spending tracks the budget while the choice stays
    relative to what the stream looks like *now*. Scores that carry no information (no model
    yet: every item scores 1) are not ranked and stay out of the history, so the threshold
    does not start out at 1.0 once a model arrives. A hard ``labels/seen < B`` rule degrades
    into systematic sampling once thresholds are loose; this one keeps ranking.
    ``randomize`` > 0 multiplies the threshold by N(1, randomize) as in Žliobaitė's
    randomized VU.
    """

    def __init__(self, budget: float, measure: Measure | None = None, history: int = 300,
                 randomize: float = 0.0, horizon: int = 200, window: int = 1000,
                 seed: int | None = None) -> None:
        super().__init__(budget, measure, window, seed)
        self.history = history
        self.randomize = randomize
        self.horizon = horizon
        self._recent = SortedWindow(history)
        self._theta = 0.0

    def _remember(self, u: float) -> None:
        if self._informative:
            self._recent.append(u)

    def _wants(self, u: float) -> bool:
        self._remember(u)
        target = self.target_rate
        if target <= 0.0:
            return False
        if target >= 1.0 or not self._informative:  # everything, or nothing to rank by
            return True
        b_eff = min(1.0, max(0.0, target + self._ledger.deficit / self.horizon))
        if b_eff <= 0.0 or not len(self._recent):
            self._theta = math.inf
            return False
        self._theta = self._recent.quantile(1.0 - b_eff)
        limit = self._theta
        if self.randomize > 0:
            limit *= self._rng.gauss(1.0, self.randomize)
        return u >= limit

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        self._informative = self.measure.informative(probabilities)
        self._remember(self.measure.score(probabilities, context))
        self._record(asked)

    @property
    def threshold(self) -> float:
        return self._theta
