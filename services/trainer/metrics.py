from __future__ import annotations

from services.common.observability import Metrics


class TrainerMetrics(Metrics):
    def __init__(self) -> None:
        super().__init__()
        self.learned = self.counter("trainer_labels_learned_total", "Labels learned")
        self.duplicates = self.counter(
            "trainer_labels_duplicate_total", "Redelivered labels skipped (already learned)"
        )
        self.applied = self.counter(
            "trainer_label_records_total", "Label records by what the fold did with them",
            ["outcome"],
        )
        self.prequential = self.gauge(
            "trainer_prequential_accuracy", "Accuracy of predict-then-learn over all labels"
        )
        self.prequential_recent = self.gauge(
            "trainer_prequential_accuracy_recent", "Prequential accuracy over the last 200 labels"
        )
        self.model_version = self.gauge("trainer_model_version", "Last published model version")
        self.serving_version = self.gauge(
            "trainer_serving_version", "Version replicas are told to serve (promoted or pinned)"
        )
        self.published = self.counter("trainer_models_published_total", "Model versions published")
        # Names the dashboards and alerts use (operations): keep them.
        self.gate_decisions = self.counter(
            "gate_decisions", "Promotion gate decisions (promoted, held, pinned, unpinned)",
            ["decision"],
        )
        self.pinned = self.gauge("model_pinned", "1 while an admin pins the served version")
        self.checkpoint_bytes = self.gauge(
            "trainer_checkpoint_bytes", "Size of the last checkpoint (learner + offsets)"
        )
        self.publish_seconds = self.histogram(
            "trainer_publish_seconds", "Serialize, sign, store and announce a version"
        )
        # Semi-supervised refinement (services/trainer/semisup.py).
        self.refinements = self.counter(
            "trainer_refinements_total", "Refinements on unlabeled items before a publish, by "
            "outcome (applied, rejected: the fair log-loss did not drop; skipped: too few items)",
            ["outcome"],
        )
        self.unlabeled_window = self.gauge(
            "trainer_unlabeled_window_items", "Unlabeled items in the refinement window"
        )
        self.refine_gain = self.gauge(
            "trainer_refine_gain_nats", "Fair leave-one-out log-loss drop of the last refinement"
        )
