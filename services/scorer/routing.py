"""Which scored documents go to a human, and why.

The decision is the selection package's ``Selector`` (chosen by ``selection_strategy``; the
default is the one docs/evaluation.md picked): audit share, cold start, drift coupling and a
budgeted uncertainty rule. Around it the router adds what only a running service has:

- a **global budget** in the shared store, so several scorer processes together stay within
  ``label_budget`` of the stream, exactly, audits included (``GlobalBudget``);
- **queue pressure**: review-queue depth, polled from the store, against reviewer throughput
  measured from label events, scales the budget down while humans cannot keep up;
- **feedback** from label events (``on_labels``): the drift detector's prequential error, the
  committee, the reviewer throughput and the audit estimate all learn from them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from services.common.bus.runner import Item
from services.common.schemas import Document, LabelEvent, Reason
from services.common.selection import (
    GlobalBudget,
    Outcome,
    QueuePressure,
    Selector,
    Strategy,
)
from services.common.selection.base import scored_context
from services.common.selection.uncertainty import Margin

log = logging.getLogger(__name__)

# Audit and cold-start items go first: an audit sample the queue never reaches is no sample.
AUDIT_PRIORITY = 2.0
COLD_START_PRIORITY = 1.5


@dataclass(frozen=True, slots=True)
class Decision:
    route: bool
    reason: Reason | None
    priority: float
    uncertainty: float


def margin_uncertainty(probabilities: dict[str, float]) -> float:
    """1 - (p1 - p2): 0 when certain, 1 when the top two classes tie (or no model yet)."""
    return Margin(tie_weight=0.0)(probabilities)


class Router:
    def __init__(
        self,
        strategy: Strategy,
        n_learned: Callable[[], int] = lambda: 0,
        budget: GlobalBudget | None = None,
        pressure: QueuePressure | None = None,
        on_decision: Callable[[Router], None] | None = None,  # after decisions and labels
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.strategy = strategy
        self.budget = budget
        self.pressure = pressure
        self._n_learned = n_learned
        self._on_decision = on_decision
        self._clock = clock
        # Labels given before this process started arrive first (the label topic is replayed
        # on every start): they restore the audit estimate, and nothing else, since drift
        # and reviewer throughput are about now.
        self.started_at = clock()
        self.refused = 0  # wanted by this process, refused by the group's budget
        self.drift_events = 0

    @property
    def selector(self) -> Selector | None:
        return self.strategy if isinstance(self.strategy, Selector) else None

    async def decide(
        self,
        doc: Document,
        embedding: np.ndarray,
        probabilities: dict[str, float],
        model_version: int,
    ) -> Decision:
        uncertainty = margin_uncertainty(probabilities)
        context = scored_context(embedding, probabilities, self._n_learned())
        asked, reason = self.strategy.ask(probabilities, context)
        if self.budget is not None:
            await self.budget.note_seen()
            if asked:
                granted = await self.budget.acquire()
                if not granted:
                    self.refused += 1
                    asked, reason = False, None
        if self._on_decision is not None:
            self._on_decision(self)
        if not asked:
            return Decision(False, None, uncertainty, uncertainty)
        priority = {Reason.AUDIT: AUDIT_PRIORITY, Reason.COLD_START: COLD_START_PRIORITY}.get(
            reason, uncertainty) if reason is not None else uncertainty
        return Decision(True, reason, priority, uncertainty)

    async def on_labels(self, items: list[Item[LabelEvent]]) -> None:
        """Every label event, history first (a consumer group of this start's own, replayed
        from the beginning): learn from the outcomes."""
        for item in items:
            event = item.message
            if event.labeled_at.timestamp() < self.started_at:
                if self.selector is not None:
                    self.selector.audit.learn(Outcome(
                        x=None, label=event.label,
                        predicted=event.predicted_label, reason=event.reason))
                continue
            if self.pressure is not None:
                self.pressure.observe_label(event.labeled_at.timestamp())
            drift = self.selector.drift if self.selector is not None else None
            before = sum(drift.events.values()) if drift is not None else 0
            self.strategy.learn(Outcome(
                x=np.asarray(event.embedding, dtype=np.float32), label=event.label,
                predicted=event.predicted_label, reason=event.reason,
            ))
            if drift is not None and sum(drift.events.values()) > before:
                self.drift_events += 1
                log.warning("drift detected from label feedback; query rate x%.1f for %d items",
                            drift.boost, drift.duration)
        if self._on_decision is not None:  # the audit estimate and drift gauges moved
            self._on_decision(self)

    def observe_queue(self, depth: int) -> None:
        """Review-queue depth (polled from the store): updates the queue pressure."""
        if self.pressure is None:
            return
        self.pressure.observe_depth(depth, self._clock())
        if self.selector is not None:
            self.selector.set_pressure(self.pressure.scale())
