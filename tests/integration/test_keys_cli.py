"""The key CLI against Redis: create, list, revoke, and the created key authenticates."""

from __future__ import annotations

import json

import pytest

from services.common.auth.cli import main

pytestmark = pytest.mark.integration


async def test_create_list_revoke_on_redis_and_the_key_authenticates(
        redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from services.common.auth.authenticator import KeyAuthenticator
    from services.common.errors import Unauthorized
    from services.common.store.redis import RedisStore

    monkeypatch.setenv("ALSTREAM_STORE", "redis")
    monkeypatch.setenv("ALSTREAM_REDIS_URL", redis_url)
    monkeypatch.setenv("ALSTREAM_REDIS_PREFIX", redis_prefix)
    # main() runs its own event loop, so it runs in a thread here.
    assert await asyncio.to_thread(main, ["--json", "create", "--role", "reviewer",
                                          "--name", "alice"]) == 0
    created = json.loads(capsys.readouterr().out)
    token, key_id = created["token"], created["key"]["id"]
    assert await asyncio.to_thread(main, ["list"]) == 0
    assert f"{key_id}  reviewer  active" in capsys.readouterr().out

    class Req:
        headers = {"authorization": f"Bearer {token}"}

    store = RedisStore(redis_url, prefix=redis_prefix)
    await store.start()
    try:
        auth = KeyAuthenticator(store.keys)
        principal = await auth.authenticate(Req())  # type: ignore[arg-type]
        assert (principal.name, principal.role.value) == ("alice", "reviewer")
        assert await asyncio.to_thread(main, ["revoke", key_id]) == 0
        with pytest.raises(Unauthorized, match="revoked"):
            await auth.authenticate(Req())  # type: ignore[arg-type]
    finally:
        await store.stop()
