"""k annotators, the label-set admin, the audit trail, reviewer stats, the page."""

from __future__ import annotations

from services.common.schemas import LabelAction, LabelSource, Reason
from services.review_api.consensus import Vote, majority, weighted
from services.review_api.consensus_sim import HONEST, simulate
from tests.unit.review_api.conftest import (
    ADMIN,
    ALICE,
    BOB,
    label,
    labels_published,
    lease,
    request,
    start,
)

CAROL = {"X-Reviewer": "carol", "X-Role": "reviewer"}


async def test_k2_publishes_only_the_consolidated_label(settings, bus, store, topics, running):
    settings.votes_needed = 2
    r = await start(running, settings, bus, store, topics, [request("a", 0.9)])
    try:
        first = await label(r, await lease(r), "space")
        assert first.json()["status"] == "pending"
        assert await labels_published(bus, topics) == []  # a single vote never reaches the model
        item = await lease(r, BOB)
        assert (item["item_id"], item["votes"], item["votes_needed"]) == ("a", 1, 2)
        done = (await label(r, item, "space", who=BOB)).json()
        assert done["status"] == "published"
        (event,) = await labels_published(bus, topics)
        assert (event.label, event.source, event.reviewer) == ("space", LabelSource.CONSENSUS,
                                                               "consensus")
        assert event.event_id == done["published_event_id"] != done["event_id"]
        audit = (await r.client.get("/v1/audit/items/a", headers=ADMIN)).json()["records"]
        assert [x["action"] for x in audit] == ["lease", "label", "lease", "label", "consensus"]
        stats = (await r.client.get("/v1/review/reviewers", headers=ADMIN)).json()
        by_name = {x["reviewer"]: x for x in stats["reviewers"]}
        assert by_name["alice"]["labels"] == 1 and by_name["alice"]["kappa"] is not None
        assert stats["items"] == 1 and stats["fleiss_kappa"] is not None
        denied = await r.client.get("/v1/review/reviewers", headers=ALICE)
        assert denied.status_code == 403
    finally:
        await r.__aexit__()


async def test_split_vote_gets_one_more_look(settings, bus, store, topics, running):
    settings.votes_needed = 2
    settings.consensus = "majority"
    r = await start(running, settings, bus, store, topics, [request("a", 0.3),
                                                            request("b", 0.5)])
    try:
        a = await lease(r)
        assert a["item_id"] == "b"
        await label(r, a, "sports")
        a = await lease(r)
        await label(r, a, "space")
        b = await lease(r, BOB)  # b (one vote) outranks a
        assert b["item_id"] == "b"
        await label(r, b, "sports", who=BOB)
        b = await lease(r, BOB)
        split = (await label(r, b, "sports", who=BOB)).json()
        assert split["status"] == "reopened"
        c = await lease(r, CAROL)
        assert (c["item_id"], c["votes"], c["votes_needed"]) == ("a", 2, 3)
        assert c["priority"] > 1.0  # boosted above everything uncertain
        final = (await label(r, c, "space", who=CAROL)).json()
        assert final["status"] == "published"
        events = await labels_published(bus, topics)
        assert sorted((e.item_id, e.label) for e in events) == [("a", "space"), ("b", "sports")]
    finally:
        await r.__aexit__()


async def test_audit_only_scope(settings, bus, store, topics, running):
    settings.votes_needed = 2
    settings.votes_scope = "audit"
    r = await start(running, settings, bus, store, topics, [
        request("u", 0.9), request("au", 0.5, Reason.AUDIT)])
    try:
        u = await lease(r)
        assert u["votes_needed"] == 1
        au = await lease(r)
        assert (au["item_id"], au["votes_needed"]) == ("au", 2)
    finally:
        await r.__aexit__()


