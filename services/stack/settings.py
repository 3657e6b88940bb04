from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class StackSettings(ServiceSettings):
    """Ports of the embedded stack; everything else is each service's own settings."""

    # The embedded dev stack (`make run`) runs without API keys unless ALSTREAM_AUTH=on; it
    # says so loudly at start-up. Production processes default to auth on.
    auth: bool = False
    ingest_port: int = Field(default=8001, ge=0)
    scorer_port: int = Field(default=8002, ge=0)
    review_port: int = Field(default=8003, ge=0)
    trainer_port: int = Field(default=8004, ge=0)
