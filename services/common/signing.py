"""Model artifacts are pickles, and unpickling runs code: verify before loading, always."""

from __future__ import annotations

import hashlib
import hmac

from services.common.errors import SignatureError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def verify(data: bytes, *, sha256: str, signature: str, key: bytes) -> None:
    """Raise SignatureError unless both the digest and the HMAC match."""
    if not hmac.compare_digest(sha256_hex(data), sha256):
        raise SignatureError("artifact digest does not match its record")
    if not hmac.compare_digest(sign(data, key), signature):
        raise SignatureError("artifact signature does not verify with the configured key")
