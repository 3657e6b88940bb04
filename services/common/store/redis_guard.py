"""Shared by every Redis-backed store part: connection trouble becomes BackendUnavailable, and
replies (bytes: the client does not decode) become text."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.common.errors import BackendUnavailable

P = ParamSpec("P")
T = TypeVar("T")


def guarded(
    method: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Connection trouble becomes BackendUnavailable: HTTP answers 503, consumers retry the
    batch later instead of dead-lettering it."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise BackendUnavailable(f"Redis is unavailable: {exc}") from exc

    return wrapper


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
