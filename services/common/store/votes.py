"""What a vote and a re-scored item look like: built the same way by both stores."""

from __future__ import annotations

from services.common.schemas import LabelEvent, LabelSource, ReviewRequest
from services.common.store.base import Rescore


def vote_event(item: ReviewRequest, reviewer: str, label: str, source: LabelSource,
               rescore: Rescore | None = None) -> LabelEvent:
    """The label event a vote becomes; built the same way for both stores."""
    predicted = rescore.predicted_label if rescore else item.predicted_label
    version = rescore.model_version if rescore else item.model_version
    return LabelEvent(
        item_id=item.item_id, label=label, embedding=item.embedding, reviewer=reviewer,
        reason=item.reason, predicted_label=predicted, model_version=version, source=source,
    )


def merged(item: ReviewRequest, rescore: Rescore | None) -> ReviewRequest:
    """The item as a reviewer sees it: with the newest model's scores if it was re-scored."""
    if rescore is None:
        return item
    return item.model_copy(update=rescore.model_dump())


def reprioritized(item: ReviewRequest, rescore: Rescore | None, priority: float) -> Rescore:
    """The item's current scores (newest model's, if re-scored) under a new priority: a reopened
    item keeps what the reviewer is shown and only moves in the queue."""
    view = merged(item, rescore)
    return Rescore(priority=priority, predicted_label=view.predicted_label,
                   probabilities=view.probabilities, model_version=view.model_version,
                   suggestion=view.suggestion)
