"""API keys: ``alstream_<id>_<secret>`` bearer tokens, stored as records with a hash.

The secret is 32 random bytes (urlsafe base64), so a single SHA-256 is enough to store it: the
slow password hashes exist for low-entropy human passwords, not for 256-bit random strings.
Only the hash is stored; the token is shown once, when the key is created. Comparison is
constant-time. The id is public (logs, lists, revocation) and never grants anything alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from pydantic import BaseModel, Field

from services.common.auth.principal import Role

PREFIX = "alstream"
_ID_CHARS = 12  # hex
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{{_ID_CHARS}}})_([A-Za-z0-9_-]{{32,128}})$")


class KeyInfo(BaseModel):
    """What anyone may see about a key: never the secret or its hash."""

    id: str = Field(description="Public key id (the middle part of the token)")
    role: Role = Field(description="What the key may call: app, reviewer or admin")
    name: str = Field(description="Owner of the key; for reviewer keys the reviewer identity")
    created_at: float = Field(description="Creation time, unix seconds")
    revoked: bool = Field(default=False, description="A revoked key is refused with 401")


class KeyRecord(KeyInfo):
    """A key as the store keeps it: the info plus the SHA-256 of the secret."""

    secret_sha256: str = Field(description="Hex SHA-256 of the secret part of the token")

    def info(self) -> KeyInfo:
        return KeyInfo.model_validate(self.model_dump(exclude={"secret_sha256"}))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(role: Role, name: str) -> tuple[KeyRecord, str]:
    """A fresh key record and its token (the only time the token exists in clear)."""
    key_id = secrets.token_hex(_ID_CHARS // 2)
    secret = secrets.token_urlsafe(32)
    record = KeyRecord(id=key_id, role=role, name=name, created_at=time.time(),
                       secret_sha256=hash_secret(secret))
    return record, f"{PREFIX}_{key_id}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(record: KeyRecord, secret: str) -> bool:
    return hmac.compare_digest(record.secret_sha256, hash_secret(secret))


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets of any length (hashing equalises lengths)."""
    return hmac.compare_digest(hash_secret(a), hash_secret(b))
