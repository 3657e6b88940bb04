from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    http_port: int = 8001
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="POST /v1/documents")
    # NDJSON bulk: 1000 documents (max_batch) of up to 100k characters fit.
    max_bulk_bytes: int = Field(default=256 * 1_048_576, ge=1024, description="NDJSON bulk")
    # Documents per request, for a JSON batch and for one bulk upload alike.
    max_batch: int = Field(default=1000, ge=1)
    # Bulk: one NDJSON line at most this long (a document is at most max_text_chars plus its
    # fields), and at most this many lines per request, blank ones included.
    max_bulk_line_bytes: int = Field(default=1_048_576, ge=1024)
    max_bulk_lines: int = Field(default=10_000, ge=1)
    max_text_chars: int = Field(default=100_000, ge=1)
