"""The micro-batcher's parts: lanes, queued entries, metrics (see batcher.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from services.common.encoding.base import Tokenized
from services.common.observability import Metrics

INTERACTIVE, STREAM = "interactive", "stream"
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_TOKEN_BUCKETS = (64, 256, 1024, 2048, 4096, 8192, 16384, 32768)
# Texts admitted but still being tokenized hold a batch's seal back for at most this long.
TOKENIZE_GRACE_S = 0.1


class BatcherMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self.batch_size = metrics.histogram(
            "scorer_batch_size", "Texts per encoder batch", buckets=_SIZE_BUCKETS
        )
        self.batch_tokens = metrics.histogram(
            "scorer_batch_padded_tokens", "Batch size x longest text, in tokens",
            buckets=_TOKEN_BUCKETS,
        )
        self.queue_wait = metrics.histogram(
            "scorer_batch_queue_wait_seconds", "From submission to the start of its batch",
            ["lane"],
        )
        self.encode_seconds = metrics.histogram(
            "scorer_batch_encode_seconds", "Model time per batch (padding excluded)"
        )
        self.rejected = metrics.counter(
            "scorer_batch_rejected_total", "Submissions refused with 429: queue full", ["lane"]
        )
        self.queue_depth = metrics.gauge(
            "scorer_batch_queue_depth", "Texts admitted and not yet in a batch", ["lane"]
        )


@dataclass(slots=True)
class Entry:
    item: Tokenized
    future: asyncio.Future[np.ndarray]
    enqueued: float
    lane: str


class Lane:
    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        self.entries: deque[Entry] = deque()
        self.reserved = 0  # admitted, still being tokenized

    @property
    def depth(self) -> int:
        return len(self.entries) + self.reserved


def fail(batch: list[Entry], exc: BaseException) -> None:
    for entry in batch:
        if not entry.future.done():
            entry.future.set_exception(exc)


def chunks(texts: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(texts), max(1, size)):
        yield texts[i : i + size]
