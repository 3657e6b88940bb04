from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from services.common.runtime import hosting
from services.stack.stack import Stack

pytestmark = pytest.mark.e2e


@dataclass
class Urls:
    ingest: str
    scorer: str
    review: str
    trainer: str


@asynccontextmanager
async def serving(stack: Stack) -> AsyncIterator[Urls]:
    """The stack on real loopback ports, through the same start-up and drain as `make run`."""
    endpoints = [(svc, "127.0.0.1", 0) for svc in stack.services]
    async with hosting(endpoints, stack.bus, stack.store, stack.settings.topics) as hosted:
        yield Urls(*hosted.urls)
