"""The selector the scorer runs: audit, cold start, drift boost and queue pressure around one
base stream strategy, all sharing one label budget.

Order per item: the audit draw comes first (uniform, independent of the model, so its labels
stay unbiased; only items with a prediction are audited, since the accuracy of no answer is
known without labels); then cold start while the model knows too little, else the base
strategy.
Audit picks count against the same budget, so the total human load is ``budget``: the base
strategy sees every label asked (audit and cold start included) as spent from its own budget
and steers its threshold to spend the rest, and a total ``Ledger`` caps the sum exactly at
``budget * (items + warmup)`` (refusing an audit draw only when the budget is spent, a
content-independent event that keeps the sample uniform). The audit share is capped at a
quarter of the budget for a two-class model and at half of it from three classes (see
``audit_cap``), so the selective part always keeps at least half. A drift boost raises the
selective rate for a while, but only with labels saved earlier (spend below
``budget * items``): it never touches the warm-up allowance, so a boost late in a stream cannot
leave the total above the budget.
"""

from __future__ import annotations

from collections import Counter

from services.common.lda_balance import MIN_CLASSES
from services.common.schemas import Reason
from services.common.selection.audit import AuditEstimator, AuditSampler
from services.common.selection.base import Context, Decision, Outcome, Probabilities, Strategy
from services.common.selection.budget import Ledger, SlidingBudget
from services.common.selection.coldstart import DiversityColdStart
from services.common.selection.drift import DriftMonitor
from services.common.selection.strategies import BudgetedStrategy, Split

Base = BudgetedStrategy | Split

# Share of the stream routed as uniform random audit, capped by ``audit_cap``.
# 2.5 %, not 1 %: the audit records are the fair sample the model's temperature is fitted
# on, and at 10 % budget 1 % left too few of them beside cold start's outliers (the short
# drifting stream's ECE 0.073 -> 0.045, 10 seeds; docs/evaluation.md). At small budgets
# the cap decides.
DEFAULT_AUDIT_SHARE = 0.025


def audit_cap(n_classes: int) -> float:
    """The most of the budget the audit may take, for a served model of ``n_classes``.

    Two classes: a quarter, so the selective part keeps most of a small budget (at half, the
    two-class drifting stream lost its margin over random at 2 %: 0.809 / 0.799 vs 0.808,
    20 seeds each). From three classes (``MIN_CLASSES``, where the trainer's balanced E-step
    takes its class shares from the fair sample and its exact temperature fit folds it:
    services/common/lda_semisup.py), half. A quarter of a 2 % budget left ~40 fair
    records for 20 classes, two per class; the noise of the temperature fitted on them alone
    kept the 20-class stream's end ECE at 0.052 / 0.055 (20 seeds each; 0.035 at the
    holdout's own best temperature), and half brought it to 0.044 / 0.039 with accuracy
    unchanged and every multi-class stream still above random (docs/evaluation.md). The
    audit estimate stays unbiased within a model; only a change in the number of classes
    changes the rate."""
    return 0.5 if n_classes >= MIN_CLASSES else 0.25


class Selector(Strategy):
    def __init__(
        self,
        base: Base,
        audit_share: float = DEFAULT_AUDIT_SHARE,
        cold_start: DiversityColdStart | None = None,
        drift: DriftMonitor | None = None,
        audit_window: int = 500,
        seed: int | None = None,
    ) -> None:
        self.base = base
        self.audit_share = audit_share
        self.cold_start = cold_start
        self.drift = drift
        self.audit_window = audit_window
        self.seed = seed
        self.reason = base.reason
        budget = base.base.budget if isinstance(base, Split) else base.budget
        self._audit = AuditSampler(self._audit_rate_for(0),
                                   seed=None if seed is None else seed + 7919)
        self._total = Ledger(budget)
        # Bursts stay bounded as in the base (BudgetedStrategy.burst) over its window.
        self._window = SlidingBudget(budget, base.base.window if isinstance(base, Split)
                                     else base.window)
        self._estimator = AuditEstimator(window=audit_window)
        self._pressure = 1.0
        self._reasons: Counter[str] = Counter()

    @property
    def budget(self) -> float:
        return self.base.base.budget if isinstance(self.base, Split) else self.base.budget

    def _audit_rate_for(self, n_classes: int) -> float:
        return min(self.audit_share, self.budget * audit_cap(n_classes))

    def set_pressure(self, scale: float) -> None:
        """Queue pressure in (0, 1]: scales the budget of the selective part (not the audit)."""
        self._pressure = max(0.0, min(1.0, scale))

    @property
    def debt(self) -> float:
        """Labels spent beyond ``budget * items`` so far (the warm-up allowance in use)."""
        return max(0.0, self._total.asked - self.budget * self._total.seen)

    @property
    def ledger(self) -> Ledger:
        return self._total

    @property
    def scale(self) -> float:
        """Rate multiplier: queue pressure, times the drift boost while one is active (the
        exact budget still caps the total; see the module docstring)."""
        boost = self.drift.boost_factor if self.drift is not None else 1.0
        return self._pressure * boost

    def ask(self, probabilities: Probabilities, context: Context | None = None) -> Decision:
        if self.drift is not None and probabilities:
            self.drift.update_confidence(max(probabilities.values()))
        scale = self.scale
        self.base.set_scale(scale)
        cold = self.cold_start is not None and self.cold_start.active(probabilities, context)
        boosting = self.drift is not None and self.drift.active
        room = self._total.allows(allowance=not boosting) and self._window.allows(
            max(1.0, scale) * BudgetedStrategy.burst)
        # No audit without a prediction: the accuracy of "no answer" needs no label to know.
        # The rate follows the served model's classes; within a model it is one uniform draw.
        if probabilities:
            self._audit.share = self._audit_rate_for(len(probabilities))
        asked, reason = self._audit.ask(probabilities, context) if probabilities \
            else (False, None)
        asked, reason = (asked, reason) if room else (False, None)
        if asked or not room:  # the selective rules see the item and what it cost
            self.base.observe(probabilities, context, asked)
            if cold and self.cold_start is not None:
                self.cold_start.observe(probabilities, context, asked)
        elif cold and self.cold_start is not None:
            self.cold_start.set_scale(scale)
            asked, reason = self.cold_start.ask(probabilities, context)
            self.base.observe(probabilities, context, asked)
        else:
            asked, reason = self.base.ask(probabilities, context)
            if asked and self.drift is not None and self.drift.active:
                reason = Reason.DRIFT
        self._total.record(asked)
        self._window.record(asked)
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
        seen = self._total.seen
        out["query_rate"] = self._total.asked / seen if seen else 0.0
        out["spend"] = self._total.spend
        out["audit_share"] = self._audit.share
        out["pressure"] = self._pressure
        out["debt"] = self.debt
        out["drift_active"] = float(self.drift.active) if self.drift is not None else 0.0
        return out
