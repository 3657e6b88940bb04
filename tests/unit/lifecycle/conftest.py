from __future__ import annotations

import pytest

from services.common.bus import MemoryBus
from services.common.topics import Topics


@pytest.fixture
async def bus1(topics: Topics) -> MemoryBus:
    """One partition per topic, as the labels topic has in production: a deterministic log."""
    b = MemoryBus(partitions=1)
    await b.ensure_topics(topics)
    return b
