"""POST /v1/documents/bulk: NDJSON streamed line by line, bounded, honest about what it kept.

Bounded in bytes (``max_bulk_bytes``), line length (``max_bulk_line_bytes``), documents (the
JSON batch limit, ``max_batch``) and lines (``max_bulk_lines``, blank ones included). A bad
line is a per-line error and the rest goes on; a hostile line (NaN, surrogates, duplicate keys,
deep nesting) is one too, never a 500. Good lines are published in chunks while reading, so
when a limit or a backend stops the upload, the answer says exactly how many documents were
published and from which line to resend (``complete=false``, ``next_line``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.common.errors import BackendUnavailable, InvalidInput, UnsupportedMedia
from services.common.hardening import HostileJson, clean, strict_loads
from services.common.schemas import Document
from services.ingest.ndjson import BodyTooLarge, TooLong, read_lines

if TYPE_CHECKING:
    from pydantic import BaseModel

    from services.ingest.api import Deps

PUBLISH_EVERY = 500
MEDIA_TYPES = ("application/x-ndjson", "application/json")


def check_media_type(request: Request) -> None:
    """Only JSON types: a web page can post text/plain cross-site without a preflight."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise UnsupportedMedia(
            f"Content-Type {clean(media, 80) or '(none)'!r} is not accepted; "
            f"send NDJSON as {' or '.join(MEDIA_TYPES)}")


def describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'document'}: {e['msg']}"
                         for e in exc.errors()[:5])
    return clean(str(exc), 500)


class BulkUpload:
    def __init__(self, deps: Deps, model: type[BaseModel]) -> None:
        self.d = deps
        self.model = model  # DocumentIn
        s = deps.settings
        self.max_docs, self.max_lines = s.max_batch, s.max_bulk_lines
        self.accepted = 0
        self.documents = 0
        self.line_no = 0
        self.errors: list[dict[str, object]] = []
        self.rejected = 0
        self.pending: list[Document] = []

    def result(self, status: int, detail: str | None = None) -> JSONResponse:
        complete = detail is None
        self.d.metrics.rejected.labels("bulk_line").inc(self.rejected)
        return JSONResponse({
            "accepted": self.accepted, "rejected": self.rejected, "errors": self.errors[:100],
            "complete": complete, "next_line": None if complete else self.line_no + 1,
            "detail": detail}, status_code=status)

    def reject(self, error: str) -> None:
        self.rejected += 1
        if len(self.errors) < 100:
            self.errors.append({"line": self.line_no, "error": error})

    async def flush(self) -> None:
        if self.pending:
            await self.d.publish(self.pending)
            self.accepted += len(self.pending)
            self.pending = []

    async def run(self, request: Request) -> JSONResponse:
        check_media_type(request)
        s = self.d.settings
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > s.max_bulk_bytes:
            return self.result(413, f"body of {length} bytes exceeds the limit of "
                                    f"{s.max_bulk_bytes} bytes")
        try:
            stopped = await self._read(request)
            await self.flush()
        except BodyTooLarge:
            await self.flush()
            return self.result(413, f"body exceeds the limit of {s.max_bulk_bytes} bytes")
        except BackendUnavailable as exc:
            return self.result(503, f"stopped: {exc}; {self.accepted} documents were published")
        if stopped is not None:
            return self.result(413, stopped)
        if self.line_no == 0:
            raise InvalidInput("bulk body is empty; send NDJSON, one document per line")
        return self.result(200)

    async def _read(self, request: Request) -> str | None:
        s = self.d.settings
        lines = read_lines(request.stream(), s.max_bulk_line_bytes, s.max_bulk_bytes)
        async for line in lines:
            if self.line_no >= self.max_lines:
                return f"more than {self.max_lines} lines; send the rest in another request"
            if isinstance(line, TooLong):
                self.line_no += 1
                self.documents += 1
                self.reject(f"line longer than {s.max_bulk_line_bytes} bytes")
                continue
            if not line.strip():
                self.line_no += 1
                continue
            if self.documents >= self.max_docs:
                return (f"more than {self.max_docs} documents (the batch limit); send the rest "
                        "in another request")
            self.line_no += 1
            self.documents += 1
            self._parse(line)
            if len(self.pending) >= PUBLISH_EVERY:
                await self.flush()
        return None

    def _parse(self, line: bytes) -> None:
        try:
            doc = self.d.to_document(self.model.model_validate(strict_loads(line)))  # type: ignore[arg-type]
        except (HostileJson, ValueError, ValidationError, InvalidInput) as exc:
            self.reject(describe(exc))
            return
        self.pending.append(doc)
