"""Embeddings computed once per (model, text): a content-addressed cache on disk.

Vectors live in append-only ``.npz`` shards under ``<root>/<model key>/``; a shard is written
every few batches, so an interrupted first pass keeps what it already computed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EncodeFn = Callable[[list[str]], np.ndarray]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """``get(texts)`` returns the vectors, encoding only texts not seen before with this model."""

    def __init__(self, root: Path, model_key: str, shard_every: int = 2000) -> None:
        self.root = root
        self.model_key = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_key)
        self.shard_every = shard_every
        self._dir = root / self.model_key
        self._vectors: dict[str, np.ndarray] | None = None

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            for shard in sorted(self._dir.glob("*.npz")):
                with np.load(shard) as data:
                    for key, vec in zip(data["keys"], data["vecs"], strict=True):
                        self._vectors[str(key)] = vec
        return self._vectors

    def _write(self, keys: list[str], vecs: np.ndarray) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = self._dir / f".{uuid.uuid4().hex}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vecs=vecs.astype(np.float32))
        tmp.replace(self._dir / f"shard-{uuid.uuid4().hex}.npz")

    def missing(self, texts: list[str]) -> list[str]:
        known = self._load()
        seen: set[str] = set()
        out = []
        for t in texts:
            k = text_key(t)
            if k not in known and k not in seen:
                seen.add(k)
                out.append(t)
        return out

    def get(
        self,
        texts: list[str],
        encode: EncodeFn | None = None,
        batch_size: int = 32,
        progress: bool = True,
    ) -> np.ndarray:
        known = self._load()
        todo = self.missing(texts)
        if todo:
            if encode is None:
                raise LookupError(f"{len(todo)} texts are not cached for {self.model_key}")
            self._encode(todo, encode, batch_size, progress)
        return np.stack([known[text_key(t)] for t in texts]) if texts else np.zeros((0, 0))

    def _encode(self, todo: list[str], encode: EncodeFn, batch_size: int, progress: bool) -> None:
        from tqdm import tqdm

        known = self._load()
        # Sorting by length keeps padding (wasted compute) small within each batch.
        todo = sorted(todo, key=len)
        pending_keys: list[str] = []
        pending_vecs: list[np.ndarray] = []
        bar = tqdm(total=len(todo), desc=f"embedding ({self.model_key})", unit="text",
                   disable=not progress)
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            vecs = np.asarray(encode(batch), dtype=np.float32)
            for t, v in zip(batch, vecs, strict=True):
                k = text_key(t)
                known[k] = v
                pending_keys.append(k)
                pending_vecs.append(v)
            bar.update(len(batch))
            if len(pending_keys) >= self.shard_every:
                self._write(pending_keys, np.stack(pending_vecs))
                pending_keys, pending_vecs = [], []
        if pending_keys:
            self._write(pending_keys, np.stack(pending_vecs))
        bar.close()


def model_identity(path: str) -> str:
    """A readable name plus a fingerprint of the config and weights, so a different model (or
    a retrained one at the same path) never reuses another model's vectors."""
    root = Path(path.rstrip("/"))
    name = root.name if root.name not in ("model", "onnx", "") else f"{root.parent.name}"
    digest = hashlib.sha256()
    for f in sorted(root.glob("*.json")):
        digest.update(f.name.encode() + f.read_bytes())
    for f in sorted(root.glob("*.safetensors")) + sorted(root.glob("*.bin")):
        digest.update(f"{f.name}:{f.stat().st_size}".encode())
        with f.open("rb") as fh:
            digest.update(fh.read(1 << 20))
    return f"{name}-{digest.hexdigest()[:10]}"


def default_cache(root: Path, max_length: int = 256, model_path: str | None = None) -> tuple[
    EmbeddingCache, Callable[[], EncodeFn]
]:
    """The cache for the scorer's encoder, and a lazy factory for that encoder (loading torch
    only when something is actually missing)."""
    from services.common.encoding import default_model_path

    path = model_path or default_model_path()
    key = f"{model_identity(path)}-len{max_length}"

    def factory() -> EncodeFn:
        import torch

        from services.common.encoding import make_encoder

        torch.set_num_threads(2)
        return make_encoder("torch", model_path=path, device="cpu", max_length=max_length).encode

    return EmbeddingCache(root, key), factory
