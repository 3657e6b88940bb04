"""/v1/classify for production apps, and what model is being served."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.common.auth import Role
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.errors import InvalidInput, Overloaded
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import Text
from services.scorer.embedder import Embedder
from services.scorer.metrics import ScorerMetrics
from services.scorer.model_holder import ModelHolder
from services.scorer.pipeline import top_label
from services.scorer.routing import margin_uncertainty
from services.scorer.settings import ScorerSettings


class ClassifyIn(BaseModel):
    """A text to classify with the served model (synchronous, nothing is published)."""

    model_config = {"extra": "forbid"}
    text: Text = Field(description="The text to classify")


class ClassifyOut(BaseModel):
    """The served model's prediction for one text."""

    label: str | None = Field(description="Most probable class; null before any label")
    probabilities: dict[str, float] = Field(description="Probability per class, summing to 1")
    confidence: float = Field(description="Probability of the predicted class")
    uncertainty: float = Field(description="1 - (top probability - second), in [0, 1]")
    model_version: int = Field(description="The model version that answered (0: none yet)")


class ModelInfo(BaseModel):
    """The model this scorer replica serves now."""

    version: int = Field(description="The served model version (0: none yet)")
    classes: list[str] = Field(description="Classes the model knows")
    n_labels: int = Field(description="Labels the model has learned")


class Deps:
    def __init__(self, settings: ScorerSettings, embedder: Embedder, holder: ModelHolder,
                 metrics: ScorerMetrics) -> None:
        self.settings = settings
        self.embedder = embedder
        self.holder = holder
        self.metrics = metrics


def get_deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


D = Annotated[Deps, Depends(get_deps)]

def router() -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["scorer"], responses=error_responses(*AUTHED))

    @r.post("/classify", response_model=ClassifyOut, responses=error_responses(413),
            dependencies=guard(Role.APP, limit=EndpointClass.CLASSIFY))
    async def classify(body: ClassifyIn, d: D) -> ClassifyOut:
        """Classify one text with the served model, synchronously. Nothing is published or
        routed to review (POST /v1/documents on ingest does that)."""
        started = time.perf_counter()
        status = "ok"
        try:
            if len(body.text) > d.settings.classify_max_chars:
                raise InvalidInput(
                    f"text has {len(body.text)} characters; "
                    f"the limit is {d.settings.classify_max_chars}"
                )
            vector = (await d.embedder.embed([body.text], interactive=True))[0]
            version, model = d.holder.snapshot()
            probs = await asyncio.to_thread(model.predict_proba_one, vector) if model else {}
            label, confidence = top_label(probs)
            return ClassifyOut(
                label=label, probabilities=probs, confidence=confidence,
                uncertainty=margin_uncertainty(probs), model_version=version,
            )
        except Overloaded:
            status = "overloaded"
            raise
        except InvalidInput:
            status = "invalid"
            raise
        except Exception:
            status = "error"  # answered 5xx (backend unavailable, bug): the error-rate alert
            raise
        finally:
            d.metrics.classify_requests.labels(status).inc()
            d.metrics.classify_latency.observe(time.perf_counter() - started)

    @r.get("/model", response_model=ModelInfo, dependencies=guard(Role.APP, Role.REVIEWER))
    async def model_info(d: D) -> ModelInfo:
        """The model version this replica serves, its classes and how many labels it learned."""
        version, model = d.holder.snapshot()
        if model is None:
            return ModelInfo(version=version, classes=[], n_labels=0)
        return ModelInfo(version=version, classes=model.classes, n_labels=model.n_learned)

    return r
