from __future__ import annotations

from services.common.observability import Metrics


class IngestMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__()
        self.accepted = self.counter("ingest_documents_total", "Documents accepted and published")
        self.rejected = self.counter(
            "ingest_rejected_total", "Documents refused with a 4xx", ["reason"]
        )
        self.publish_seconds = self.histogram(
            "ingest_publish_seconds", "Time to publish an accepted request durably"
        )
