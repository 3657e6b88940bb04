"""Stream strategies after Žliobaitė et al. (2014), "Active learning with drifting streaming
data", plus a quantile variant and random sampling.

Every strategy here shares one skeleton (``BudgetedStrategy``): score the item with an
uncertainty measure, ``_wants`` it or not, pass the sliding-window budget, then adapt. The
budget can be scaled at run time (queue pressure, drift boost) through ``set_scale``.
"""

from __future__ import annotations

import bisect
import math
from abc import abstractmethod
from collections import deque

from services.common.selection.base import (
    Context,
    Decision,
    Outcome,
    Probabilities,
    Seeded,
    Strategy,
)
from services.common.selection.budget import SlidingBudget
from services.common.selection.uncertainty import Margin, Measure


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


class BudgetedStrategy(Seeded, Strategy):
    def __init__(
        self,
        budget: float,
        measure: Measure | None = None,
        window: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.budget = budget
        self.measure = measure if measure is not None else Margin()
        self.window = window
        self.seed = seed
        self.reason = self.measure.reason
        self._meter = SlidingBudget(budget, window)
        self._scale = 1.0
        self._last_u = math.nan
        self._init_rng()

    @abstractmethod
    def _wants(self, u: float) -> bool:
        """Whether the strategy would like a label for an item of uncertainty ``u``."""

    def _adapt(self, u: float, asked: bool, allowed: bool) -> None:
        """Update thresholds after a decision (``allowed``: the budget had room)."""

    def set_scale(self, scale: float) -> None:
        """Multiply the budget (drift boost > 1, queue pressure < 1) until changed again."""
        self._scale = max(0.0, float(scale))

    @property
    def target_rate(self) -> float:
        return min(1.0, self.budget * self._scale)

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        u = self.measure.score(probabilities, context)
        self._last_u = u
        allowed = self._meter.allows(self._scale)
        asked = allowed and self._wants(u)
        self._adapt(u, asked, allowed)
        self._meter.record(asked)
        return (True, self.reason) if asked else (False, None)

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        """Account for an item another rule decided on (cold start), sharing this budget."""
        u = self.measure.score(probabilities, context)
        self._adapt(u, asked, True)
        self._meter.record(asked)

    def learn(self, outcome: Outcome) -> None:
        self.measure.learn(outcome)

    @property
    def stats(self) -> dict[str, float]:
        return {
            "budget": self.target_rate,
            "query_rate": self._meter.rate,
            "threshold": self.threshold,
            "uncertainty": self._last_u,
        }

    @property
    def threshold(self) -> float:
        """The uncertainty an item currently needs to be asked for (NaN if not threshold-based)."""
        return math.nan

    @property
    def meter(self) -> SlidingBudget:
        return self._meter


class RandomSampling(BudgetedStrategy):
    """Each item with probability ``budget``: the baseline every strategy must beat."""

    def _wants(self, u: float) -> bool:
        return self._rng.random() < self.target_rate


class FullSupervision(BudgetedStrategy):
    """Every item (budget 1): the upper reference."""

    def __init__(self, budget: float = 1.0, measure: Measure | None = None, window: int = 1000,
                 seed: int | None = None) -> None:
        super().__init__(1.0, measure, window, seed)

    def _wants(self, u: float) -> bool:
        return True


class FixedThreshold(BudgetedStrategy):
    """Ask when uncertainty is at least ``threshold`` (while the budget has room)."""

    def __init__(self, budget: float, measure: Measure | None = None, threshold: float = 0.5,
                 window: int = 1000, seed: int | None = None) -> None:
        super().__init__(budget, measure, window, seed)
        self.threshold_ = threshold

    def _wants(self, u: float) -> bool:
        return u >= self.threshold_

    @property
    def threshold(self) -> float:
        return self.threshold_


class VariableUncertainty(BudgetedStrategy):
    """Žliobaitė's VU, in its confidence form: ask when ``1 - u < theta``; theta shrinks by
    ``step`` after a label and grows when an item is let through, so the rule labels the
    least certain items *relative to recent ones*. Only adapts while the budget has room."""

    def __init__(self, budget: float, measure: Measure | None = None, step: float = 0.01,
                 window: int = 1000, seed: int | None = None) -> None:
        super().__init__(budget, measure, window, seed)
        self.step = step
        self._theta = 1.0

    def _limit(self) -> float:
        return self._theta

    def _wants(self, u: float) -> bool:
        return (1.0 - u) < self._limit()

    def _adapt(self, u: float, asked: bool, allowed: bool) -> None:
        if not allowed:
            return
        self._theta *= (1.0 - self.step) if asked else (1.0 + self.step)
        self._theta = min(self._theta, 1.0 + self.step)  # never unbounded above "ask all"

    @property
    def threshold(self) -> float:
        return 1.0 - self._theta


class RandomizedVariableUncertainty(VariableUncertainty):
    """VU with the threshold multiplied by ``eta ~ N(1, delta)`` per item, so confident
    items are sometimes labelled too (the paper's remedy for drift far from the boundary)."""

    def __init__(self, budget: float, measure: Measure | None = None, step: float = 0.01,
                 delta: float = 1.0, window: int = 1000, seed: int | None = None) -> None:
        super().__init__(budget, measure, step, window, seed)
        self.delta = delta

    def _limit(self) -> float:
        return self._theta * self._rng.gauss(1.0, self.delta)


class QuantileUncertainty(BudgetedStrategy):
    """Ask when ``u`` is in the top ``b_eff`` share of the last ``history`` items' uncertainty.

    The threshold is the ``1 - b_eff`` quantile of recent uncertainties; ``b_eff`` is the
    target rate corrected by what the budget window actually spent: ``b + gain * (b - rate)``,
    clipped (uncertainty keeps falling as the model learns, so the recent quantile lags and
    needs that push). Spending tracks the budget while the choice stays relative to what the
    stream looks like *now*. A hard ``labels/seen < B`` rule degrades into systematic sampling
    once thresholds are loose; this one keeps ranking. ``randomize`` > 0 multiplies the
    threshold by N(1, randomize)
    as in Žliobaitė's randomized VU.
    """

    def __init__(self, budget: float, measure: Measure | None = None, history: int = 300,
                 randomize: float = 0.0, gain: float = 3.0, window: int = 1000,
                 seed: int | None = None) -> None:
        super().__init__(budget, measure, window, seed)
        self.history = history
        self.randomize = randomize
        self.gain = gain
        self._recent = SortedWindow(history)
        self._theta = 0.0

    def _wants(self, u: float) -> bool:
        self._recent.append(u)
        target = self.target_rate
        if target <= 0.0:
            return False
        if target >= 1.0:  # a budget of everything: no ranking needed
            self._theta = 0.0
            return True
        rate = self._meter.rate if self._meter.seen >= 1 else 0.0
        b_eff = min(1.0, max(0.0, target + self.gain * (target - rate)))
        if b_eff <= 0.0:
            self._theta = math.inf
            return False
        self._theta = self._recent.quantile(1.0 - b_eff)
        limit = self._theta
        if self.randomize > 0:
            limit *= self._rng.gauss(1.0, self.randomize)
        return u >= limit

    def _adapt(self, u: float, asked: bool, allowed: bool) -> None:
        if not allowed:  # _wants was skipped; keep the history complete anyway
            self._recent.append(u)

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        self._recent.append(self.measure.score(probabilities, context))
        self._meter.record(asked)

    @property
    def threshold(self) -> float:
        return self._theta


class Split(Strategy):
    """Spend ``random_share`` of the budget on uniformly random items (exploration that sees
    changes anywhere in the space) and the rest through ``base``."""

    def __init__(self, base: BudgetedStrategy, random_share: float = 0.2,
                 seed: int | None = None) -> None:
        self.base = base
        self.random_share = random_share
        self.seed = seed
        self.reason = base.reason
        self._random = RandomSampling(base.budget * random_share, window=base.window, seed=seed)
        self._scale = 1.0

    def set_scale(self, scale: float) -> None:
        # The base's meter sees the random picks too, so it keeps the whole budget's cap and
        # its threshold adapts to spend what the random share left.
        self._scale = scale
        self.base.set_scale(scale)
        self._random.set_scale(scale)

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        if self.base.meter.allows(self._scale):
            asked, _ = self._random.ask(probabilities, context)
        else:  # the whole budget is spent: no exploration either
            self._random.meter.record(False)
            asked = False
        if asked:
            self.base.observe(probabilities, context, True)
            return True, self.reason
        return self.base.ask(probabilities, context)

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        self._random.meter.record(asked)
        self.base.observe(probabilities, context, asked)

    def learn(self, outcome: Outcome) -> None:
        self.base.learn(outcome)

    @property
    def meter(self) -> SlidingBudget:
        return self.base.meter

    @property
    def stats(self) -> dict[str, float]:
        return {**self.base.stats, "budget": self.base.budget * self._scale}
