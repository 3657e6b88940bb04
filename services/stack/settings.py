from __future__ import annotations

from pydantic import Field

from services.common.settings import CommonSettings


class StackSettings(CommonSettings):
    """Ports of the embedded stack; everything else is each service's own settings."""

    ingest_port: int = Field(default=8001, ge=0)
    scorer_port: int = Field(default=8002, ge=0)
    review_port: int = Field(default=8003, ge=0)
    trainer_port: int = Field(default=8004, ge=0)
