"""The baselines: what the scorer did before the micro-batcher, kept for comparison only."""

from __future__ import annotations

import asyncio
import pickle
import time
from pathlib import Path

import numpy as np

from services.common.encoding import Encoder
from services.common.model import OnlineClassifier, dump_artifact
from services.common.store import ModelRecord, Store


class PerRequestEmbedder:
    """One encoder call per request, one at a time, on a worker thread: no batching."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._lock = asyncio.Lock()

    async def embed(self, texts: list[str], *, interactive: bool = False) -> np.ndarray:
        async with self._lock:
            return await asyncio.to_thread(self.encoder.encode, texts)


BENCH_KEY = b"bench-signing-key"


def train(vectors: np.ndarray, labels: list[str]) -> OnlineClassifier:
    model = OnlineClassifier()
    for vector, label in zip(vectors, labels, strict=True):
        model.learn_one(vector, label)
    return model


def save_model(model: OnlineClassifier, path: Path) -> None:
    path.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def load_model(path: Path) -> OnlineClassifier:
    model = pickle.loads(path.read_bytes())  # a file this benchmark run wrote itself
    if not isinstance(model, OnlineClassifier):
        raise TypeError(f"{path} holds {type(model).__name__}, not OnlineClassifier")
    return model


async def register(store: Store, model: OnlineClassifier, key: bytes = BENCH_KEY) -> int:
    """Sign and register the benchmark model, as the trainer would."""
    data, sha, sig = dump_artifact(model, key)
    version = await store.models.next_version()
    await store.models.put(ModelRecord(
        version=version, sha256=sha, signature=sig, classes=model.classes,
        n_labels=model.n_learned, created_at=time.time()), data)
    return version
