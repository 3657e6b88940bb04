"""The scorer's selection: building it from settings, its metrics, GET /v1/audit, and the
job that polls the review queue's depth for queue pressure."""

from __future__ import annotations

import asyncio
import logging
import math

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.common.auth import Role
from services.common.auth.ratelimit import guard
from services.common.observability import Metrics
from services.common.openapi import error_responses
from services.common.selection import GlobalBudget, QueuePressure, make_strategy
from services.common.store import Store
from services.scorer.model_holder import ModelHolder
from services.scorer.routing import Router
from services.scorer.settings import ScorerSettings

log = logging.getLogger(__name__)


class SelectionMetrics:
    """Budget, query rate, threshold, pressure, drift and the audit estimate, as gauges updated
    after every decision (cheap: a few attribute reads)."""

    def __init__(self, metrics: Metrics) -> None:
        g, c = metrics.gauge, metrics.counter
        self.budget = g("selection_budget", "Label budget now (fraction of the stream, scaled)")
        self.budget_configured = g("selection_budget_configured", "Configured label budget")
        self.query_rate = g("selection_query_rate",
                            "Labels asked per scored item over the budget window (this process)")
        self.group_rate = g("selection_group_query_rate",
                            "Labels asked per scored item, all scorers (shared store)")
        self.threshold = g("selection_threshold", "Uncertainty an item needs to be routed now")
        self.pressure = g("selection_queue_pressure",
                          "Budget scale from review-queue pressure (1 = no pressure)")
        self.throughput = g("selection_reviewer_throughput", "Labels per second from reviewers")
        self.queue_depth = g("selection_queue_depth", "Review-queue depth last polled")
        self.drift_active = g("selection_drift_active", "1 while a drift boost is active")
        self.drift_events = c("selection_drift_events_total", "Drift detections", ["source"])
        self.refused = c("selection_budget_refused_total",
                         "Items this process wanted that the group's budget refused")
        self.audit_accuracy = g("audit_accuracy", "Accuracy on audit labels (unbiased estimate)")
        self.audit_low = g("audit_accuracy_ci_low", "Audit accuracy, 95% interval lower bound")
        self.audit_high = g("audit_accuracy_ci_high", "Audit accuracy, 95% interval upper bound")
        self.audit_labels = g("audit_labels", "Audit labels in the estimate's window")
        self._drift_seen: dict[str, int] = {}
        self._refused_seen = 0

    def update(self, router: Router) -> None:
        selector = router.selector
        stats = router.strategy.stats
        self.budget.set(stats.get("budget", 0.0))
        self.query_rate.set(stats.get("query_rate", 0.0))
        threshold = stats.get("threshold", math.nan)
        self.threshold.set(threshold if math.isfinite(threshold) else 1.0)
        if router.refused > self._refused_seen:
            self.refused.inc(router.refused - self._refused_seen)
            self._refused_seen = router.refused
        if router.pressure is not None:
            self.throughput.set(router.pressure.throughput)
        if selector is None:
            return
        self.pressure.set(stats.get("pressure", 1.0))
        if selector.drift is not None:
            self.drift_active.set(float(selector.drift.active))
            for source, count in selector.drift.events.items():
                new = count - self._drift_seen.get(source, 0)
                if new > 0:
                    self.drift_events.labels(source).inc(new)
                    self._drift_seen[source] = count
        report = selector.audit.report()
        if report["accuracy"] is not None:
            self.audit_accuracy.set(float(report["accuracy"]))
        self.audit_low.set(float(report["ci_low"] or 0.0))
        self.audit_high.set(float(report["ci_high"] or 1.0))
        self.audit_labels.set(float(report["n"] or 0))


