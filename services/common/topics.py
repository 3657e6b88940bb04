"""Topic names, defined once. A prefix lets several deployments share one Kafka cluster."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = "alstream."

    @property
    def documents(self) -> str:
        return f"{self.prefix}documents"

    @property
    def predictions(self) -> str:
        return f"{self.prefix}predictions"

    @property
    def review_requests(self) -> str:
        return f"{self.prefix}review-requests"

    @property
    def labels(self) -> str:
        return f"{self.prefix}labels"

    @property
    def models(self) -> str:
        return f"{self.prefix}model-announcements"

    @property
    def observations(self) -> str:
        """Scored items' embeddings (a sample), for the trainer's unlabeled window."""
        return f"{self.prefix}observations"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}dead-letter"

    def partitions(self, topic: str, default: int) -> int:
        """Partitions of ``topic``. Labels are the model's log: trainer, scorer replicas and
        replays must apply them in one order, so one partition; model announcements likewise
        (a version never overtakes a later one). Everything else: ``default``."""
        return 1 if topic in (self.labels, self.models) else default

    def configs(self, topic: str) -> dict[str, str]:
        """Topic configs beyond the cluster's defaults, set when the topic is created.
        Observations are soft state (the trainer keeps the last few thousand): six hours of
        them, in hourly segments (retention only deletes closed segments), so a trainer back
        from an outage reads at most that much instead of every embedding since."""
        if topic == self.observations:
            return {"retention.ms": str(6 * 3_600_000), "segment.ms": str(3_600_000)}
        return {}

    def all(self) -> list[str]:
        return [
            self.documents,
            self.predictions,
            self.review_requests,
            self.labels,
            self.models,
            self.observations,
            self.dead_letter,
        ]
