"""Helpers every test directory uses: real data samples, polling, reading /metrics."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable

from services.common.datasets import load

CLASSES = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.politics.mideast"]


def sample(split: str, n: int, seed: int, tag: str) -> list[tuple[str, str, str]]:
    """n (id, text, label) rows of 20 Newsgroups, shuffled reproducibly."""
    rows = load("20ng", split, classes=CLASSES)
    random.Random(seed).shuffle(rows)
    return [(f"{tag}-{i}", r.text[:4000], r.label) for i, r in enumerate(rows[:n])]


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 60,
                     every_s: float = 0.2, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every_s)
    raise AssertionError(f"{what} not reached within {timeout_s}s")


def metric(text: str, name: str, default: float | None = None) -> float:
    """Sum of a Prometheus series over its labels (``default`` when the series is absent)."""
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([0-9.e+-]+)$", line)
        if m:
            total, found = total + float(m.group(2)), True
    if not found and default is not None:
        return default
    assert found, f"{name} missing from /metrics"
    return total
