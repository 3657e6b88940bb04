from __future__ import annotations

from pydantic import Field

from services.common.settings import CommonSettings


class IngestSettings(CommonSettings):
    http_port: int = 8001
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="POST /v1/documents")
    max_bulk_bytes: int = Field(default=256 * 1_048_576, ge=1024, description="NDJSON bulk")
    max_batch: int = Field(default=1000, ge=1)
    max_text_chars: int = Field(default=100_000, ge=1)
