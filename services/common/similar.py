"""The answer of the scorer's /v1/similar, as the scorer sends it and the review API relays it
(with a flag of its own): one definition, so the two schemas cannot drift apart."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NeighborOut(BaseModel):
    """One queued or labeled item near the one asked about."""

    item_id: str = Field(description="The neighbour's item id")
    score: float = Field(description="Cosine similarity, 1 = identical")
    label: str | None = Field(description="Its label, once labeled")
    status: Literal["queued", "labeled"] = Field(description="Still queued, or labeled")
    text: str | None = Field(description="The start of the item's text, when known")


class SimilarOut(BaseModel):
    """The nearest queued or labeled items, most similar first."""

    item_id: str | None = Field(default=None, description="The item asked about (GET)")
    neighbors: list[NeighborOut] = Field(description="Nearest first")
