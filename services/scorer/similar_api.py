"""/v1/similar: the k nearest queued-or-labeled items, for reviewers comparing an item with
what was already sent to humans (and how it was labeled)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.common.auth import Role
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.errors import InvalidInput, NotFound
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import DocId, Text
from services.common.similar import NeighborOut, SimilarOut
from services.scorer.index import SimilarityIndex

Embed = Callable[[list[str]], Awaitable[np.ndarray]]
MAX_K = 100


class SimilarIn(BaseModel):
    """A text whose nearest queued or labeled items are wanted."""

    model_config = {"extra": "forbid"}
    text: Text = Field(description="Text to find neighbours of")
    k: int = Field(default=10, ge=1, le=MAX_K, description="How many neighbours")


def similar_router(index: SimilarityIndex, embed: Embed, max_chars: int) -> APIRouter:
    """``embed`` must be the interactive (429-on-overload) path of the batcher."""
    r = APIRouter(prefix="/v1", tags=["scorer"], responses=error_responses(*AUTHED))

    async def answer(vector: np.ndarray, k: int, item_id: str | None) -> SimilarOut:
        found = await asyncio.to_thread(index.search, vector, k, [item_id] if item_id else None)
        return SimilarOut(item_id=item_id, neighbors=[
            NeighborOut(item_id=n.item_id, score=n.score, label=n.label, status=n.status,
                        text=n.text) for n in found[0]])

    @r.get("/similar", response_model=SimilarOut, responses=error_responses(404),
           dependencies=guard(Role.REVIEWER, limit=EndpointClass.REVIEW))
    async def similar_to_item(
        item_id: Annotated[DocId, Query(description="An item queued for review or labeled")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="How many neighbours")] = 10,
    ) -> SimilarOut:
        """The k items nearest to a queued or labeled item (itself excluded)."""
        vector = await asyncio.to_thread(index.vector, item_id)
        if vector is None:
            raise NotFound(f"item {item_id!r} is not in the similarity index (only items "
                           "queued for review or labeled are)")
        return await answer(vector, k, item_id)

    @r.post("/similar", response_model=SimilarOut, responses=error_responses(413),
            dependencies=guard(Role.REVIEWER, limit=EndpointClass.CLASSIFY))
    async def similar_to_text(body: SimilarIn) -> SimilarOut:
        """The k queued or labeled items nearest to a text."""
        if len(body.text) > max_chars:
            raise InvalidInput(f"text has {len(body.text)} characters; the limit is {max_chars}")
        vector = (await embed([body.text]))[0]
        return await answer(vector, body.k, None)

    return r
