"""What the APIs answer, as typed objects. Unknown fields are kept (``extra="allow"``), so a
newer server never breaks an older client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Accepted(_Answer):
    accepted: int
    ids: list[str]


class BulkResult(_Answer):
    accepted: int
    rejected: int
    errors: list[dict[str, Any]] = []


class Classification(_Answer):
    label: str | None
    probabilities: dict[str, float] = {}
    confidence: float = 0.0
    model_version: int = 0


class ModelInfo(_Answer):
    version: int
    classes: list[str] = []
    n_labels: int = 0


class ReviewItem(_Answer):
    """A leased item: label or skip it by ``lease_id`` before ``expires_at``."""

    item_id: str
    lease_id: str
    text: str
    reason: str | None = None
    suggestion: str | None = None
    confidence: float | None = None
    expires_at: float | str | None = None


class LabelResult(_Answer):
    item_id: str | None = None
    label: str
    event_id: str
    duplicate: bool = False
