"""Trainer HTTP: status, the model registry, pin/unpin (admin) and document lineage (app)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.common.auth import Principal, Role, require
from services.common.auth.ratelimit import guard
from services.common.errors import NotFound
from services.common.openapi import error_responses
from services.common.schemas import ModelAnnouncement
from services.common.store import ModelRecord, ServingState, Store
from services.trainer.lineage import DocumentLineage, document_lineage
from services.trainer.trainer import Trainer


class TrainerStatus(BaseModel):
    model_version: int  # the last version published (promoted or held)
    serving_version: int  # what replicas serve
    pinned: bool
    labels_learned: int  # items whose label is in the model now
    labels_since_publish: int
    label_offsets: dict[str, int]
    prequential_accuracy: float
    prequential_accuracy_recent: float
    gate: dict[str, Any]
    classes: list[str]
    model_updates: int  # the model's own count of learned labels; equals labels_learned


class PinIn(BaseModel):
    model_config = {"extra": "forbid"}
    version: int = Field(ge=1)


class Registry(BaseModel):
    serving: ServingState | None
    versions: list[ModelRecord]


Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
App = Annotated[Principal, Depends(require(Role.APP))]


def router(trainer: Trainer, store: Store) -> APIRouter:
    r = APIRouter(prefix="/v1")

    @r.get("/status", response_model=TrainerStatus, tags=["trainer"],
           dependencies=guard(Role.APP, Role.REVIEWER))
    async def status() -> TrainerStatus:
        learner, d = trainer.learner, trainer.last_decision
        serving = trainer.serving
        return TrainerStatus(
            model_version=trainer.version, serving_version=serving.version if serving else 0,
            pinned=bool(serving and serving.pinned), labels_learned=learner.n_learned,
            labels_since_publish=trainer.since_publish,
            label_offsets={str(p): o for p, o in trainer._labels_offsets().items()},
            prequential_accuracy=learner.accuracy,
            prequential_accuracy_recent=learner.recent_accuracy,
            gate={"enabled": learner.gate.enabled, "tolerance": learner.gate.tolerance,
                  "last_decision": None if d is None else d.reason,
                  "promoted": None if d is None else d.promote},
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
    async def document(doc_id: str, _: App) -> DocumentLineage:
        """What happened to one document: prediction, routing, label, learning version."""
        return await document_lineage(store, doc_id)

    return r
