from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    http_port: int = 8003
    lease_ttl_s: float = Field(default=300.0, gt=0)
    max_body_bytes: int = Field(default=65_536, ge=1024)
    consumer_group: str = "review-api"
    stats_interval_s: float = Field(default=1.0, gt=0)
