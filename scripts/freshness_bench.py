"""Freshness benchmark on the multi-process stack (part of ``make bench``; docs/lifecycle.md).

Two stacks, one after the other in the same run, identical but for the trainer's publishing:
"ours" (debounced: a version as soon as labels were learned, at most every 200 ms) and the
"baseline" (the previous behaviour: every 20 labels or 30 s). Each: ingest, two scorers, review
API and trainer as separate processes on a Kafka broker and Redis.

A labelling client leases items from the review API and labels them at a steady rate; the
moment the review API answers is the label's acceptance time. Readers follow the labels topic
(item -> partition/offset) and the model announcements (version -> label offsets it reflects).
Pollers call /classify on every scorer replica every ``poll_ms``. A label is fresh on a replica
at the first /classify answer whose version reflects the label's offset; freshness = that time
minus the acceptance time (error: at most one poll interval). Also measured: CPU seconds of the
trainer and both scorers per label (the cost of the mechanism), and, for ours, /classify at
concurrency 16 while labels keep changing the model: failures and distinct versions.

    .venv/bin/python scripts/freshness_bench.py [--duration 60] [--rate 2] [--load 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.bus.kafka import KafkaBus  # noqa: E402
from services.common.schemas import LabelEvent, ModelAnnouncement  # noqa: E402
from tests.fixtures.redis import delete_prefix, ensure_shared_redis, unique_prefix  # noqa: E402
from tests.fixtures.stack import Stack  # noqa: E402
from tests.helpers import sample  # noqa: E402
from tests.integration.helpers import observer_settings  # noqa: E402

MODES = {
    "ours": {},
    "baseline": {"ALSTREAM_PUBLISH_INTERVAL_MS": "0", "ALSTREAM_PUBLISH_EVERY_LABELS": "20",
                 "ALSTREAM_PUBLISH_EVERY_S": "30"},
}


def start_kafka() -> Any:
    """Whichever broker the test fixtures provide (real Kafka, or the emulator before it)."""
    from tests.fixtures import kafka

    if hasattr(kafka, "start_broker"):
        return kafka.start_broker()
    return kafka.start_noida()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    accepted: dict[str, float] = field(default_factory=dict)  # item -> acceptance time
    position: dict[str, tuple[int, int]] = field(default_factory=dict)  # item -> (p, offset)
    offsets: dict[int, dict[str, int]] = field(default_factory=dict)  # version -> offsets
    decisions: dict[str, int] = field(default_factory=dict)
    polls: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # replica -> answers


async def follow(settings: Any, topic: str, handle: Any, stop: asyncio.Event) -> None:
    consumer = KafkaBus(settings).consumer([topic], f"bench-{uuid.uuid4().hex[:8]}",
                                           fetch_wait_ms=20)
    await consumer.start()
    try:
        while not stop.is_set():
            for r in await consumer.poll(500, 0.1):
                handle(r)
    finally:
        await consumer.stop()


async def label_one(client: httpx.AsyncClient, truth: dict[str, str]) -> str | None:
    """Lease and label one item (the review API's lease-id contract, or the older one)."""
    h = {"X-Reviewer": "bench"}
    resp = await client.post("/v1/review/next", headers=h)
    if resp.status_code == 405:
        resp = await client.get("/v1/review/next", headers=h)
    if resp.status_code != 200:
        return None
    item = resp.json()
    label = truth.get(item["item_id"])
    if "lease_id" in item:
        base = f"/v1/review/leases/{item['lease_id']}"
    else:
        base = f"/v1/review/{item['item_id']}"
    if label is None:
        await client.post(f"{base}/skip", headers=h)
        return None
    ok = await client.post(f"{base}/label", json={"label": label}, headers=h)
    return item["item_id"] if ok.status_code == 200 else None


async def measure(mode: str, broker: Any, redis_url: str, args: argparse.Namespace,
                  log_dir: Path) -> dict[str, Any]:
    tag = f"fresh-{mode}"
    stack = Stack(bootstrap=broker.bootstrap, redis_url=redis_url,
                  redis_prefix=unique_prefix(tag), topic_prefix=f"{tag}-{uuid.uuid4().hex[:6]}.",
                  log_dir=log_dir / mode,
                  extra_env={"ALSTREAM_PARTITIONS": "2", "ALSTREAM_LABEL_BUDGET": "1.0",
                             "ALSTREAM_LABEL_OPEN": "true",
                             "ALSTREAM_MAX_LENGTH": "128", "ALSTREAM_LEASE_TTL_S": "60",
                             "ALSTREAM_LOG_LEVEL": "WARNING", **MODES[mode]})
    for name, kind in [("ingest-0", "ingest"), ("scorer-0", "scorer"), ("scorer-1", "scorer"),
                       ("review-0", "review_api"), ("trainer-0", "trainer")]:
        stack.add(name, kind)
    run, stop = Run(), asyncio.Event()
    try:
        stack.start_all()
        n_labels = int(args.rate * (args.duration + args.load)) + 40
        rows = sample("train", int(n_labels * 1.5), 7, tag)
        print(f"[{mode}] stack up; ingesting {len(rows)} documents", flush=True)
        truth = {doc_id: label for doc_id, _, label in rows}
        # Production processes run with API keys (tests/fixtures/stack.py): the admin's for
        # ingest and /classify, a reviewer's for the review queue.
        async with httpx.AsyncClient(timeout=30.0, headers=stack.headers) as client:
            for i in range(0, len(rows), 50):
                await client.post(f"{stack['ingest-0'].url}/v1/documents", json={"documents": [
                    {"id": d, "text": t} for d, t, _ in rows[i:i + 50]]})
            settings = observer_settings(broker.bootstrap, stack.topic_prefix)

            def on_label(r: Any) -> None:
                e = LabelEvent.model_validate_json(r.value)
                run.position.setdefault(e.item_id, (r.partition, r.offset))

            def on_model(r: Any) -> None:
                a = ModelAnnouncement.model_validate_json(r.value)
                run.offsets[a.version] = a.labels_offsets
                run.decisions[a.decision] = run.decisions.get(a.decision, 0) + 1

            readers = [asyncio.create_task(follow(settings, stack.topic_prefix + t, h, stop))
                       for t, h in (("labels", on_label), ("model-announcements", on_model))]
            review = httpx.AsyncClient(base_url=stack["review-0"].url, timeout=30.0,
                                       headers=stack.reviewer_headers("bench"))
            # Enough routed items to label for the whole run (or whatever came in 5 minutes).
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                stats = (await review.get("/v1/review/stats")).json()
                if stats.get("depth", stats.get("queued", 0)) >= n_labels:
                    break
                await asyncio.sleep(1.0)
            print(f"[{mode}] review queue: {stats}; labelling", flush=True)
            # Warm-up: a first model on both replicas before measuring.
            for _ in range(10):
                await label_one(review, truth)
            await asyncio.sleep(3.0)

            async def poll(replica: str) -> None:
                url = f"{stack[replica].url}/v1/classify"
                out = run.polls.setdefault(replica, [])
                while not stop.is_set():
                    try:
                        r = await client.post(url, json={"text": "probe"})
                        if r.status_code == 200:
                            out.append((time.time(), r.json()["model_version"]))
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(args.poll_ms / 1000)

            pollers = [asyncio.create_task(poll(r)) for r in ("scorer-0", "scorer-1")]
            procs = [stack[n].proc.pid for n in ("trainer-0", "scorer-0", "scorer-1")]
            cpu0 = [cpu_seconds(p) for p in procs]
            started = time.monotonic()
            while time.monotonic() - started < args.duration:
                t0 = time.monotonic()
                item = await label_one(review, truth)
                if item is not None:
                    run.accepted[item] = time.time()
                await asyncio.sleep(max(0.0, 1 / args.rate - (time.monotonic() - t0)))
            labelled = len(run.accepted)
            cpu = [cpu_seconds(p) - c for p, c in zip(procs, cpu0, strict=True)]
            hot_swap = None
            print(f"[{mode}] {labelled} labels accepted", flush=True)
            if mode == "ours" and args.load > 0:
                hot_swap = await load_phase(stack, review, truth, args)
            await asyncio.sleep(max(5.0, 35.0 if mode == "baseline" else 5.0))  # settle
            stop.set()
            await asyncio.gather(*pollers, *readers, return_exceptions=True)
            await review.aclose()
        result = summarize(run, list(run.accepted))
        result.update({"labels": labelled, "decisions": run.decisions,
                       "cpu_s": {"trainer": cpu[0], "scorers": cpu[1] + cpu[2]},
                       "cpu_ms_per_label": 1000 * sum(cpu) / max(1, labelled),
                       "trainer_cpu_ms_per_label": 1000 * cpu[0] / max(1, labelled)})
        if hot_swap is not None:
            result["hot_swap"] = hot_swap
        return result
    finally:
        stop.set()
        stack.stop_all()
        delete_prefix(redis_url, stack.redis_prefix)


async def load_phase(stack: Stack, review: httpx.AsyncClient, truth: dict[str, str],
                     args: argparse.Namespace) -> dict[str, Any]:
    """/classify at concurrency 16 (8 per replica) while labels keep changing the model."""
    statuses: dict[int, int] = {}
    versions: set[int] = set()
    errors = 0
    stop_at = time.monotonic() + args.load
    latencies: list[float] = []

    async def client(i: int, c: httpx.AsyncClient) -> None:
        nonlocal errors
        url = f"{stack['scorer-' + str(i % 2)].url}/v1/classify"
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                r = await c.post(url, json={"text": f"space shuttle launch hockey goal {i}"})
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 200:
                versions.add(r.json()["model_version"])

    async def labeller() -> None:
        while time.monotonic() < stop_at:
            await label_one(review, truth)
            await asyncio.sleep(1 / args.rate)

    async with httpx.AsyncClient(timeout=60.0, headers=stack.headers) as c:
        await asyncio.gather(labeller(), *(client(i, c) for i in range(16)))
    total = sum(statuses.values()) + errors
    return {"seconds": args.load, "concurrency": 16, "requests": total,
            "failed": errors + sum(n for s, n in statuses.items() if s != 200),
            "status_counts": {str(k): v for k, v in statuses.items()},
            "distinct_versions": len(versions),
            "latency_p50_ms": 1000 * float(np.percentile(latencies, 50)) if latencies else None,
            "latency_p99_ms": 1000 * float(np.percentile(latencies, 99)) if latencies else None}


def freshness(accepted: float, position: tuple[int, int], polls: list[tuple[float, int]],
              offsets: dict[int, dict[str, int]]) -> float | None:
    """Seconds from acceptance to the first answer whose version reflects the label."""
    p, o = position
    for t, version in polls:
        if t >= accepted and offsets.get(version, {}).get(str(p), 0) > o:
            return t - accepted
    return None


def summarize(run: Run, items: list[str]) -> dict[str, Any]:
    values, missing = [], 0
    per_replica: dict[str, list[float]] = {}
    for item in items:
        if item not in run.position:
            missing += 1
            continue
        for replica, polls in run.polls.items():
            f = freshness(run.accepted[item], run.position[item], polls, run.offsets)
            if f is None:
                missing += 1
            else:
                values.append(f)
                per_replica.setdefault(replica, []).append(f)

    def pct(v: list[float], q: float) -> float | None:
        return round(float(np.percentile(v, q)), 3) if v else None

    return {"p50_s": pct(values, 50), "p99_s": pct(values, 99), "max_s": pct(values, 100),
            "samples": len(values), "never_seen": missing,
            "per_replica_p50_s": {r: pct(v, 50) for r, v in per_replica.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="labelling seconds")
    parser.add_argument("--rate", type=float, default=2.0, help="labels per second")
    parser.add_argument("--load", type=float, default=60.0, help="hot-swap phase seconds")
    parser.add_argument("--poll-ms", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    redis_url = ensure_shared_redis()
    broker = start_kafka()
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"freshness-{uuid.uuid4().hex[:6]}"
    started = time.time()
    try:
        results = {mode: asyncio.run(measure(mode, broker, redis_url, args, log_dir))
                   for mode in ("ours", "baseline")}
    finally:
        broker.stop()
    report = {"command": "make bench (scripts/freshness_bench.py)", "rate_labels_per_s":
              args.rate, "duration_s": args.duration, "poll_ms": args.poll_ms,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
              "load": os.getloadavg(), "cpus": os.cpu_count(),
              "broker": type(broker).__name__, **results,
              "extra_cpu_ms_per_label": results["ours"]["cpu_ms_per_label"]
              - results["baseline"]["cpu_ms_per_label"]}
    print(json.dumps(report, indent=2))
    write(report, args.out)


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "benchmarks.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["freshness"] = report
    path.write_text(json.dumps(data, indent=2) + "\n")
    o, b = report["ours"], report["baseline"]
    hs = o.get("hot_swap") or {}
    lines = [
        "", "## Freshness: label accepted -> served by every scorer replica (lifecycle)", "",
        f"Multi-process stack ({report.get('broker', 'Kafka')} broker + Redis, 2 scorers), "
        f"{report['rate_labels_per_s']} "
        f"labels/s for {report['duration_s']:.0f} s, /classify polled every "
        f"{report['poll_ms']:.0f} ms per replica; {report['started']}, load "
        f"{report['load'][0]:.1f} on {report['cpus']} CPUs. `scripts/freshness_bench.py`.", "",
        "| | p50 | p99 | max | samples | never seen | CPU ms/label (trainer) |",
        "|---|---|---|---|---|---|---|",
        *(f"| {name} | {r['p50_s']} s | {r['p99_s']} s | {r['max_s']} s | {r['samples']} | "
          f"{r['never_seen']} | {r['cpu_ms_per_label']:.0f} ({r['trainer_cpu_ms_per_label']:.0f})"
          f" |" for name, r in (("ours (debounced)", o), ("baseline (20 labels / 30 s)", b))),
        "", f"Extra CPU per label for the freshness mechanism (trainer + 2 scorers): "
        f"{report['extra_cpu_ms_per_label']:.0f} ms (CPU per label includes both runs' "
        f"identical /classify polling).", "",
    ]
    if hs:
        lines += [f"Hot swap under load: /classify at concurrency {hs['concurrency']} for "
                  f"{hs['seconds']:.0f} s while labels kept arriving: {hs['requests']} requests, "
                  f"{hs['failed']} failed or 5xx, {hs['distinct_versions']} distinct versions "
                  f"served, latency p50 {hs['latency_p50_ms']:.0f} ms / p99 "
                  f"{hs['latency_p99_ms']:.0f} ms.", ""]
    md = out / "benchmarks.md"
    text = md.read_text() if md.exists() else "# Benchmarks\n"
    marker = "\n## Freshness: label accepted"
    text = text.split(marker)[0].rstrip("\n") + "\n"
    md.write_text(text + "\n".join(lines))


if __name__ == "__main__":
    main()
