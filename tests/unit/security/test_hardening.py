"""Regression tests for what probing found: malformed signed artifacts, slow clients, bulk
buffering and recursion, ids with '/'."""

from __future__ import annotations

import asyncio
import json
import pickle
import socket
import time
from urllib.parse import quote

import pytest

from services.common.bus import MemoryBus
from services.common.errors import SignatureError
from services.common.model import OnlineClassifier, dump_artifact, load_verified
from services.common.runtime import Service, hosting
from services.common.settings import CommonSettings
from services.common.signing import sha256_hex, sign, verify
from services.common.store import MemoryStore
from services.common.topics import Topics
from services.ingest.ndjson import TooLong, read_lines
from services.trainer.checkpoint import Checkpointer
from tests.unit.security.conftest import Secured, lease, lease_base

KEY = b"k" * 32


# -- signed artifacts ----------------------------------------------------------------------
@pytest.mark.parametrize(("sha", "sig"), [
    (None, None), (123, "a" * 64), ("a" * 64, {"x": 1}), ("", ""), ("zz" * 32, "a" * 64),
    ("A" * 65, "a" * 64), (["a"], "a" * 64),
])
def test_malformed_signature_fields_are_signature_errors(sha: object, sig: object) -> None:
    data = pickle.dumps(OnlineClassifier())
    with pytest.raises(SignatureError):
        verify(data, sha256=sha, signature=sig, key=KEY)
    with pytest.raises(SignatureError):
        load_verified(data, sha256=sha, signature=sig, key=KEY)  # type: ignore[arg-type]


def test_a_validly_signed_artifact_of_the_wrong_type_is_a_signature_error() -> None:
    data = pickle.dumps({"not": "a model"})
    with pytest.raises(SignatureError):
        load_verified(data, sha256=sha256_hex(data), signature=sign(data, KEY), key=KEY)
    model, sha, sig = dump_artifact(OnlineClassifier(), KEY)
    assert isinstance(load_verified(model, sha256=sha, signature=sig, key=KEY), OnlineClassifier)


@pytest.mark.parametrize("blob", [
    b"", b"\n", b"not json\npayload", b"[1,2]\npayload", b'"str"\npayload', b"{}\npayload",
    b'{"sha256": null}\npayload', b'{"sha256": 1, "signature": 2}\npayload',
    b"[" * 100_000 + b"\npayload", b'{"sha256": "' + b"a" * 64 + b'"}\npayload',
    b"\xff\xfe\n\x80", b'{"sha256": NaN, "signature": Infinity}\npayload',
])
async def test_a_malformed_checkpoint_is_a_signature_error(blob: bytes) -> None:
    store = MemoryStore()
    await store.kv.set("ckpt", blob)
    with pytest.raises(SignatureError):
        await Checkpointer(store.kv, "ckpt", KEY).load()


async def test_a_signed_checkpoint_with_malformed_content_is_a_signature_error() -> None:
    store = MemoryStore()
    payload = pickle.dumps({"learner": None})
    header = json.dumps({"sha256": sha256_hex(payload), "signature": sign(payload, KEY)})
    await store.kv.set("ckpt", header.encode() + b"\n" + payload)
    with pytest.raises(SignatureError):
        await Checkpointer(store.kv, "ckpt", KEY).load()


# -- slow clients --------------------------------------------------------------------------
async def test_a_client_that_never_finishes_its_headers_is_disconnected() -> None:
    from fastapi import FastAPI

    from services.common.slowclients import uvicorn_options

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.state.uvicorn_options = uvicorn_options(0.5, 1, 100, 8192)
    service = Service(name="slow", app=app)
    async with hosting([(service, "127.0.0.1", 0)], MemoryBus(), MemoryStore(),
                       Topics()) as hosted:
        host, port = hosted.urls[0].removeprefix("http://").split(":")

        def slowloris() -> float:
            started = time.monotonic()
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
                for _ in range(40):  # a header line every 0.1 s, never the blank line
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                        time.sleep(0.1)
                        if sock.recv(1024, socket.MSG_DONTWAIT) == b"":
                            break
                    except BlockingIOError:
                        continue
                    except OSError:
                        break
            return time.monotonic() - started

        def normal() -> bytes:
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return sock.recv(4096)

        took = await asyncio.to_thread(slowloris)
        assert took < 3.0  # closed after ~0.5 s, not after the client's 4 s
        assert b"200 OK" in await asyncio.to_thread(normal)  # normal requests unaffected


def test_the_http_limits_come_from_settings() -> None:
    from services.common.slowclients import HeaderDeadlineH11, uvicorn_options

    s = CommonSettings()
    options = uvicorn_options(s.http_header_timeout_s, s.http_keep_alive_s,
                              s.http_max_connections, s.http_max_header_bytes)
    assert issubclass(options["http"], HeaderDeadlineH11)
    assert options["http"].header_timeout_s == 10.0
    assert (options["timeout_keep_alive"], options["limit_concurrency"],
            options["h11_max_incomplete_event_size"]) == (5, 1000, 65_536)


# -- bulk ingest ---------------------------------------------------------------------------
async def _chunks(data: bytes, size: int = 65_536):  # type: ignore[no-untyped-def]
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def test_an_unterminated_huge_line_is_read_in_linear_time() -> None:
    data = b"x" * (64 * 1_048_576)  # 64 MiB, no newline: took seconds when buffered
    started = time.process_time()
    out = [line async for line in read_lines(_chunks(data), 1_048_576, 256 * 1_048_576)]
    took = time.process_time() - started
    assert len(out) == 1 and isinstance(out[0], TooLong)
    assert took < 3.0, took  # linear: ~1000 chunks, each scanned once


async def test_many_small_chunks_of_one_line_are_not_quadratic() -> None:
    line = b'{"text": "' + b"y" * 500_000 + b'"}\n'
    started = time.process_time()
    out = [x async for x in read_lines(_chunks(line, 64), 1_048_576, 10_000_000)]
    assert out == [line[:-1]] and time.process_time() - started < 3.0


# -- ids with '/' are addressable end to end -----------------------------------------------
async def test_an_item_id_with_slashes_can_be_labeled(secured: Secured) -> None:
    odd = "https://example.com/news/2024/01/item?x=1"
    await secured.queue(odd)
    review = secured.clients["review"]
    leased = await lease(secured, "alice")
    assert leased["item_id"] == odd
    # by lease id (lease contract) or by the quoted id through {item_id:path}
    base = lease_base(secured, {**leased, "item_id": quote(odd, safe="/:")})
    for action, body in [("heartbeat", None), ("label", {"label": "space"})]:
        resp = await review.post(f"{base}/{action}", json=body, headers=secured.h("alice"))
        assert resp.status_code == 200, (action, resp.text)
    stats = (await review.get("/v1/review/stats", headers=secured.h("alice"))).json()
    assert stats["labeled"] == 1 and stats["depth"] == 0
    resp = await secured.clients["scorer"].get(
        "/v1/similar", params={"item_id": odd}, headers=secured.h("alice"))
    assert resp.status_code in (200, 404)  # addressable (indexed or not yet), never a 5xx
