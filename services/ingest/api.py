"""HTTP edge of ingest: validate, assign ids, publish durably, answer 202."""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError

from services.common.bus import Bus
from services.common.errors import InvalidInput
from services.common.schemas import DocId, Document, MetaValue, Text, new_id
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings


class DocumentIn(BaseModel):
    """What a client sends: ``id`` is optional and assigned when missing."""

    model_config = {"extra": "forbid"}
    id: DocId | None = None
    text: Text
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    source: str | None = None


class Batch(BaseModel):
    model_config = {"extra": "forbid"}
    documents: list[DocumentIn] = Field(min_length=1)


def _shape(value: object) -> str:
    return "batch" if isinstance(value, dict) and "documents" in value else "one"


# The body's shape picks the model, so a bad single document is reported against DocumentIn only.
DocumentsBody = Annotated[
    Annotated[DocumentIn, Tag("one")] | Annotated[Batch, Tag("batch")],
    Discriminator(_shape),
]


class Accepted(BaseModel):
    accepted: int
    ids: list[str]


class BulkResult(BaseModel):
    accepted: int
    rejected: int
    errors: list[dict[str, object]]


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

def router() -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["ingest"])


    @r.post("/documents", status_code=202, response_model=Accepted)
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

    @r.post("/documents/bulk", response_model=BulkResult)
    async def post_bulk(request: Request, d: D) -> BulkResult:
        """NDJSON, one document per line, streamed: bad lines are reported, good ones kept."""
        accepted = 0
        errors: list[dict[str, object]] = []
        pending: list[Document] = []
        line_no = 0
        buffer = b""
        async for chunk in request.stream():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                line_no += 1
                accepted += await _bulk_line(d, line, line_no, pending, errors)
                if len(pending) >= 500:
                    await d.publish(pending)
                    pending = []
        if buffer.strip():
            line_no += 1
            accepted += await _bulk_line(d, buffer, line_no, pending, errors)
        if pending:
            await d.publish(pending)
        if line_no == 0:
            raise InvalidInput("bulk body is empty; send NDJSON, one document per line")
        d.metrics.rejected.labels("bulk_line").inc(len(errors))
        return BulkResult(accepted=accepted, rejected=len(errors), errors=errors[:100])

    return r


async def _bulk_line(
    d: Deps, line: bytes, line_no: int, pending: list[Document], errors: list[dict[str, object]]
) -> int:
    if not line.strip():
        return 0
    try:
        doc = d.to_document(DocumentIn.model_validate(json.loads(line)))
    except (ValueError, ValidationError, InvalidInput) as exc:
        errors.append({"line": line_no, "error": str(exc)[:500]})
        return 0
    pending.append(doc)
    return 1
