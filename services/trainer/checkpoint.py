"""Trainer checkpoints: the learner together with the label offsets it reflects, in one key.

Why: the model lives in memory, but the trainer commits its Kafka offsets after every batch. A
trainer killed between checkpoints would come back with a blank model and offsets past
everything it had learned. So, per batch: learn, save the checkpoint (learner + the next offset
per partition, one SET: atomic), and only then let the consumer loop commit. On start the
checkpoint is restored and redelivered records below its offsets are skipped, so every label is
learned exactly once across crashes. The checkpoint is a pickle, so it is HMAC-signed like
model artifacts and verified before it is unpickled.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.common.bus.base import Record
from services.common.errors import SignatureError
from services.common.signing import sha256_hex, sign, verify
from services.common.store import KeyValue
from services.trainer.learner import Learner

TP = tuple[str, int]


@dataclass
class TrainerState:
    learner: Learner
    offsets: dict[TP, int] = field(default_factory=dict)  # next offset not yet in the learner
    since_publish: int = 0
    saved_at: float = 0.0
    # Offset ranges a pin voided (services/trainer/pins.py): (partition, start, end).
    voids: list[tuple[int, int, int]] = field(default_factory=list)

    def is_new(self, record: Record) -> bool:
        """False for a redelivered record that the learner already reflects."""
        return record.offset >= self.offsets.get((record.topic, record.partition), 0)

    def advance(self, records: Iterable[Record]) -> None:
        for r in records:
            tp = (r.topic, r.partition)
            self.offsets[tp] = max(self.offsets.get(tp, 0), r.offset + 1)


class Checkpointer:
    """Saves and restores ``TrainerState`` under one key-value entry."""

    def __init__(self, kv: KeyValue, key: str, signing_key: bytes) -> None:
        self.kv = kv
        self.key = key
        self._signing_key = signing_key

    def _encode(self, state: TrainerState) -> bytes:
        payload = pickle.dumps(
            {"learner": state.learner, "since_publish": state.since_publish,
             "offsets": [[t, p, o] for (t, p), o in sorted(state.offsets.items())],
             "voids": [list(v) for v in state.voids]},
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        header = {"sha256": sha256_hex(payload), "signature": sign(payload, self._signing_key),
                  "saved_at": time.time()}
        return json.dumps(header).encode() + b"\n" + payload

    def _decode(self, blob: bytes) -> TrainerState:
        head, _, payload = blob.partition(b"\n")
        try:
            header = json.loads(head)
        except (ValueError, RecursionError):
            raise SignatureError("checkpoint header is not valid JSON") from None
        if not isinstance(header, dict):
            raise SignatureError("checkpoint header is not a JSON object")
        verify(payload, sha256=header.get("sha256"), signature=header.get("signature"),
               key=self._signing_key)  # before unpickling, always
        data = pickle.loads(payload)  # verified above: written by a holder of the key
        if not isinstance(data, dict) or not isinstance(data.get("learner"), Learner):
            raise SignatureError("checkpoint does not hold a Learner")
        try:
            return TrainerState(
                learner=data["learner"],
                offsets={(t, int(p)): int(o) for t, p, o in data["offsets"]},
                since_publish=int(data["since_publish"]),
                saved_at=float(header.get("saved_at", 0.0)),
                voids=[(int(p), int(a), int(b)) for p, a, b in data.get("voids", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"checkpoint content is malformed: {exc!r}") from None

    async def save(self, state: TrainerState) -> int:
        """Persist atomically; returns the checkpoint's size in bytes."""
        blob = await asyncio.to_thread(self._encode, state)
        await self.kv.set(self.key, blob)
        return len(blob)

    async def load(self) -> TrainerState | None:
        blob = await self.kv.get(self.key)
        if blob is None:
            return None
        return await asyncio.to_thread(self._decode, blob)
