"""Trainer HTTP: status, the model registry, pin/unpin (admin) and document lineage (app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from services.common.auth import Principal, Role, require
from services.common.auth.ratelimit import guard
from services.common.errors import NotFound
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import ModelAnnouncement
from services.common.store import ModelRecord, ServingState, Store
from services.trainer.lineage import DocumentLineage, document_lineage
from services.trainer.trainer import Trainer


class GateStatus(BaseModel):
    """The promotion gate's settings and its last decision."""

    enabled: bool = Field(description="False: every version is promoted unchecked")
    tolerance: float = Field(
        description="Accuracy loss (fraction, e.g. 0.03) the gate tolerates before holding")
    last_decision: str | None = Field(
        description="The reason of the last decision; null before the first publish")
    promoted: bool | None = Field(
        description="Whether the last version was promoted (false: held); null before any")


class TrainerStatus(BaseModel):
    """What the trainer has learned and published, and how accurate it is."""

    model_version: int = Field(description="The last version published (promoted or held)")
    serving_version: int = Field(description="The version every scorer replica serves (0: none)")
    pinned: bool = Field(description="An admin pinned the served version (gate bypassed)")
    labels_learned: int = Field(description="Items whose label is in the model now")
    labels_since_publish: int = Field(description="Labels folded in since the last version")
    label_offsets: dict[str, int] = Field(
        description="Labels-topic partition -> next offset to fold (what the model reflects)")
    prequential_accuracy: float = Field(description=(
        "Test-then-train accuracy over every label so far, in [0, 1]: each label predicted "
        "before it was learned"))
    prequential_accuracy_recent: float = Field(
        description="The same over the most recent labels (a rolling window), in [0, 1]")
    gate: GateStatus = Field(description="The promotion gate")
    classes: list[str] = Field(description="Classes the model knows")
    model_updates: int = Field(
        description="The model's own count of learned labels; equals labels_learned")


class PinIn(BaseModel):
    """The version to serve on every replica until unpinned."""

    model_config = {"extra": "forbid"}
    version: int = Field(ge=1, description="A retained version (GET /v1/models)")


class Registry(BaseModel):
    """The model registry: what is served and every retained version."""

    serving: ServingState | None = Field(
        description="What every replica serves; null before the first promotion")
    versions: list[ModelRecord] = Field(
        description="Retained versions (the last keep_versions), oldest first")


Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
App = Annotated[Principal, Depends(require(Role.APP))]


def router(trainer: Trainer, store: Store) -> APIRouter:
    r = APIRouter(prefix="/v1", responses=error_responses(*AUTHED))

    @r.get("/status", response_model=TrainerStatus, tags=["trainer"],
           dependencies=guard(Role.APP, Role.REVIEWER))
    async def status() -> TrainerStatus:
        """Labels learned, prequential accuracy, the gate, and the published and served
        versions."""
        learner, d = trainer.learner, trainer.last_decision
        serving = trainer.serving
        return TrainerStatus(
            model_version=trainer.version, serving_version=serving.version if serving else 0,
            pinned=bool(serving and serving.pinned), labels_learned=learner.n_learned,
            labels_since_publish=trainer.since_publish,
            label_offsets={str(p): o for p, o in trainer._labels_offsets().items()},
            prequential_accuracy=learner.accuracy,
            prequential_accuracy_recent=learner.recent_accuracy,
            gate=GateStatus(enabled=learner.gate.enabled, tolerance=learner.gate.tolerance,
                            last_decision=None if d is None else d.reason,
                            promoted=None if d is None else d.promote),
            classes=learner.model.classes, model_updates=learner.model.n_learned,
        )

    @r.get("/models", response_model=Registry, tags=["models"],
           dependencies=guard(Role.APP, Role.REVIEWER))
    async def models() -> Registry:
        """Retained versions with the gate's decision and reason, and what is served."""
        return Registry(serving=await store.models.serving(),
                        versions=await store.models.versions())

    @r.post("/models/pin", response_model=ModelAnnouncement, tags=["models"],
            responses=error_responses(404, 409))
    async def pin(body: PinIn, who: Admin) -> ModelAnnouncement:
        """Serve this version on every replica; the trainer continues from its exact state."""
        try:
            return await trainer.pin(body.version, who.name)
        except NotFound as exc:
            raise NotFound(f"version {body.version} is not in the registry (never published, "
                           f"or dropped by retention: keep_versions): {exc}") from exc

    @r.delete("/models/pin", response_model=ModelAnnouncement, tags=["models"],
              responses=error_responses(404, 409))
    async def unpin(who: Admin) -> ModelAnnouncement:
        """Resume normal promotion through the gate."""
        return await trainer.unpin(who.name)

    @r.get("/documents/{doc_id:path}", response_model=DocumentLineage, tags=["lineage"],
           responses=error_responses(404))
    async def document(doc_id: Annotated[str, Path(description="The document's id")],
                       _: App) -> DocumentLineage:
        """What happened to one document: prediction, routing, label, learning version."""
        return await document_lineage(store, doc_id)

    return r
