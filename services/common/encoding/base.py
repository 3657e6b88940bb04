"""The encoder interface: texts in, L2-normalized float32 embeddings out.

Encoders are blocking (torch, ONNX Runtime); async callers run them in a worker thread.

``encode(texts)`` is ``run(collate(tokenize(texts)))``. A batcher uses the three steps apart, as
text-embeddings-inference does: each text is tokenized once, when it is submitted (which also
gives its token count for the batch budget), on a host thread while the model runs the
previous batch; a batch is then only padded (``collate``) and run. Encoders without host-side
work (test fakes) keep the defaults, which just carry the text through.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Tokenized:
    """One text after truncation: its token ids (None for encoders that take raw text)."""

    text: str
    n_tokens: int
    ids: Sequence[int] | None = None


class Encoder(ABC):
    name: str
    dim: int
    device: str = "cpu"  # where the model runs: "cpu" or "cuda[:n]"

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, unit-norm rows."""

    @abstractmethod
    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text will use after truncation (for token-budget batching)."""

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        """Per-text host work, done once per text; thread-safe."""
        return [Tokenized(t, n) for t, n in zip(texts, self.count_tokens(texts), strict=True)]

    def collate(self, items: list[Tokenized]) -> Any:
        """A model-ready batch (padded arrays) from tokenized texts; thread-safe."""
        return [item.text for item in items]

    def run(self, batch: Any) -> np.ndarray:
        """The model on a collated batch; rows in the order of ``collate``'s input."""
        return self.encode(batch)
