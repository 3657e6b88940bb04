from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from services.common.runtime import hosting
from services.stack.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def playwright_api() -> ModuleType:
    """Playwright's async API driving Debian's chromium. Without a browser the test skips on a
    developer machine, but fails where ALSTREAM_REQUIRE_BROWSER is set (.ci/run installs
    chromium and sets it), so CI can never pass the browser tests by skipping them."""
    required = os.environ.get("ALSTREAM_REQUIRE_BROWSER") == "1"
    problem = None
    if not Path(CHROMIUM).exists():
        problem = "Debian chromium is not installed (apt-get install chromium)"
    try:
        import playwright.async_api as api
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem is not None:
        if required:
            pytest.fail(problem)
        pytest.skip(problem)
    return api


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
