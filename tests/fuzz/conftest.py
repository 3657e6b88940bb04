"""The four services with keys on, served by uvicorn on loopback ports from a background
thread of the test process, for schemathesis.

Why not schemathesis's ASGI transport: it runs each call in a fresh TestClient event loop,
while a service's state (micro-batcher, consumer loops, in-memory bus) lives on the loop it
was started on. One loop in one thread, real HTTP over 127.0.0.1, no extra processes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from services.common.bus import MemoryBus
from services.common.runtime import hosting
from services.common.store import MemoryStore
from services.common.topics import Topics
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings
from tests.fakes import HashingEncoder

ADMIN_KEY = "fuzz-bootstrap-admin-key-0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _settings() -> dict[str, Any]:
    # Rate limits off: the fuzzer drives one key hard; 429s would hide what it looks for.
    return {"auth": True, "bootstrap_admin_key": ADMIN_KEY, "rate_limits": False}


class ServerThread:
    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fuzz-servers", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        topics, bus, store = Topics(), MemoryBus(partitions=3), MemoryStore()
        s = _settings()
        services = {
            "ingest": build_ingest(IngestSettings(**s), bus, store),
            "scorer": build_scorer(ScorerSettings(**s, classify_max_chars=5000), bus, store,
                                   encoder=HashingEncoder()),
            "review_api": build_review_api(ReviewSettings(**s), bus, store),
            "trainer": build_trainer(TrainerSettings(**s), bus, store),
        }
        endpoints = [(svc, "127.0.0.1", 0) for svc in services.values()]
        async with hosting(endpoints, bus, store, topics) as hosted:
            self.urls = dict(zip(services, hosted.urls, strict=True))
            self._ready.set()
            await self._stop.wait()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(120) or self._error is not None:
            raise RuntimeError(f"fuzz servers did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerThread]:
    thread = ServerThread().start()
    try:
        yield thread
    finally:
        thread.stop()


@dataclass
class FuzzResult:
    operations: int
    examples: int  # requests sent, hypothesis's shrinking of a failure included
    failures: int  # operations with at least one failure
    seconds: float


RESULTS: dict[str, FuzzResult] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per service and a total, so a run's size is on record (docs/security.md)."""
    if not RESULTS:
        return
    write = terminalreporter.write_line
    write("fuzz: service operations examples failures seconds")
    for name, r in RESULTS.items():
        write(f"fuzz: {name} {r.operations} {r.examples} {r.failures} {r.seconds:.1f}")
    total = [sum(getattr(r, f) for r in RESULTS.values())
             for f in ("operations", "examples", "failures", "seconds")]
    write(f"fuzz: total {total[0]} {total[1]} {total[2]} {total[3]:.1f}")
