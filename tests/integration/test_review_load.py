"""20 reviewers on the Redis queue with k=2 for 15 s, some walking away mid-lease.

The 2-minute run is ``python -m services.bench.review_load`` (numbers in docs/reviewing.md).
"""

from __future__ import annotations

import pytest

from services.bench.review_load import run_load

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
async def test_twenty_reviewers_k2_no_double_lease_no_lost_label(redis_url, redis_prefix):
    report = await run_load(redis_url, redis_prefix, duration_s=15, reviewers=20, k=2,
                            items=600, ttl_s=4.0, seed=7)
    print(f"\n{report}")
    assert report.errors == []
    assert report.double_leases == 0
    assert report.lost_votes == 0
    assert report.published_twice == 0
    assert report.leased_at_end == 0 and report.unaccounted == 0
    assert report.consolidated >= 20 and report.abandoned >= 3
    assert report.votes_acked >= 2 * report.consolidated
