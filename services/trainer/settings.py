from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import ServiceSettings


class TrainerSettings(ServiceSettings):
    http_port: int = 8004
    # A new version is published after this many new labels, or this many seconds if any
    # label arrived since the last one — whichever comes first.
    publish_every_labels: int = Field(default=20, ge=1)
    publish_every_s: float = Field(default=30.0, gt=0)
    # The OnlineClassifier (docs/evaluation.md): "lda" (calibrated streaming LDA, default) or
    # "softmax" (River's SoftmaxRegression with AdaGrad at learning_rate).
    model_kind: Literal["lda", "softmax"] = "lda"
    learning_rate: float = Field(default=0.5, gt=0)
    consumer_group: str = "trainer"
