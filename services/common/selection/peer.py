"""River's ``active.EntropySampler`` as a strategy: the peer baseline.

Its decision is River's own code (``_ask_for_label``: ask with probability
``normalized entropy ** discount_factor``). Two things are added so it can be compared at a
fixed budget: the same sliding-window budget cap as every other strategy, and, because River's
sampler asks for nothing while the model is untrained (zero entropy on an empty prediction), a
bootstrap that asks (within budget) while the model has fewer labels than our cold start would
give it (``max(20, 2 per known class)``) -- without it the model would never receive a label,
and with only two classes known an over-confident young model starves it.
"""

from __future__ import annotations

from river import active

from services.common.selection.base import Context, Decision, Probabilities, Strategy
from services.common.selection.budget import Ledger, SlidingBudget


class EntropySamplerStrategy(Strategy):
    def __init__(self, budget: float, discount_factor: float = 3.0, window: int = 1000,
                 bootstrap_labels: int = 20, seed: int | None = None) -> None:
        self.budget = budget
        self.discount_factor = discount_factor
        self.window = window
        self.bootstrap_labels = bootstrap_labels
        self.seed = seed
        # Only its decision rule is used; the model is the service's, outside this object.
        self._sampler = active.EntropySampler(classifier=None,  # type: ignore[arg-type]
                                              discount_factor=discount_factor, seed=seed)
        self._meter = SlidingBudget(budget, window)
        self._ledger = Ledger(budget)  # the exact budget, as every strategy here
        self._scale = 1.0

    def set_scale(self, scale: float) -> None:
        self._scale = scale

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        allowed = self._meter.allows(self._scale) and self._ledger.allows()
        n_learned = context.n_learned if context is not None else 0
        if len(probabilities) < 2 or n_learned < max(self.bootstrap_labels,
                                                     2 * len(probabilities)):
            wants = True
        else:
            wants = self._sampler._ask_for_label(None, dict(probabilities))
        asked = allowed and wants
        self._meter.record(asked)
        self._ledger.record(asked)
        return (True, self.reason) if asked else (False, None)

    @property
    def meter(self) -> SlidingBudget:
        return self._meter

    @property
    def stats(self) -> dict[str, float]:
        return {"budget": self.budget * self._scale, "query_rate": self._meter.rate}
