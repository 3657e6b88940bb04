"""Key management over HTTP, the same on every service: create (token shown once), list, revoke.

Every service mounts it because every service shares one key registry (the store): an operator
can manage keys through whichever service is reachable.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StringConstraints

from services.common.auth.keys import KeyInfo, new_key
from services.common.auth.principal import Principal, Role, require
from services.common.errors import NotFound
from services.common.openapi import error_responses
from services.common.schemas import SPACE
from services.common.store.security import KeyRegistry

# No control characters (C0, DEL, C1), not only whitespace: names appear in logs and on
# labels. Whitespace spelled out (SPACE), since `\s` differs between regex engines.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
KeyName = Annotated[str, StringConstraints(
    min_length=1, max_length=128, strip_whitespace=True,
    pattern=rf"^[^{_CONTROL}]*[^{_CONTROL}{SPACE}][^{_CONTROL}]*$")]


class KeyIn(BaseModel):
    """A key to create: its role and its owner's name."""

    model_config = {"extra": "forbid"}
    role: Role = Field(description="app (ingest, classify, feedback), reviewer (the review "
                                   "queue, similar items) or admin (everything)")
    name: KeyName = Field(description="Owner of the key; a reviewer key's name is the "
                                      "reviewer identity recorded on every label")


class KeyCreated(BaseModel):
    """A new key: its record and the bearer token, shown only in this answer."""

    key: KeyInfo = Field(description="The stored key record (without the secret)")
    token: str = Field(description="The bearer token. Shown once: only its hash is stored")


class KeyList(BaseModel):
    """Every key of the shared registry (without secrets)."""

    keys: list[KeyInfo] = Field(description="Every key, revoked ones too, oldest first")


def _registry(request: Request) -> KeyRegistry:
    return request.app.state.keys  # type: ignore[no-any-return]


Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Keys = Annotated[KeyRegistry, Depends(_registry)]
KeyId = Annotated[str, Path(description="The key id (middle part of the token)",
                            pattern=r"^[0-9a-f]{12}$")]


def admin_router() -> APIRouter:
    r = APIRouter(prefix="/v1/admin", tags=["admin"],
                  responses=error_responses(401, 403, 422, 429))

    @r.post("/keys", status_code=201, response_model=KeyCreated,
            responses=error_responses(409, 413))
    async def create_key(body: KeyIn, _: Admin, keys: Keys) -> KeyCreated:
        """Create an API key. The response holds the token; it cannot be shown again."""
        record, token = new_key(body.role, body.name)
        await keys.add(record)
        return KeyCreated(key=record.info(), token=token)

    @r.get("/keys", response_model=KeyList)
    async def list_keys(_: Admin, keys: Keys) -> KeyList:
        """Every key with its role, owner, creation time and revoked flag; never secrets."""
        return KeyList(keys=[k.info() for k in await keys.list()])

    @r.post("/keys/{key_id}/revoke", response_model=KeyInfo, responses=error_responses(404))
    async def revoke_key(key_id: KeyId, _: Admin, keys: Keys) -> KeyInfo:
        """Revoke a key: from now on it gets 401 on every service. Idempotent."""
        return (await keys.revoke(key_id)).info()

    @r.get("/keys/{key_id}", response_model=KeyInfo, responses=error_responses(404))
    async def get_key(key_id: KeyId, _: Admin, keys: Keys) -> KeyInfo:
        """One key's record."""
        record = await keys.get(key_id)
        if record is None:
            raise NotFound(f"no key with id {key_id!r}")
        return record.info()

    return r
