from __future__ import annotations

from services.common.observability import Metrics


class ScorerMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__()
        self.scored = self.counter("scorer_documents_scored_total", "Documents scored")
        self.routed = self.counter(
            "scorer_routed_total", "Documents routed to human review", ["reason"]
        )
        self.classify_latency = self.histogram(
            "scorer_classify_latency_seconds", "POST /v1/classify latency"
        )
        self.classify_requests = self.counter(
            "scorer_classify_requests_total", "POST /v1/classify answers", ["status"]
        )
        self.model_version = self.gauge("scorer_model_version", "Model version being served")
        self.model_swaps = self.counter("scorer_model_swaps_total", "Hot swaps to a new model")
        self.model_rejected = self.counter(
            "scorer_model_rejected_total", "Model artifacts refused (bad signature or type)"
        )
        # Lifecycle (docs/lifecycle.md); dashboards and alerts use these names.
        self.model_labels_offset = self.gauge(
            "scorer_model_labels_offset", "Labels-topic offset the served version reflects"
        )
        self.model_pinned = self.gauge("model_pinned", "1 while an admin pins the served version")
        self.model_freshness = self.histogram(
            "model_freshness_seconds",
            "Label accepted by the review API -> served by this replica (oldest label new in "
            "the swapped-in version)",
            buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
        )
        self.batch_seconds = self.histogram(
            "scorer_stream_batch_seconds", "Stream batch: embed, predict, publish"
        )
        self.uncertainty = self.histogram(
            "scorer_uncertainty", "Uncertainty of scored documents",
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
        )
