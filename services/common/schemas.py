"""Every message on the bus, defined once. Services import these; nobody redefines them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Whitespace as strip_whitespace removes it (Unicode White_Space), spelled out, plus the C0
# separators str.strip() also removes. Not `\s`: regex engines disagree on it (ECMAScript's,
# which OpenAPI clients and fuzzers use, leaves out U+0085), and a schema-valid "\x85" was then
# stripped to "" and refused with a 422.
SPACE = r"\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# "Not only whitespace", so the published schema says what stripping enforces.
NOT_BLANK = rf"[^{SPACE}]"
DocId = Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True,
                                         pattern=NOT_BLANK)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True, pattern=NOT_BLANK)]
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True,
                                             pattern=NOT_BLANK)]
MetaValue = str | int | float | bool | None


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Message(BaseModel):
    """Base for bus messages: unknown fields are rejected so typos surface as errors."""

    model_config = ConfigDict(extra="forbid")


class Reason(StrEnum):
    """Why an item was sent to a human."""

    UNCERTAINTY = "uncertainty"
    COMMITTEE = "committee"
    AUDIT = "audit"
    COLD_START = "cold_start"
    DRIFT = "drift"
    FEEDBACK = "feedback"  # an app reported a wrong prediction (POST /v1/feedback)


class Document(Message):
    id: DocId = Field(default_factory=new_id)
    text: Text
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    source: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Prediction(Message):
    """The scorer's prediction for one ingested document (the predictions topic)."""

    doc_id: DocId = Field(description="The document's id")
    label: str | None = Field(description="Most probable class; null before any label")
    probabilities: dict[str, float] = Field(description="Probability per class, summing to 1")
    confidence: float = Field(description="Probability of the predicted class")
    uncertainty: float = Field(description="1 - (top probability - second), in [0, 1]")
    model_version: int = Field(description="The model version that scored it (0: none yet)")
    routed: bool = Field(description="Sent to the review queue")
    reason: Reason | None = Field(default=None, description="Why it was routed; null if not")
    suggestion: str | None = Field(
        default=None, description="A near-duplicate's human label, if one was found")
    scored_at: datetime = Field(default_factory=utcnow, description="When it was scored (UTC)")


class Observation(Message):
    """A scored item's embedding on the observations topic: the trainer refines its class means
    on a window of recent unlabeled items (services/common/lda_semisup.py)."""

    item_id: DocId
    embedding: list[float]
    model_version: int = 0


class ReviewRequest(Message):
    item_id: DocId
    text: Text
    embedding: list[float]
    priority: float = Field(description="Higher is reviewed first: the item's uncertainty.")
    reason: Reason
    predicted_label: str | None = None
    probabilities: dict[str, float] = Field(default_factory=dict)
    model_version: int = 0
    suggestion: str | None = None
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


class LabelSource(StrEnum):
    """Who a label came from; set by the server from the caller's key, never by the payload."""

    REVIEWER = "reviewer"
    ADMIN = "admin"  # an admin's correction
    APP = "app"  # POST /v1/feedback from an application
    CONSENSUS = "consensus"  # consolidated from k reviewers' labels


class LabelAction(StrEnum):
    """What a record on the labels topic does to the model (the topic is the model's log)."""

    LABEL = "label"  # learn `label` for the item; with `retracts`, replace that earlier label
    RETRACT = "retract"  # forget the item's label `retracts` (undo); `label` names it
    LABEL_SET = "label_set"  # a governed label-set change; details in `change`


class LabelSetChange(Message):
    """Rename, merge or retire a label. The model relabels its statistics, no retraining."""

    op: Literal["rename", "merge", "retire"]
    label: LabelName = Field(description="The label changed")
    into: LabelName | None = Field(default=None, description="New name (rename, merge)")


class LabelEvent(Message):
    """A record on the labels topic. It carries the embedding so the trainer never re-embeds.

    The labels topic has one partition, so every consumer (trainer, scorer replicas, replay)
    applies the same records in the same order and ends with the same model.
    """

    event_id: str = Field(default_factory=new_id)
    item_id: DocId
    label: LabelName
    embedding: list[float]
    reviewer: str
    reason: Reason
    predicted_label: str | None = None
    model_version: int = 0
    labeled_at: datetime = Field(default_factory=utcnow)
    action: LabelAction = LabelAction.LABEL
    source: LabelSource = LabelSource.REVIEWER
    # How much the trainer learns from it (app feedback may be down-weighted); in (0, 1].
    weight: float = Field(default=1.0, gt=0.0, le=1.0)
    # event_id of the earlier label this record replaces (LABEL) or forgets (RETRACT).
    retracts: str | None = None
    change: LabelSetChange | None = None


class ModelFacts(BaseModel):
    """What identifies a published model version and what it knew: the registry's record
    (store.ModelRecord) and the announcement on the bus share these fields."""

    version: int = Field(description="The version number, increasing from 1")
    sha256: str = Field(description="Hex SHA-256 of the model artifact")
    signature: str = Field(description="Hex HMAC-SHA256 of the artifact (the signing key)")
    classes: list[str] = Field(description="Classes the model knows")
    n_labels: int = Field(description="Labels the model had learned")
    metrics: dict[str, float] = Field(default_factory=dict, description=(
        "Prequential accuracy (overall, recent) and the gate's compared accuracies, in [0, 1]"))


class ModelAnnouncement(Message, ModelFacts):
    """A new version in the registry, and which version every replica must serve now.

    Lifecycle (docs/lifecycle.md): replicas serve ``serving_version`` (None: ``version``); a
    held candidate is announced with the last promoted version as ``serving_version``.
    """

    created_at: datetime = Field(default_factory=utcnow, description="When it was announced")
    decision: Literal["promoted", "held", "pinned", "unpinned"] = Field(
        default="promoted", description="What happened to the version")
    reason: str = Field(default="", description="Why (the gate's reason, or who pinned)")
    serving_version: int | None = Field(
        default=None, description="What every replica must serve now; null: `version`")
    pinned: bool = Field(default=False, description="The served version is pinned by an admin")
    labels_offsets: dict[str, int] = Field(default_factory=dict, description=(
        "Labels-topic partition -> next offset: the labels this version reflects"))
    oldest_label_at: datetime | None = Field(
        default=None, description="Acceptance time of the oldest label new in this version")
    newest_label_at: datetime | None = Field(
        default=None, description="Acceptance time of the newest label new in this version")


class DeadLetter(Message):
    """What could not be processed, with where it came from so it can be replayed."""

    source_topic: str
    partition: int
    offset: int
    key: str | None
    error: str
    payload: str
    consumer_group: str
    failed_at: datetime = Field(default_factory=utcnow)