async def test_label_set_rename_merge_retire(review, bus, topics):
    item = await lease(review)
    await label(review, item, "space")
    resp = await review.client.post("/v1/labels/changes", headers=ADMIN,
                                    json={"op": "rename", "label": "Space", "into": "astro"})
    assert resp.status_code == 200, resp.text
    counts = {x["label"]: x["count"] for x in resp.json()["labels"]["labels"]}
    assert counts == {"sports": 0, "Politics": 0, "astro": 1}
    onto = await review.client.post("/v1/labels/changes", headers=ADMIN,
                                    json={"op": "rename", "label": "sports", "into": "Astro"})
    assert onto.status_code == 409 and "merge into it" in onto.json()["detail"]
    # The old name still resolves (to the new one); the model hears of the change in order.
    item = await lease(review)
    assert (await label(review, item, "space")).json()["label"] == "astro"
    merge = await review.client.post("/v1/labels/changes", headers=ADMIN,
                                     json={"op": "merge", "label": "astro", "into": "sports"})
    assert merge.status_code == 200
    retire = await review.client.post("/v1/labels/changes", headers=ADMIN,
                                      json={"op": "retire", "label": "Politics"})
    assert retire.status_code == 200
    item = await lease(review, BOB)
    refused = await label(review, item, "politics", who=BOB)
    assert refused.status_code == 422 and "retired" in refused.json()["detail"]
    # (this test bus has 3 partitions; the real labels topic has one, so log order is time order)
    events = sorted(await labels_published(bus, topics), key=lambda e: e.labeled_at)
    changes = [(e.change.op, e.change.label, e.change.into) for e in events
               if e.action is LabelAction.LABEL_SET and e.change]
    assert changes == [("rename", "space", "astro"), ("merge", "astro", "sports"),
                       ("retire", "Politics", None)]
    assert all(e.item_id.startswith("label-set:") and e.embedding == [] for e in events
               if e.action is LabelAction.LABEL_SET)
    forbidden = await review.client.post("/v1/labels/changes", headers=ALICE,
                                         json={"op": "retire", "label": "sports"})
    assert forbidden.status_code == 403
    spelling = await review.client.post("/v1/labels/changes", headers=ADMIN,
                                        json={"op": "rename", "label": "sports",
                                              "into": "Sports"})
    assert [x["label"] for x in spelling.json()["labels"]["labels"] if not x["retired"]] == \
        ["Sports"]
    audit = (await review.client.get("/v1/audit/reviewers/root", headers=ADMIN)).json()
    assert [x["detail"]["op"] for x in audit["records"]] == ["rename", "merge", "retire",
                                                             "rename"]


async def test_audit_by_item_with_slashes_is_admin_only(settings, bus, store, topics, running):
    r = await start(running, settings, bus, store, topics, [request("https://x.org/a/b", 0.5)])
    try:
        item = await lease(r)
        await label(r, item, "sports")
        path = "/v1/audit/items/https://x.org/a/b"
        assert (await r.client.get(path, headers=ALICE)).status_code == 403
        records = (await r.client.get(path, headers=ADMIN)).json()["records"]
        assert [(x["action"], x["actor"]) for x in records] == [("lease", "alice"),
                                                                ("label", "alice")]
    finally:
        await r.__aexit__()


async def test_page_is_served_with_a_strict_csp(review):
    page = await review.client.get("/")
    assert page.status_code == 200 and "<title>alstream" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = await review.client.get("/static/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text  # everything is written with textContent
    assert (await review.client.get("/static/../settings.py")).status_code == 404
    config = (await review.client.get("/page-config.json")).json()
    assert config["similar"] is False


def test_weighted_consensus_outvotes_a_known_bad_reviewer():
    votes = [Vote("good", "a"), Vote("bad1", "b"), Vote("bad2", "b")]
    assert majority(votes).label == "b"
    p = {"good": 0.95, "bad1": 0.3, "bad2": 0.3}
    assert weighted(votes, p, n_labels=4).label == "a"


def test_reliability_beats_majority_and_silences_the_adversary():
    result = simulate(items=1500, k=3, seed=1)
    assert result.weighted_accuracy > result.majority_accuracy + 0.03
    assert result.weights["adversary"] < 0.05
    # the one-coin estimate recovers each honest reviewer's accuracy, not just their order
    for reviewer, accuracy in HONEST.items():
        assert abs(result.estimated[reviewer] - accuracy) < 0.1, reviewer
    assert result.estimated["adversary"] < 0.05
