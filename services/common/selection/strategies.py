"""Stream strategies after Žliobaitė et al. (2014), "Active learning with drifting streaming
data", and random sampling; the quantile variant the scorer runs is in quantile.py.

Every strategy here shares one skeleton (``BudgetedStrategy``): score the item with an
uncertainty measure, ``_wants`` it or not, pass the budget, then adapt. Two meters guard the
budget: the exact ``Ledger`` (labels never exceed ``budget * (items + warmup)`` since the
start) and a sliding window that caps bursts at ``burst`` times the *scaled* rate (queue
pressure, drift boost, set at run time through ``set_scale``) over the last ``window`` items.
The window is a cap on bursts, not the budget: at exactly the budget it would refuse items
whenever labels happen to bunch up, and every refusal is a label the budget then never spends.
"""

from __future__ import annotations

import math
from abc import abstractmethod

from services.common.schemas import Reason
from services.common.selection.base import (
    Context,
    Decision,
    Outcome,
    Probabilities,
    Seeded,
    Strategy,
)
from services.common.selection.budget import Ledger, SlidingBudget
from services.common.selection.uncertainty import Margin, Measure


class BudgetedStrategy(Seeded, Strategy):
    #: How far above the scaled rate any ``window`` items may go (the ledger holds the total).
    burst = 1.25

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
        self._ledger = Ledger(budget)
        self._scale = 1.0
        self._informative = True
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

    def room(self) -> bool:
        """Whether both meters have room for one more label now."""
        return self._meter.allows(self._scale * self.burst) and self._ledger.allows()

    def _record(self, asked: bool) -> None:
        self._meter.record(asked)
        self._ledger.record(asked, self.target_rate)

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        u = self.measure.score(probabilities, context)
        self._last_u = u
        self._informative = self.measure.informative(probabilities)
        allowed = self.room()
        # Always asked, so thresholds and histories follow the stream while the budget is full.
        asked = self._wants(u) and allowed
        self._adapt(u, asked, allowed)
        self._record(asked)
        if not asked:
            return False, None
        # Asked with nothing to rank by (no model yet): that is a cold-start pick.
        return True, self.reason if self._informative else Reason.COLD_START

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        """Account for an item another rule decided on (cold start, audit), sharing this
        budget: ``asked`` counts against it."""
        u = self.measure.score(probabilities, context)
        self._informative = self.measure.informative(probabilities)
        self._adapt(u, asked, True)
        self._record(asked)

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

    @property
    def ledger(self) -> Ledger:
        return self._ledger


class RandomSampling(BudgetedStrategy):
    """Uniform sampling at exactly the budget: the baseline every strategy must beat.

    The stream is cut into blocks of about ``per_block / budget`` items and each block gets
    ``per_block`` labels at uniformly random positions (selection sampling: ask with
    probability labels left / items left in the block). Every item has the same chance, as
    with a coin per item, but the spend is the budget exactly instead of a binomial draw, so
    comparisons with it are at equal labels. Its picks are tagged ``audit``: a uniform sample
    is what the audit estimate and the model's calibration want. One label per block
    (stratified sampling) keeps every pick within the exact budget (``Ledger``: at most one
    label ahead)."""

    def __init__(self, budget: float, measure: Measure | None = None, window: int = 1000,
                 seed: int | None = None, per_block: int = 1) -> None:
        super().__init__(budget, measure, window, seed)
        self.reason = Reason.AUDIT
        self.per_block = per_block
        self._left_items = 0
        self._left_labels = 0.0
        self._carry = 0.0

    def _wants(self, u: float) -> bool:
        if self._left_items <= 0:
            rate = self.target_rate
            if rate <= 0.0:
                return False
            self._left_items = max(1, round(self.per_block / rate))
            # A scaled rate may not divide evenly: the fraction of a label carries over.
            exact = rate * self._left_items + self._carry
            self._left_labels = float(math.floor(exact + 1e-9))
            self._carry = exact - self._left_labels
        want = self._rng.random() * self._left_items < self._left_labels
        self._left_items -= 1
        return want

    def _adapt(self, u: float, asked: bool, allowed: bool) -> None:
        if asked:
            self._left_labels -= 1

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        self._left_items -= 1  # another rule decided: the item still passes by
        self._adapt(0.0, asked, True)
        self._record(asked)


class FullSupervision(BudgetedStrategy):
    """Every item (budget 1): the upper reference."""

    def __init__(self, budget: float = 1.0, measure: Measure | None = None, window: int = 1000,
                 seed: int | None = None) -> None:
        super().__init__(1.0, measure, window, seed)
        self.reason = Reason.AUDIT  # every item: a uniform sample too

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
        if self.base.room():
            asked, _ = self._random.ask(probabilities, context)
        else:  # the whole budget is spent: no exploration either
            self._random.observe(probabilities, context, False)
            asked = False
        if asked:
            self.base.observe(probabilities, context, True)
            return True, self.reason
        return self.base.ask(probabilities, context)

    def observe(self, probabilities: Probabilities, context: Context | None, asked: bool) -> None:
        self._random.observe(probabilities, context, asked)
        self.base.observe(probabilities, context, asked)

    def learn(self, outcome: Outcome) -> None:
        self.base.learn(outcome)

    @property
    def meter(self) -> SlidingBudget:
        return self.base.meter

    @property
    def stats(self) -> dict[str, float]:
        return {**self.base.stats, "budget": self.base.budget * self._scale}
