"""Fakes for unit tests: fast and deterministic, never a stand-in for a contract test."""

from __future__ import annotations

import zlib

import numpy as np

from services.common.encoding import Encoder


class HashingEncoder(Encoder):
    """Bag of hashed words: texts sharing words get similar unit vectors, like a real encoder."""

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim
        self.name = f"hashing:{dim}"
        self.calls: list[int] = []

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                h = zlib.crc32(word.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else 1.0 / np.sqrt(self.dim)
        return out
