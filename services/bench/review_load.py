"""Many reviewers on the Redis-backed review queue at once, through the real review API.

``python -m services.bench.review_load --duration 120`` (numbers in docs/reviewing.md); the
integration suite runs a 15 s version. Two review API instances (as two processes would be)
share one Redis prefix; N simulated reviewers lease, label (with a known accuracy), skip, and
some walk away mid-lease. Each item needs k votes. Checked:

- every reviewer votes under its own API key's identity (the settings come from the arguments
  only, never the environment: see BenchSettings);
- no item is ever leased to two reviewers at once (each lease is checked, on receipt, against
  every other reviewer's live lease as the clients saw them);
- no acknowledged label is lost: every vote answered 200 is among the item's stored votes;
- at the end, with every lease expired, each item is consolidated (one published label) or
  back in the queue: nothing stays leased, nothing is published twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field

import httpx
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from services.common.auth import Role
from services.common.auth.keys import new_key
from services.common.bus import MemoryBus
from services.common.runtime import Service
from services.common.schemas import LabelEvent, Reason, ReviewRequest
from services.common.store.redis import RedisStore
from services.common.store.redis_queue import stored_votes
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings

LABELS = ["a", "b", "c", "d"]


@dataclass
class LoadReport:
    reviewers: int
    k: int
    duration_s: float
    items: int
    leases: int = 0
    votes_acked: int = 0
    skips: int = 0
    abandoned: int = 0  # leases walked away from (expired, item requeued)
    stale_answers: int = 0  # 409s on leases that had expired meanwhile
    voters: int = 0  # distinct reviewer identities among the stored votes: one per reviewer
    double_leases: int = 0
    lost_votes: int = 0
    consolidated: int = 0
    reopened: int = 0
    requeued_at_end: int = 0
    leased_at_end: int = 0
    published_twice: int = 0
    touched: int = 0  # items leased at least once
    touched_requeued: int = 0  # of those, back in the queue at the end (expired, skipped, k-1)
    unaccounted: int = 0  # touched items neither published nor queued: must be 0
    consensus_accuracy: float = 0.0
    errors: list[str] = field(default_factory=list)


class BenchSettings(ReviewSettings):
    """ReviewSettings from the benchmark's arguments only, never the shell's ALSTREAM_* vars.

    The numbers must mean what the command line says. Read from the environment, an inherited
    ALSTREAM_AUTH=off (a dev shell, or a test session) made every reviewer the one "dev"
    principal: the reviewer cap handed 20 clients the same lease, the item, once voted, was
    excluded for its only voter, and k=2 distinct votes never came (0 consolidated); an
    ALSTREAM_VOTES_SCOPE=audit would likewise turn k=2 into k=1 (issue 10).
    """

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def bench_settings(redis_url: str, prefix: str, k: int, ttl_s: float) -> BenchSettings:
    # Each simulated reviewer is identified by its own API key, as in production.
    return BenchSettings(auth=True, lease_ttl_s=ttl_s, votes_needed=k, votes_scope="all",
                         label_set=LABELS, stats_interval_s=0.5, max_leases_per_reviewer=2,
                         redis_url=redis_url, redis_prefix=prefix,
                         # This measures the queue under contention, not the per-key rate
                         # limits (tests/unit/security covers those).
                         rate_limits=False)


@dataclass
class _Live:
    reviewer: str
    expires_at: float


async def run_load(redis_url: str, prefix: str, duration_s: float = 120.0, reviewers: int = 20,
                   k: int = 2, items: int = 3000, ttl_s: float = 2.0, seed: int = 0,
                   vanish: float = 0.08) -> LoadReport:
    rng = random.Random(seed)
    report = LoadReport(reviewers=reviewers, k=k, duration_s=duration_s, items=items)
    bus = MemoryBus(partitions=1)
    settings = bench_settings(redis_url, prefix, k, ttl_s)
    await bus.ensure_topics(settings.topics)
    stores = [RedisStore(redis_url, prefix=prefix) for _ in range(2)]
    services: list[Service] = []
    for store in stores:
        await store.start()
        services.append(build_review_api(settings, bus, store))
    for svc in services:
        await svc.start()
    tokens: dict[str, str] = {}  # reviewer name -> API key: identity comes from the key
    for n in range(reviewers):
        record, token = new_key(Role.REVIEWER, f"rev{n:02d}")
        await stores[0].keys.add(record)
        tokens[record.name] = token
    truth = {f"load-{i}": rng.choice(LABELS) for i in range(items)}
    for item_id, _ in truth.items():
        await stores[0].queue.enqueue(ReviewRequest(
            item_id=item_id, text=f"text {item_id}", embedding=[0.0, 1.0],
            priority=rng.random(), reason=Reason.UNCERTAINTY), votes_needed=k)
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=s.app), base_url="http://t",
                                 timeout=30) for s in services]
    live: dict[str, dict[str, _Live]] = {}  # item -> lease id -> holder, as clients saw it
    acked: dict[str, set[str]] = {}  # item -> vote event ids answered 200
    deadline = time.monotonic() + duration_s

    async def reviewer(n: int) -> None:
        name = f"rev{n:02d}"
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        accuracy = 0.75 + 0.2 * rng.random()
        while time.monotonic() < deadline:
            client = rng.choice(clients)  # either API process
            resp = await client.post("/v1/review/next", headers=headers)
            if resp.status_code == 204:
                await asyncio.sleep(0.05)
                continue
            if resp.status_code != 200:
                report.errors.append(f"next {resp.status_code} {resp.text[:100]}")
                continue
            item = resp.json()
            item_id, lease_id = item["item_id"], item["lease_id"]
            now = time.time()
            holders = live.setdefault(item_id, {})
            others = [h for lid, h in holders.items()
                      if lid != lease_id and h.expires_at > now + 0.05]
            if others:
                report.double_leases += 1
                report.errors.append(f"{item_id} leased to {name} while {others[0].reviewer} "
                                     "held it")
            if lease_id not in holders:
                report.leases += 1
            holders[lease_id] = _Live(name, item["expires_at"])
            await asyncio.sleep(rng.uniform(0.0, 0.04))  # reading time
            roll = rng.random()
            if roll < vanish:  # walks away: the lease must expire and the item come back
                report.abandoned += 1
                await asyncio.sleep(ttl_s * rng.uniform(1.0, 1.5))
                continue
            if rng.random() < 0.2:  # a slow reader keeps the lease alive
                beat = await client.post(f"/v1/review/leases/{lease_id}/heartbeat",
                                         headers=headers)
                if beat.status_code == 200:
                    holders[lease_id] = _Live(name, beat.json()["expires_at"])
            # From the moment the answer is sent the lease may end (with k > 1 the item is
            # requeued at once), so it stops counting as held before the request, not after.
            holders.pop(lease_id, None)
            if roll < vanish + 0.05:
                out = await client.post(f"/v1/review/leases/{lease_id}/skip", headers=headers)
                if out.status_code == 204:
                    report.skips += 1
                elif out.status_code == 409:
                    report.stale_answers += 1
                continue
            right = truth[item_id]
            choice = right if rng.random() < accuracy else rng.choice(
                [c for c in LABELS if c != right])
            out = await client.post(f"/v1/review/leases/{lease_id}/label",
                                    json={"label": choice}, headers=headers)
            if out.status_code == 200:
                report.votes_acked += 1
                acked.setdefault(item_id, set()).add(out.json()["event_id"])
            elif out.status_code == 409:
                report.stale_answers += 1
            else:
                report.errors.append(f"label {out.status_code} {out.text[:100]}")

    try:
        await asyncio.gather(*[reviewer(n) for n in range(reviewers)])
        await asyncio.sleep(ttl_s + 0.5)  # every walked-away lease expires
        await check(report, stores[0], acked, truth, bus, settings, set(live))
    finally:
        for c in clients:
            await c.aclose()
        for svc in services:
            await svc.stop(timeout_s=5)
        for store in stores:
            await store.stop()
    return report


async def check(report: LoadReport, store: RedisStore, acked: dict[str, set[str]],
                truth: dict[str, str], bus: MemoryBus, settings: ReviewSettings,
                touched: set[str]) -> None:
    client = store.client
    votes_key = f"{store.prefix}queue:votes"
    voters: set[str] = set()
    for item_id, events in acked.items():
        # Parsed as the store parses it (an empty Lua table comes back as "{}", not "[]").
        votes = stored_votes(await client.hget(votes_key, item_id) or "[]")
        report.lost_votes += len(events - {v.event_id for v in votes})
        voters.update(v.reviewer for v in votes)
    report.voters = len(voters)
    stats = await store.queue.stats()
    report.requeued_at_end, report.leased_at_end = stats.depth, stats.leased
    consumer = bus.consumer([settings.topics.labels], f"check-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    published: list[LabelEvent] = []
    while batch := await consumer.poll(5000, 0.2):
        published += [LabelEvent.model_validate_json(r.value) for r in batch]
    await consumer.stop()
    per_item = Counter(e.item_id for e in published)
    report.published_twice = sum(1 for n in per_item.values() if n > 1)
    report.consolidated = len(per_item)
    queued = {i.item_id for i in await store.queue.queued(len(truth))}
    report.touched = len(touched)
    report.touched_requeued = len(touched & queued)
    report.unaccounted = len(touched - queued - set(per_item))
    report.consensus_accuracy = round(
        sum(truth[e.item_id] == e.label for e in published) / max(1, len(published)), 4)
    audit_reopens = 0
    for item_id in acked:
        audit_reopens += sum(r.action == "reopen" for r in await store.audit.by_item(item_id))
    report.reopened = audit_reopens
    report.errors = report.errors[:20]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--ttl", type=float, default=2.0, help="lease TTL in seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    prefix = f"review-load-{uuid.uuid4().hex[:8]}:"
    started = time.monotonic()
    try:
        report = asyncio.run(run_load(args.redis_url, prefix, args.duration, args.reviewers,
                                      args.k, args.items, ttl_s=args.ttl, seed=args.seed))
    finally:
        import redis

        raw = redis.Redis.from_url(args.redis_url)
        for key in raw.scan_iter(match=f"{prefix}*", count=500):
            raw.delete(key)
    print(json.dumps({**asdict(report), "wall_s": round(time.monotonic() - started, 1)},
                     indent=1))


if __name__ == "__main__":
    main()