def build_router(settings: ScorerSettings, store: Store, holder: ModelHolder,
                 metrics: Metrics) -> tuple[Router, SelectionMetrics]:
    def n_learned() -> int:
        model = holder.snapshot()[1]
        return model.n_learned if model is not None else 0

    strategy = make_strategy(settings.selection_strategy, settings.label_budget,
                             seed=settings.selection_seed, audit_share=settings.audit_share)
    budget = GlobalBudget(
        store.kv, settings.label_budget, bank_items=settings.budget_bank_items,
        prefix=f"selection:{settings.consumer_group}:budget:",
    ) if settings.global_budget else None
    pressure = QueuePressure(horizon_s=settings.queue_horizon_s)
    selection_metrics = SelectionMetrics(metrics)
    selection_metrics.budget_configured.set(settings.label_budget)
    router = Router(strategy, n_learned, budget, pressure, on_decision=selection_metrics.update)
    return router, selection_metrics


async def poll_queue(router: Router, store: Store, metrics: SelectionMetrics,
                     every_s: float, stop: asyncio.Event) -> None:
    """Feed the review queue's depth to the router until ``stop`` is set."""
    while not stop.is_set():
        try:
            stats = await store.queue.stats()
            router.observe_queue(stats.depth)
            metrics.queue_depth.set(stats.depth)
            metrics.pressure.set(router.pressure.scale() if router.pressure else 1.0)
            if router.budget is not None:
                metrics.group_rate.set(await router.budget.rate())
        except Exception as exc:  # the store may be briefly away; selection must go on
            log.warning("queue poll failed: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        except TimeoutError:
            pass


class AuditEstimate(BaseModel):
    """Accuracy of the predictions served, measured on audit labels only (items picked at
    random, whatever the model said), over the most recent of them."""

    accuracy: float | None = Field(description="Share of audit labels the model predicted; "
                                   "null before the first audit label")
    ci_low: float = Field(description="Lower bound of its Wilson interval (0 with no labels)")
    ci_high: float = Field(description="Upper bound of its Wilson interval (1 with no labels)")
    confidence: float = Field(description="The interval's confidence level, e.g. 0.95")
    n: int = Field(description="Audit labels in the estimate's window")
    n_total: int = Field(description="Audit labels seen since the scorer started (replayed "
                         "labels included)")


class AuditOut(BaseModel):
    """The unbiased accuracy estimate and the selection's current state."""

    estimate: AuditEstimate | None = Field(
        description="Null when the selection strategy has no audit sample (not a selector)")
    audit_share: float | None = Field(
        description="Share of the stream picked at random for audit; null if unknown")
    selection: dict[str, float | None] = Field(description=(
        "The strategy's statistics by name (budget, query_rate, threshold, ...; the names "
        "depend on the strategy); null where a value is not finite"))
    routed_by_reason: dict[str, int] = Field(
        description="Items routed to humans since start, by reason")
    drift_events: dict[str, int] = Field(
        description="Drift detections since start, by source (error, confidence)")
    budget_refused: int = Field(
        description="Items this process wanted that the group's shared budget refused")


def audit_router(router: Router) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["scorer"], responses=error_responses(401, 403, 503),
                  dependencies=guard(Role.APP, Role.REVIEWER))

    @r.get("/audit", response_model=AuditOut)
    async def audit() -> AuditOut:
        """Unbiased accuracy of served predictions, from audit labels only, with its 95%
        interval; plus the selection's current budget, query rate and routed counts."""
        selector = router.selector
        stats = {k: (v if math.isfinite(v) else None) for k, v in router.strategy.stats.items()}
        if selector is None:
            return AuditOut(estimate=None, audit_share=0.0, selection=stats, routed_by_reason={},
                            drift_events={}, budget_refused=router.refused)
        return AuditOut(
            estimate=AuditEstimate.model_validate(selector.audit.report()),
            audit_share=selector.stats.get("audit_share"),
            selection=stats,
            routed_by_reason=selector.reasons,
            drift_events=selector.drift.events if selector.drift is not None else {},
            budget_refused=router.refused,
        )

    return r
