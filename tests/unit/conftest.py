from __future__ import annotations

import os

import httpx
import pytest

from services.common.bus import MemoryBus
from services.common.runtime import Service
from services.common.store import MemoryStore
from services.common.topics import Topics
from tests.fakes import HashingEncoder
from tests.helpers import eventually

__all__ = ["Running", "drain", "eventually"]


@pytest.fixture(autouse=True)
def _auth_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests of service behaviour call endpoints without API keys, as the embedded dev
    stack does; security tests (tests/unit/security) pass auth=True explicitly.

    Per test and undone after it, never os.environ at import: conftest files are imported
    while the whole session is collected, so a module-level setting reached every other
    directory's tests and every process they started (issue 10: the review-load benchmark's
    20 reviewers all became one "dev" principal and consolidated nothing, and the escaping
    page test only passed when unit tests were collected alongside it).
    """
    if "ALSTREAM_AUTH" not in os.environ:  # an explicit choice in the shell still wins
        monkeypatch.setenv("ALSTREAM_AUTH", "off")


@pytest.fixture
def topics() -> Topics:
    return Topics()


@pytest.fixture
async def bus(topics: Topics) -> MemoryBus:
    b = MemoryBus(partitions=3)
    await b.ensure_topics(topics)
    return b


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder()


async def drain(bus: MemoryBus, topic: str, group: str = "test-reader") -> list[bytes]:
    consumer = bus.consumer([topic], group)
    await consumer.start()
    values: list[bytes] = []
    while batch := await consumer.poll(1000, 0.05):
        values.extend(r.value for r in batch)
    await consumer.stop()
    return values


class Running:
    """A started service and an HTTP client on its ASGI app, stopped on exit."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app), base_url="http://test"
        )

    async def __aenter__(self) -> Running:
        await self.service.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.service.stop(timeout_s=5)


@pytest.fixture
def running() -> type[Running]:
    return Running

