"""A small typed Python client for alstream's HTTP APIs (sync, httpx).

    from services.client import Client
    c = Client()                                   # the embedded stack on 127.0.0.1:8001-8004
    c.ingest([{"id": "d1", "text": "The Leafs won in overtime"}])
    c.classify("The goalie stopped 40 shots").label
    item = c.review_next()                         # None when nothing is waiting
    if item:
        c.label(item.lease_id, "sports")

Standalone on purpose (httpx and pydantic only): apps may vendor this package.
"""

from services.client.client import ApiError, Client, Endpoints
from services.client.models import (
    Accepted,
    BulkResult,
    Classification,
    LabelResult,
    ModelInfo,
    ReviewItem,
)

__all__ = [
    "Accepted",
    "ApiError",
    "BulkResult",
    "Classification",
    "Client",
    "Endpoints",
    "LabelResult",
    "ModelInfo",
    "ReviewItem",
]
