"""The selector the scorer runs: audit, cold start, drift boost and queue pressure around one
base stream strategy, all sharing one label budget.

Order per item: the audit draw comes first (uniform, independent of the model, so its labels
stay unbiased; only items with a prediction are audited, since the accuracy of no answer is
known without labels); then cold start while the model knows too little, else the base
strategy.
Audit picks count against the same budget, so the total human load is ``budget``: the
selective part runs at ``budget - audit share`` and a total meter caps the sum at ``budget``
(refusing an audit draw only when audits ran above their expected share, a content-independent
event that keeps the sample uniform). The audit share is capped at a quarter of the budget so
the selective part always keeps most of it.
"""

from __future__ import annotations

from collections import Counter

from services.common.schemas import Reason
from services.common.selection.audit import AuditEstimator, AuditSampler
from services.common.selection.base import Context, Decision, Outcome, Probabilities, Strategy
from services.common.selection.budget import SlidingBudget
from services.common.selection.coldstart import DiversityColdStart
from services.common.selection.drift import DriftMonitor
from services.common.selection.strategies import BudgetedStrategy, Split

Base = BudgetedStrategy | Split


class Selector(Strategy):
    def __init__(
        self,
        base: Base,
        audit_share: float = 0.01,
        cold_start: DiversityColdStart | None = None,
        drift: DriftMonitor | None = None,
        audit_window: int = 500,
        repay_items: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.base = base
        self.audit_share = audit_share
        self.cold_start = cold_start
        self.drift = drift
        self.audit_window = audit_window
        self.repay_items = repay_items
        self.seed = seed
        self.reason = base.reason
        budget = base.base.budget if isinstance(base, Split) else base.budget
        window = base.base.window if isinstance(base, Split) else base.window
        self._audit_rate = min(audit_share, budget / 4.0)
        # With a budget of 1 every item is labelled anyway: audits are just tagged among them.
        self._selective_share = 1.0 if budget >= 1.0 else \
            (budget - self._audit_rate) / budget if budget > 0 else 0.0
        self._audit = AuditSampler(self._audit_rate, seed=None if seed is None else seed + 7919)
        self._total = SlidingBudget(budget, window)
        self._estimator = AuditEstimator(window=audit_window)
        self._pressure = 1.0
        self._reasons: Counter[str] = Counter()
        self._seen = 0
        self._asked = 0

    @property
    def budget(self) -> float:
        return self.base.base.budget if isinstance(self.base, Split) else self.base.budget

    def set_pressure(self, scale: float) -> None:
        """Queue pressure in (0, 1]: scales the budget of the selective part (not the audit)."""
        self._pressure = max(0.0, min(1.0, scale))

    @property
    def debt(self) -> float:
        """Labels spent beyond the budget since the start (drift boosts borrow them)."""
        allowance = self.budget * (self._seen + self._total.warmup)
        return max(0.0, self._asked - allowance)

    @property
    def scale(self) -> float:
        """Budget multiplier: queue pressure, times the drift boost while one is active, else
        a repayment factor so that boosts borrow labels from the coming items rather than
        add to the budget (over ``repay_items`` items, never below half the budget)."""
        if self.drift is not None and self.drift.active:
            return self._pressure * self.drift.boost_factor
        repay = 1.0
        if self.budget < 1.0 and self.debt > 0:
            repay = max(0.5, 1.0 - self.debt / (self.budget * self.repay_items))
        return self._pressure * repay

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        self._seen += 1
        if self.drift is not None and probabilities:
            self.drift.update_confidence(max(probabilities.values()))
        scale = self.scale
        selective_scale = scale * self._selective_share
        self.base.set_scale(selective_scale)
        cold = self.cold_start is not None and self.cold_start.active(probabilities, context)
        room = self._total.allows(max(1.0, scale))
        # No audit without a prediction: the accuracy of "no answer" needs no label to know.
        asked, reason = self._audit.ask(probabilities, context) if probabilities \
            else (False, None)
        asked, reason = (asked, reason) if room else (False, None)
        if asked or not room:  # the selective rules still see the item, as not asked for
            self.base.observe(probabilities, context, False)
            if cold and self.cold_start is not None:
                self.cold_start.observe(probabilities, context, False)
        elif cold and self.cold_start is not None:
            self.cold_start.set_scale(selective_scale)
            asked, reason = self.cold_start.ask(probabilities, context)
            self.base.observe(probabilities, context, asked)
        else:
            asked, reason = self.base.ask(probabilities, context)
            if asked and self.drift is not None and self.drift.active:
                reason = Reason.DRIFT
        self._total.record(asked)
        self._asked += int(asked)
        if self.drift is not None:
            self.drift.tick()
        if asked and reason is not None:
            self._reasons[reason.value] += 1
        return asked, reason

    def learn(self, outcome: Outcome) -> None:
        self._estimator.learn(outcome)
        self.base.learn(outcome)
        if self.drift is not None and outcome.predicted is not None:
            self.drift.update_error(float(outcome.predicted != outcome.label))

    @property
    def audit(self) -> AuditEstimator:
        return self._estimator

    @property
    def reasons(self) -> dict[str, int]:
        return dict(self._reasons)

    @property
    def stats(self) -> dict[str, float]:
        out = dict(self.base.stats)
        out["budget"] = self.budget * self.scale
        out["query_rate"] = self._total.rate
        out["audit_share"] = self._audit_rate
        out["pressure"] = self._pressure
        out["debt"] = self.debt
        out["drift_active"] = float(self.drift.active) if self.drift is not None else 0.0
        return out
