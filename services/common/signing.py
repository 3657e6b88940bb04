"""Model artifacts are pickles, and unpickling runs code: verify before loading, always."""

from __future__ import annotations

import hashlib
import hmac

from services.common.errors import SignatureError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign(data: bytes, key: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


_HEX64 = frozenset("0123456789abcdef")


def verify(data: bytes, *, sha256: object, signature: object, key: bytes) -> None:
    """Raise SignatureError unless both the digest and the HMAC match.

    The fields come from stored records that anyone with store access can write, so they are
    checked for shape first: a malformed field is a SignatureError, never a TypeError.
    """
    for name, value in (("sha256", sha256), ("signature", signature)):
        if not (isinstance(value, str) and len(value) == 64 and set(value) <= _HEX64):
            raise SignatureError(f"artifact {name} field is malformed (expected 64 hex digits)")
    assert isinstance(sha256, str) and isinstance(signature, str)
    if not isinstance(data, bytes | bytearray):
        raise SignatureError("artifact is not bytes")
    if not hmac.compare_digest(sha256_hex(data), sha256):
        raise SignatureError("artifact digest does not match its record")
    if not hmac.compare_digest(sign(data, key), signature):
        raise SignatureError("artifact signature does not verify with the configured key")
