"""The caller's identity and the role check every endpoint declares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from enum import StrEnum

from fastapi import Request
from pydantic import BaseModel, Field

from services.common.errors import Forbidden


class Role(StrEnum):
    """What a key may call: app (ingest, classify, feedback, lineage), reviewer (the review
    queue, similar items) or admin (everything, keys and the label set included)."""

    APP = "app"  # ingest, classify, feedback, lineage
    REVIEWER = "reviewer"  # the review queue, similar items
    ADMIN = "admin"  # everything, including keys, label set and model admin


class Principal(BaseModel):
    """An authenticated caller. ``name`` is the reviewer identity: headers cannot claim it."""

    key_id: str = Field(description="Id of the API key used (not the secret)")
    name: str = Field(description="Owner of the key; the reviewer name for reviewer keys")
    role: Role = Field(description="The key's role")

    def allows(self, role: Role) -> bool:
        return self.role is Role.ADMIN or self.role is role


class Authenticator(ABC):
    """Turns a request into a Principal, or raises Unauthorized (401)."""

    enabled: bool = True

    @abstractmethod
    async def authenticate(self, request: Request) -> Principal: ...


class DevAuthenticator(Authenticator):
    """Auth off (embedded dev mode only): everyone is an admin, named by X-Reviewer if sent."""

    enabled = False

    async def authenticate(self, request: Request) -> Principal:
        name = (request.headers.get("x-reviewer") or "dev").strip()[:128] or "dev"
        return Principal(key_id="dev", name=name, role=Role.ADMIN)


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller, if it holds one of ``roles`` (or admin); else 403."""

    async def dependency(request: Request) -> Principal:
        # One authentication per request, however many dependencies ask (router-level guard,
        # endpoint parameter, rate limit): with keys in Redis each one is a round trip.
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            authenticator: Authenticator = request.app.state.authenticator
            principal = await authenticator.authenticate(request)
        if roles and not any(principal.allows(r) for r in roles):
            wanted = " or ".join(r.value for r in roles)
            raise Forbidden(f"this endpoint needs the {wanted} role; the key has {principal.role}")
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{'_'.join(r.value for r in roles) or 'any'}"
    return dependency
