"""The review-load benchmark measures what its arguments say, whatever ALSTREAM_* the shell has.

Issue 10: an inherited ALSTREAM_AUTH=off merged its 20 key-holding reviewers into one "dev"
principal, so k=2 distinct votes never met and it consolidated nothing.
"""

from __future__ import annotations

import pytest

from services.bench.review_load import LABELS, bench_settings
from services.common.auth import Role
from services.common.auth.keys import new_key
from services.common.bus import MemoryBus
from services.common.schemas import Reason, ReviewRequest
from services.common.store import MemoryStore
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from tests.unit.conftest import Running, drain


def test_settings_come_from_the_arguments_not_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSTREAM_AUTH", "off")
    monkeypatch.setenv("ALSTREAM_VOTES_SCOPE", "audit")
    monkeypatch.setenv("ALSTREAM_CONSENSUS", "majority")
    monkeypatch.setenv("ALSTREAM_SPLIT_EXTRA_VOTES", "0")
    plain = ReviewSettings()  # the environment really is in effect for the service's own
    assert not plain.auth and plain.votes_scope == "audit" and plain.consensus == "majority"
    s = bench_settings("redis://127.0.0.1:1/0", "bench:", k=3, ttl_s=4.0)
    assert s.auth and s.votes_scope == "all" and s.consensus == "reliability"
    assert s.split_extra_votes == ReviewSettings.model_fields["split_extra_votes"].default
    assert (s.votes_needed, s.lease_ttl_s, s.redis_prefix) == (3, 4.0, "bench:")


def test_shell_store_setting_cannot_refuse_or_redirect_the_bench(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # ALSTREAM_STORE=redis with the dev signing key makes a service refuse to start; the
    # benchmark builds its own Redis stores and must not inherit that (or any) choice.
    monkeypatch.setenv("ALSTREAM_STORE", "redis")
    with pytest.raises(ValueError, match="refusing to start"):
        ReviewSettings()
    assert bench_settings("redis://127.0.0.1:1/0", "bench:", k=2, ttl_s=2.0).store == "memory"


async def test_two_keys_are_two_reviewers_with_auth_off_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSTREAM_AUTH", "off")
    settings = bench_settings("redis://127.0.0.1:1/0", "bench:", k=2, ttl_s=30.0)
    bus, store = MemoryBus(partitions=1), MemoryStore()
    await bus.ensure_topics(settings.topics)
    headers = {}
    for name in ("rev00", "rev01"):
        record, token = new_key(Role.REVIEWER, name)
        await store.keys.add(record)
        headers[name] = {"Authorization": f"Bearer {token}"}
    await store.queue.enqueue(ReviewRequest(
        item_id="load-0", text="t", embedding=[0.0, 1.0], priority=0.5,
        reason=Reason.UNCERTAINTY), votes_needed=2)
    async with Running(build_review_api(settings, bus, store)) as r:
        statuses = []
        for name in ("rev00", "rev01"):
            lease = await r.client.post("/v1/review/next", headers=headers[name])
            assert lease.status_code == 200, lease.text
            out = await r.client.post(f"/v1/review/leases/{lease.json()['lease_id']}/label",
                                      json={"label": LABELS[0]}, headers=headers[name])
            assert out.status_code == 200, out.text
            statuses.append(out.json()["status"])
        # One principal would have been excluded from the item after its vote (204 here)
        # and the item would never have reached its second vote.
        assert statuses == ["pending", "published"]
        published = await drain(bus, settings.topics.labels)
    assert len(published) == 1
