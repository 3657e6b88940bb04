"""HTTP edge of ingest: validate, assign ids, publish durably, answer 202."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Discriminator, Field, Tag

from services.common.auth import Role
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.bus import Bus
from services.common.errors import InvalidInput
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import DocId, Document, MetaValue, Text, new_id
from services.ingest.bulk_upload import BulkUpload
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings


class DocumentIn(BaseModel):
    """What a client sends: ``id`` is optional and assigned when missing."""

    model_config = {"extra": "forbid"}
    id: DocId | None = Field(default=None, description=(
        "Your id for the document (URL-style ids with '/' are fine); a random one if absent"))
    text: Text = Field(description="The text to classify")
    metadata: dict[str, MetaValue] = Field(
        default_factory=dict, description="Free-form scalar fields carried along with the item")
    source: str | None = Field(default=None, max_length=256,
                               description="Where the document came from")


class Batch(BaseModel):
    """Several documents in one request, published in order (at most max_batch)."""

    model_config = {"extra": "forbid"}
    documents: list[DocumentIn] = Field(min_length=1, description="The documents, in order")


def _shape(value: object) -> str:
    return "batch" if isinstance(value, dict) and "documents" in value else "one"


# The body's shape picks the model, so a bad single document is reported against DocumentIn only.
DocumentsBody = Annotated[
    Annotated[DocumentIn, Tag("one")] | Annotated[Batch, Tag("batch")],
    Discriminator(_shape),
]


class Accepted(BaseModel):
    """Documents accepted and published to the documents topic."""

    accepted: int = Field(description="Documents published")
    ids: list[str] = Field(description="Their ids, in request order (assigned ones included)")


class LineError(BaseModel):
    """One rejected line of an NDJSON upload."""

    line: int = Field(description="1-based line number in the NDJSON body")
    error: str = Field(description="Why the line was rejected")


class BulkResult(BaseModel):
    """The outcome of an NDJSON upload: what was published, what was rejected and why."""

    accepted: int = Field(description="Documents published (before any error that stopped "
                                      "the upload)")
    rejected: int = Field(description="Lines rejected (reported in errors)")
    errors: list[LineError] = Field(description="The first 100 rejected lines")
    complete: bool = Field(default=True, description=(
        "False when the upload stopped early (a limit was hit): lines from next_line on "
        "were not read"))
    next_line: int | None = Field(default=None, description=(
        "With complete=false: the first line not processed; resend from there"))
    detail: str | None = Field(default=None, description="Why the upload stopped early")


class Deps:
    def __init__(self, settings: IngestSettings, bus: Bus, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.bus = bus
        self.metrics = metrics

    def to_document(self, doc: DocumentIn) -> Document:
        if len(doc.text) > self.settings.max_text_chars:
            self.metrics.rejected.labels("text_too_long").inc()
            raise InvalidInput(
                f"text of document {doc.id or '(new)'} has {len(doc.text)} characters; "
                f"the limit is {self.settings.max_text_chars}"
            )
        return Document(id=doc.id or new_id(), text=doc.text, metadata=doc.metadata,
                        source=doc.source)

    async def publish(self, docs: list[Document]) -> None:
        started = time.perf_counter()
        await self.bus.publish_many(
            self.settings.topics.documents, [(d.id, d) for d in docs]
        )
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        self.metrics.accepted.inc(len(docs))


def get_deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


D = Annotated[Deps, Depends(get_deps)]
APP = guard(Role.APP, limit=EndpointClass.INGEST)


def router() -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["ingest"], responses=error_responses(*AUTHED))

    @r.post("/documents", status_code=202, response_model=Accepted,
            dependencies=APP, responses=error_responses(413))
    async def post_documents(body: DocumentsBody, d: D) -> Accepted:
        """One document, or ``{"documents": [...]}``. Published before the 202 is sent."""
        items = body.documents if isinstance(body, Batch) else [body]
        if len(items) > d.settings.max_batch:
            d.metrics.rejected.labels("batch_too_large").inc(len(items))
            raise InvalidInput(
                f"batch has {len(items)} documents; the limit is {d.settings.max_batch}"
            )
        docs = [d.to_document(i) for i in items]
        await d.publish(docs)
        return Accepted(accepted=len(docs), ids=[doc.id for doc in docs])

    @r.post("/documents/bulk", response_model=BulkResult,
            dependencies=APP, openapi_extra=BULK_BODY,
            responses={**error_responses(415, 503),
                       413: {"model": BulkResult, "description": (
                           "A limit stopped the upload; accepted and next_line say what was "
                           "kept and where to resume")}})
    async def post_bulk(request: Request, d: D) -> JSONResponse:
        """NDJSON (``application/x-ndjson``; ``application/json`` accepted too), one document
        per line, streamed: bad lines are reported, good ones published."""
        return await BulkUpload(d, DocumentIn).run(request)

    return r


# The NDJSON body, described for clients and fuzzers: each line is one DocumentIn.
BULK_BODY = {"requestBody": {"required": True, "description": (
    "NDJSON: one JSON document per line, each like the single-document body"), "content": {
    "application/x-ndjson": {"schema": {"type": "array", "minItems": 1, "maxItems": 1000,
                                        "items": {"$ref": "#/components/schemas/DocumentIn"}}},
}}}

