"""Async face of the encoder for both the stream and /classify, over one micro-batcher.

Every text, whether from the Kafka stream or an HTTP request, goes through the same
``MicroBatcher`` (see batcher.py): the model sees a few large batches instead of many small
ones, and never runs on the event loop. ``interactive=True`` (HTTP) is refused with
``Overloaded`` (429) when the queue is full; the stream instead waits for room.
"""

from __future__ import annotations

import numpy as np

from services.common.encoding import Encoder
from services.scorer.batcher import BatcherMetrics, MicroBatcher


class Embedder:
    def __init__(
        self,
        encoder: Encoder,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
        max_wait_s: float = 0.002,
        interactive_capacity: int = 256,
        stream_capacity: int = 256,
        metrics: BatcherMetrics | None = None,
    ) -> None:
        self.encoder = encoder
        self.batch_size = batch_size
        self.batcher = MicroBatcher(
            encoder, max_batch_tokens=max_batch_tokens, max_batch_size=batch_size,
            max_wait_s=max_wait_s, interactive_capacity=interactive_capacity,
            stream_capacity=stream_capacity, metrics=metrics,
        )

    async def start(self) -> None:
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()

    async def embed(self, texts: list[str], *, interactive: bool = False) -> np.ndarray:
        return await self.batcher.encode(texts, interactive=interactive)
