from __future__ import annotations

from services.common.observability import Metrics


class ReviewMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__()
        self.enqueued = self.counter(
            "review_enqueued_total", "Review requests queued", ["reason"]
        )
        self.enqueue_duplicates = self.counter(
            "review_enqueue_duplicates_total", "Review requests for items already known"
        )
        self.leases = self.counter("review_leases_total", "Items leased to reviewers")
        self.labels = self.counter("review_labels_total", "Labels submitted", ["reason"])
        self.skips = self.counter("review_skips_total", "Items skipped by a reviewer")
        self.depth = self.gauge("review_queue_depth", "Items waiting for a reviewer")
        self.leased = self.gauge("review_queue_leased", "Items leased right now")
        self.labeled = self.gauge("review_queue_labeled", "Items labeled so far")
        self.oldest_age = self.gauge(
            "review_queue_oldest_age_seconds", "Age of the oldest waiting item"
        )
        self.label_latency = self.histogram(
            "review_label_latency_seconds", "POST label: store and publish"
        )
