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
        self.reviewer_labels = self.counter(
            "review_reviewer_labels_total", "Votes per reviewer (throughput)", ["reviewer"]
        )
        self.reviewer_reliability = self.gauge(
            "review_reviewer_reliability", "Estimated accuracy per reviewer", ["reviewer"]
        )
        self.reviewer_kappa = self.gauge(
            "review_reviewer_kappa", "Cohen's kappa of a reviewer against consensus", ["reviewer"]
        )
        self.fleiss_kappa = self.gauge("review_fleiss_kappa", "Fleiss' kappa, all reviewers")
        self.consolidated = self.counter(
            "review_consolidated_total", "Multi-annotated items consolidated"
        )
        self.reopened = self.counter(
            "review_reopened_total", "Split votes sent back for one more look"
        )
        self.corrections = self.counter(
            "review_corrections_total", "Labels corrected or undone", ["action"]
        )
        self.label_set_changes = self.counter(
            "review_label_set_changes_total", "Admin rename/merge/retire", ["op"]
        )
        self.rescored = self.counter(
            "review_rescored_total", "Queued items re-scored by a newer model"
        )
