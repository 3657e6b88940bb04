"""/v1/classify for production apps, and what model is being served."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from services.common.errors import InvalidInput, Overloaded
from services.common.schemas import Text
from services.scorer.embedder import Embedder
from services.scorer.metrics import ScorerMetrics
from services.scorer.model_holder import ModelHolder
from services.scorer.pipeline import top_label
from services.scorer.routing import margin_uncertainty
from services.scorer.settings import ScorerSettings


class ClassifyIn(BaseModel):
    model_config = {"extra": "forbid"}
    text: Text


class ClassifyOut(BaseModel):
    label: str | None
    probabilities: dict[str, float]
    confidence: float
    uncertainty: float
    model_version: int


class ModelInfo(BaseModel):
    version: int
    classes: list[str]
    n_labels: int


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
    r = APIRouter(prefix="/v1", tags=["scorer"])


    @r.post("/classify", response_model=ClassifyOut)
    async def classify(body: ClassifyIn, d: D) -> ClassifyOut:
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

    @r.get("/model", response_model=ModelInfo)
    async def model_info(d: D) -> ModelInfo:
        version, model = d.holder.snapshot()
        if model is None:
            return ModelInfo(version=version, classes=[], n_labels=0)
        return ModelInfo(version=version, classes=model.classes, n_labels=model.n_learned)

    return r
