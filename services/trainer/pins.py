"""Pinning (rollback): what a pin does to the labels log, stored where replay finds it.

Pinning version N at the moment the trainer has consumed the labels topic up to offset P makes
the records in [offset of N, P) *void*: the trainer's learner is reset to exactly N's state (N's
artifact, and the per-item fold rebuilt by replaying the log up to N's offsets) and later labels
build on it. The voided ranges are kept in the trainer checkpoint and under one key-value entry,
so replay skips the same records and reproduces the live model (docs/lifecycle.md).
"""

from __future__ import annotations

import json

from services.common.store import KeyValue
from services.trainer.replay import Void


def voids_key(group: str) -> str:
    return f"trainer:{group}:voids"


async def load_voids(kv: KeyValue, group: str) -> list[Void]:
    raw = await kv.get(voids_key(group))
    return [] if raw is None else [(int(p), int(a), int(b)) for p, a, b in json.loads(raw)]


async def save_voids(kv: KeyValue, group: str, voids: list[Void]) -> None:
    await kv.set(voids_key(group), json.dumps([list(v) for v in voids]).encode())


def new_voids(pinned_offsets: dict[str, int], consumed: dict[int, int]) -> list[Void]:
    """The ranges a pin voids: from N's offsets up to what the trainer has consumed."""
    out = []
    for p, end in sorted(consumed.items()):
        start = pinned_offsets.get(str(p), 0)
        if end > start:
            out.append((p, start, end))
    return out
