"""Bearer API keys checked against the store's key registry (and a bootstrap admin key)."""

from __future__ import annotations

from fastapi import Request

from services.common.auth.keys import parse_token, same_secret, secret_matches
from services.common.auth.principal import Authenticator, Principal, Role
from services.common.errors import Unauthorized
from services.common.store.security import KeyRegistry

BOOTSTRAP_ID = "bootstrap"


class KeyAuthenticator(Authenticator):
    """``Authorization: Bearer alstream_<id>_<secret>``; anything else is 401.

    Every refusal says which of missing / malformed / unknown-or-wrong / revoked it was, but
    never echoes the token. Unknown id and wrong secret share one message, so the answer does
    not reveal which key ids exist.
    """

    enabled = True

    def __init__(self, keys: KeyRegistry, bootstrap_admin_key: str | None = None) -> None:
        self.keys = keys
        self._bootstrap = bootstrap_admin_key or None

    async def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if not header:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("malformed Authorization header: expected 'Bearer <key>'")
        if self._bootstrap is not None and same_secret(token, self._bootstrap):
            return Principal(key_id=BOOTSTRAP_ID, name="bootstrap-admin", role=Role.ADMIN)
        parsed = parse_token(token)
        if parsed is None:
            raise Unauthorized("malformed API key: expected alstream_<id>_<secret>")
        key_id, secret = parsed
        record = await self.keys.get(key_id)
        if record is None or not secret_matches(record, secret):
            raise Unauthorized("unknown or wrong API key")
        if record.revoked:
            raise Unauthorized(f"API key {key_id} is revoked")
        return Principal(key_id=record.id, name=record.name, role=record.role)
