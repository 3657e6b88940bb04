"""Replay: rebuild the model from the labels topic, from offset 0 or from a trainer checkpoint.

``alstream-replay`` / ``python -m services.trainer.replay``. The same fold as the live trainer
(services/trainer/fold.py) over the same records in the same order, retractions and label-set
changes included, skipping the offset ranges a pin voided (services/trainer/pins.py), gives the
same model: ``--compare`` checks it against the trainer's checkpoint for exactly the labels the
checkpoint reflects and prints the largest difference of any statistic (docs/lifecycle.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import numpy as np
from pydantic import ValidationError

from services.common.bus import Bus, Record
from services.common.schemas import LabelEvent
from services.trainer.learner import Learner

Void = tuple[int, int, int]  # (partition, first offset, end offset): records a pin dropped


def voided(record: Record, voids: Iterable[Void]) -> bool:
    return any(p == record.partition and a <= record.offset < b for p, a, b in voids)


async def read_log(bus: Bus, topic: str, *, start: dict[int, int] | None = None,
                   until: dict[int, int] | None = None, idle_s: float = 2.0,
                   timeout_s: float = 120.0, batch: int = 2000) -> AsyncIterator[list[Record]]:
    """Batches of the topic's records from the beginning (skipping those below ``start``),
    up to ``until`` (exclusive, per partition) or until nothing arrived for ``idle_s``."""
    start = start or {}
    consumer = bus.consumer([topic], f"replay-{uuid.uuid4().hex[:12]}", from_beginning=True,
                            fetch_wait_ms=50)
    await consumer.start()
    seen: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    began = last = loop.time()
    try:
        while True:
            if until is not None and all(seen.get(p, 0) >= o for p, o in until.items()):
                return
            records = await consumer.poll(batch, 0.2)
            now = loop.time()
            if not records:
                if until is None and now - last > idle_s:
                    return
                if now - began > timeout_s:
                    raise TimeoutError(f"{topic}: offsets {until} not reached in {timeout_s}s")
                continue
            last = now
            out = []
            for r in records:
                seen[r.partition] = max(seen.get(r.partition, 0), r.offset + 1)
                if r.offset < start.get(r.partition, 0):
                    continue
                if until is not None and r.offset >= until.get(r.partition, 0):
                    continue
                out.append(r)
            if out:
                yield out
    finally:
        await consumer.stop()


def fold_records(learner: Learner, records: list[Record], voids: Iterable[Void],
                 evaluate: bool = False) -> int:
    """Apply the records to the learner as the trainer does; returns how many were applied.
    Undecodable records are skipped (the live trainer dead-letters them)."""
    voids = list(voids)
    applied = 0
    for r in records:
        if voids and voided(r, voids):
            continue
        try:
            event = LabelEvent.model_validate_json(r.value)
        except ValidationError:
            continue
        learner.apply(event, evaluate=evaluate)
        applied += 1
    return applied


def state_distance(a: Any, b: Any) -> float:
    """Largest absolute difference between two models' statistics (inf if shapes differ)."""
    return largest_difference(a, b)[0]


def largest_difference(a: Any, b: Any, path: str = "") -> tuple[float, str]:
    """``state_distance`` and where it is (e.g. ``._learner._g2``)."""
    if hasattr(a, "__dict__") and not isinstance(a, (np.ndarray, dict, list, tuple)):
        if type(a) is not type(b):
            return math.inf, path
        sa, sb = a.__getstate__(), b.__getstate__()
        sa = sa if isinstance(sa, dict) else vars(a)
        sb = sb if isinstance(sb, dict) else vars(b)
        return largest_difference(sa, sb, path)
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return math.inf, path
        return max((largest_difference(a[k], b[k], f"{path}.{k}") for k in a),
                   default=(0.0, path))
    if isinstance(a, np.ndarray):
        if not isinstance(b, np.ndarray) or a.shape != b.shape:
            return math.inf, path
        return (float(np.max(np.abs(a - b))) if a.size else 0.0), path
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return math.inf, path
        return max((largest_difference(x, y, f"{path}[{i}]")
                    for i, (x, y) in enumerate(zip(a, b, strict=True))), default=(0.0, path))
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return (abs(float(a) - float(b)) if isinstance(b, (int, float)) else math.inf), path
    return (0.0 if a == b else math.inf), path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alstream-replay", description=__doc__.split("\n")[0])
    parser.add_argument("--from-checkpoint", action="store_true",
                        help="start from the trainer's checkpoint instead of offset 0")
    parser.add_argument("--compare", action="store_true",
                        help="rebuild up to the checkpoint's offsets and compare with it")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    from services.common.runtime import limit_blas
    from services.trainer.settings import TrainerSettings

    settings = TrainerSettings()
    limit_blas(settings.blas_threads)
    result = asyncio.run(_run(settings, args.from_checkpoint, args.compare))
    print(json.dumps(result) if args.json else _table(result))


def _table(result: dict[str, Any]) -> str:
    return "\n".join(f"{k:>24}: {v}" for k, v in result.items())


async def _run(settings: Any, from_checkpoint: bool, compare: bool) -> dict[str, Any]:
    from services.common.bus import make_bus
    from services.common.store import make_store
    from services.trainer.pins import load_voids
    from services.trainer.service import checkpointer_for, new_learner

    bus, store = make_bus(settings), make_store(settings)
    await store.start()
    await bus.start()
    try:
        voids = await load_voids(store.kv, settings.consumer_group)
        checkpoint = await checkpointer_for(settings, store).load()
        learner, start = new_learner(settings), {}
        if from_checkpoint and checkpoint is not None:
            learner = checkpoint.learner
            start = {p: o for (_, p), o in checkpoint.offsets.items()}
        until = ({p: o for (_, p), o in checkpoint.offsets.items()}
                 if compare and checkpoint is not None else None)
        started, applied = time.perf_counter(), 0
        async for records in read_log(bus, settings.topics.labels, start=start, until=until):
            applied += fold_records(learner, records, voids)
        seconds = time.perf_counter() - started
        result: dict[str, Any] = {
            "records_applied": applied, "seconds": round(seconds, 3),
            "labels_per_s": round(applied / seconds, 1) if seconds else None,
            "items_labelled": learner.n_learned, "classes": learner.model.classes,
            "voided_ranges": voids, "offsets": {str(p): o for p, o in (until or {}).items()},
        }
        if compare and checkpoint is not None:
            diff, where = largest_difference(learner.model, checkpoint.learner.model)
            result["max_abs_difference_vs_checkpoint"] = diff
            result["largest_difference_in"] = where
        return result
    finally:
        await bus.stop()
        await store.stop()


if __name__ == "__main__":
    main()
