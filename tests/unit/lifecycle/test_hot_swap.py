"""Hot swap stays invisible: /classify at concurrency 16 while the model changes several times
a second; no failure, every answer names a version that was actually promoted. The full
60-second run on the multi-process stack is in the freshness benchmark (docs/lifecycle.md)."""

from __future__ import annotations

import asyncio
import time

from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings
from tests.unit.conftest import eventually
from tests.unit.lifecycle.synth import Stream

SECONDS = 6.0


async def test_classify_under_load_while_versions_change(bus1, store, topics, encoder,
                                                         running):
    stream = Stream(k=3, dim=32, seed=11)
    settings = TrainerSettings(publish_interval_ms=100, keep_versions=1000)  # see all
    async with (running(build_trainer(settings, bus1, store)),
                running(build_scorer(ScorerSettings(), bus1, store, encoder=encoder)) as s):
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in stream.events(30)])
        await eventually(lambda: _serves(s))
        statuses: list[int] = []
        versions: set[int] = set()
        stop = time.monotonic() + SECONDS

        async def client(i: int) -> None:
            while time.monotonic() < stop:
                resp = await s.client.post("/v1/classify", json={"text": f"word{i} other"})
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    versions.add(resp.json()["model_version"])

        async def labeller() -> None:
            n = 1000
            while time.monotonic() < stop:
                await bus1.publish_many(topics.labels,
                                        [(e.item_id, e) for e in stream.events(5, start=n)])
                n += 5
                await asyncio.sleep(0.25)

        await asyncio.gather(labeller(), *(client(i) for i in range(16)))
        promoted = {r.version for r in await store.models.versions() if r.decision == "promoted"}
    assert statuses and all(code == 200 for code in statuses), sorted(set(statuses))
    assert len(versions) >= 4, versions  # the model changed under load, several times
    assert versions <= promoted  # only promoted versions were ever served
    print(f"{len(statuses)} requests, {len(versions)} versions served, 0 failures")


async def _serves(s) -> bool:
    return (await s.client.get("/v1/model")).json()["version"] > 0
