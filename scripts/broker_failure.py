"""Kafka broker failures under load, counted (issue 8): the long run behind docs/production.md.

Starts its own brokers (a 3-node KRaft cluster with replication factor 3 and min.insync.replicas
2, and/or a single broker), the multi-process stack (ingest, scorer, review API, trainer; Redis
on 6379 with a throwaway key prefix), streams real 20 Newsgroups documents through ingest while
a simulated reviewer labels, and meanwhile:
- cluster: kill -9 the leader of the labels partition, restart it once a third of the stream is
  acknowledged, wait until every partition is fully replicated, then the same for the active
  controller;
- single: stop the broker (SIGTERM) a third of the way in, start it again 3 s later.
Prints, per scenario, acknowledged documents without a prediction and acknowledged labels the
trainer never learned (both must be 0), duplicates, and the timeline. The pytest version
(tests/integration/test_broker_failure.py) runs the same code on 600 documents.

    nice -n 10 .venv/bin/python scripts/broker_failure.py --docs 5000 --rate 40 [--only cluster]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.datasets import load  # noqa: E402
from tests.fixtures.kafka import KafkaCluster, start_broker, start_cluster  # noqa: E402
from tests.fixtures.redis import delete_prefix, ensure_shared_redis  # noqa: E402
from tests.integration import failure  # noqa: E402
from tests.integration.conftest import make_stack  # noqa: E402


def documents(n: int, seed: int) -> list[tuple[str, str, str]]:
    rows = load("20ng", "train")  # all 20 classes: 11k documents
    random.Random(seed).shuffle(rows)
    if n > len(rows):
        raise SystemExit(f"only {len(rows)} documents available")
    return [(f"bf{seed}-{i}", r.text[:4000], r.label) for i, r in enumerate(rows[:n])]


async def scenario(name: str, n: int, rate: float, work: Path) -> dict[str, object]:
    redis_url = ensure_shared_redis()
    cluster: KafkaCluster = (start_cluster(3, base_dir=work / name, owns_dir=False)
                             if name == "cluster" else start_broker(work / name))
    stack = make_stack(cluster, redis_url, work / f"{name}-logs", f"bf-{name}")
    for svc, kind in [("ingest-0", "ingest"), ("scorer-0", "scorer"),
                      ("review-0", "review_api"), ("trainer-0", "trainer")]:
        stack.add(svc, kind)
    try:
        stack.start_all()
        disrupt = failure.two_broker_kills if name == "cluster" else failure.stop_and_start
        report = await failure.run(stack, cluster, documents(n, 1 if name == "cluster" else 2),
                                   rate, disrupt, settle_s=600)
        report["services_alive_after"] = all(s.alive() for s in stack.services.values())
        return {"scenario": name, "brokers": cluster.size, **report}
    finally:
        stack.stop_all()
        cluster.close()
        delete_prefix(redis_url, stack.redis_prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=40.0, help="documents per second offered")
    parser.add_argument("--only", choices=["cluster", "single"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="broker-failure-"))
    for name in [args.only] if args.only else ["cluster", "single"]:
        result = asyncio.run(scenario(name, args.docs, args.rate, work))
        print(json.dumps(result, indent=1), flush=True)
    print(f"logs: {work}")


if __name__ == "__main__":
    main()
