"""What every review API endpoint needs, built once by the service wiring."""

from __future__ import annotations

from services.common.bus import Bus
from services.common.labels import LabelGovernance
from services.common.outbox_relay import OutboxRelay
from services.common.store import QueueStats, Store
from services.review_api.flow import LabelFlow
from services.review_api.metrics import ReviewMetrics
from services.review_api.settings import ReviewSettings


class Deps:
    def __init__(self, settings: ReviewSettings, bus: Bus, store: Store,
                 metrics: ReviewMetrics) -> None:
        self.settings = settings
        self.store = store
        self.queue = store.queue
        self.metrics = metrics
        self.governance = LabelGovernance(store.kv, settings.label_set,
                                          case_fold=settings.label_case_fold,
                                          open_new=settings.label_open, outbox=store.outbox)
        self.relay = OutboxRelay(store.outbox, bus, settings.topics.labels, metrics,
                                 interval_s=settings.outbox_interval_s)
        self.flow = LabelFlow(settings, self.relay, store, self.governance, metrics)

    async def refresh_gauges(self) -> QueueStats:
        stats = await self.queue.stats()
        self.metrics.depth.set(stats.depth)
        self.metrics.leased.set(stats.leased)
        self.metrics.labeled.set(stats.labeled)
        self.metrics.oldest_age.set(stats.oldest_age_s or 0.0)
        return stats
