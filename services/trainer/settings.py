from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.lda_semisup import RefineConfig
from services.common.settings import ServiceSettings


class TrainerSettings(ServiceSettings):
    http_port: int = 8004
    # Freshness (docs/lifecycle.md): a version is published as soon as labels were learned, at
    # most every publish_interval_ms (a debounce: each version is a full signed artifact).
    # 0 restores the old cadence below (the freshness benchmark's baseline).
    publish_interval_ms: float = Field(default=200.0, ge=0)
    # Old cadence: after this many new labels, or this many seconds if any label arrived since
    # the last version, whichever comes first. Only with publish_interval_ms = 0.
    publish_every_labels: int = Field(default=20, ge=1)
    publish_every_s: float = Field(default=30.0, gt=0)
    # How long the broker may hold an empty fetch of the labels topic: short, for freshness.
    labels_fetch_wait_ms: int = Field(default=50, ge=0)
    # Registry retention: sub-second publishing would fill Redis; the newest keep_versions
    # stay, plus the one being served (promoted or pinned).
    keep_versions: int = Field(default=50, ge=2)
    # Promotion gate (services/trainer/gate.py): a candidate is held when its paired
    # prequential accuracy over the last gate_window labels is below the serving model's by more
    # than gate_tolerance; gate_min_compared labels are needed before it judges at all.
    gate_enabled: bool = True
    gate_tolerance: float = Field(default=0.03, ge=0.0, le=1.0)
    gate_window: int = Field(default=200, ge=10)
    gate_min_compared: int = Field(default=30, ge=1)
    # Lineage: the trainer keeps predictions (from the predictions topic) in the store.
    lineage_predictions: bool = True
    # The OnlineClassifier (docs/evaluation.md): "lda" (calibrated streaming LDA, default) or
    # "softmax" (River's SoftmaxRegression with AdaGrad at learning_rate).
    model_kind: Literal["lda", "softmax"] = "lda"
    learning_rate: float = Field(default=0.5, gt=0)
    # lda: covariance shrinkage in pseudo-observations (500 measured best across the
    # evaluation streams), and forgetting of class means with this half-life in labels (off:
    # on 20NG drifting a half-life of 200 labels gained 4 pt at 10 %, on stationary 20NG it
    # lost 4 pt; turn it on for streams whose classes move; docs/evaluation.md).
    model_prior_strength: float = Field(default=500.0, gt=0)
    model_half_life: float | None = Field(default=None, gt=0)
    # Semi-supervised refinement (services/common/lda_semisup.py, docs/evaluation.md): before
    # each publish the class means take a share of the last semisup_window unlabeled items
    # the scorers observed (the observations topic), each at semisup_weight of a label, by
    # semisup_steps EM steps; kept only when the fair records' leave-one-out log-loss drops by
    # semisup_min_gain nats. Needs semisup_min_items items in the window; lda only. With three
    # classes or more the E-step is class-balanced (semisup_balanced); the temperature of a
    # kept refinement is fitted on semisup_temperature_folds-fold exact held-out logits
    # (0: the fast leave-one-out), which costs that many extra refinements per publish.
    semisup_enabled: bool = True
    semisup_window: int = Field(default=3000, ge=1)
    semisup_min_items: int = Field(default=100, ge=1)
    semisup_weight: float = Field(default=0.05, gt=0.0, le=1.0)
    semisup_steps: int = Field(default=2, ge=1, le=20)
    semisup_min_gain: float = Field(default=0.02, ge=0.0)
    semisup_balanced: bool = True
    semisup_temperature_folds: int = Field(default=5, ge=0, le=50)
    consumer_group: str = "trainer"

    def refine_config(self) -> RefineConfig:
        return RefineConfig(window=self.semisup_window, min_items=self.semisup_min_items,
                            steps=self.semisup_steps, weight=self.semisup_weight,
                            min_gain=self.semisup_min_gain, balanced=self.semisup_balanced,
                            temperature_folds=self.semisup_temperature_folds)
