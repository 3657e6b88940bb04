"""The reviewer page in a real headless Chromium against the embedded stack (real model).

Logs in, labels three items by keyboard, undoes one and relabels it, skips one, checks what
reached the labels topic and the trainer, and saves a screenshot as a test artifact
(``ALSTREAM_ARTIFACTS``, default .run/artifacts). Uses the system Chromium through
Playwright's Python package (never ``playwright install``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from services.common.schemas import LabelAction, LabelEvent
from services.ingest.settings import IngestSettings
from services.review_api.settings import ReviewSettings
from services.scorer.settings import ScorerSettings
from services.stack.settings import StackSettings
from services.stack.stack import build_stack
from services.trainer.settings import TrainerSettings
from tests.e2e.conftest import CHROMIUM, serving
from tests.helpers import CLASSES, eventually, sample

pytestmark = pytest.mark.e2e
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def artifacts() -> Path:
    path = Path(os.environ.get("ALSTREAM_ARTIFACTS", ".run/artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.timeout(600)
async def test_review_page_in_a_real_browser(playwright_api: ModuleType) -> None:
    docs = sample("train", 40, seed=3, tag="page")
    truth = {i: label for i, _, label in docs}
    stack = build_stack(
        StackSettings(), IngestSettings(), ScorerSettings(max_length=128),
        ReviewSettings(label_set=CLASSES, lease_ttl_s=120),
        TrainerSettings(publish_every_labels=1, publish_every_s=1.0),
    )
    async with serving(stack) as urls, httpx.AsyncClient(timeout=60) as client:
        stack.review.state["deps"].settings.scorer_url = urls.scorer  # similar items
        batch = [{"id": i, "text": t} for i, t, _ in docs]
        resp = await client.post(f"{urls.ingest}/v1/documents", json={"documents": batch})
        assert resp.status_code == 202, resp.text

        async def queued(n: int) -> bool:
            return bool((await stack.store.queue.stats()).depth >= n)

        await eventually(lambda: queued(6), timeout_s=300, what="6 items queued for review")

        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            # bypass_csp: Playwright's wait_for_function evaluates strings in the page, which
            # our CSP (no eval) rightly forbids; the page itself needs no exception.
            page = await browser.new_page(viewport={"width": 1360, "height": 900},
                                          bypass_csp=True)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(urls.review + "/")
            await page.fill("#login-key", "alice")
            await page.press("#login-key", "Enter")
            await page.wait_for_selector("#workspace:not([hidden])")

            async def current() -> str:
                await page.wait_for_function(
                    "document.getElementById('item-id').textContent.length > 0")
                return await page.text_content("#item-id") or ""

            async def label_by_key(item_id: str) -> None:
                await page.keyboard.press(str(CLASSES.index(truth[item_id]) + 1))
                await page.wait_for_function(
                    "id => document.getElementById('item-id').textContent !== id", arg=item_id)

            labelled = []
            for _ in range(3):
                item_id = await current()
                labelled.append(item_id)
                await label_by_key(item_id)
            await page.wait_for_function(
                "document.querySelectorAll('#history li .lbl').length === 3")
            # Undo the last label: the same item comes back, leased to us; label it again.
            shown_before_undo = await current()
            await page.keyboard.press("u")
            await page.wait_for_function(
                "id => document.getElementById('item-id').textContent === id", arg=labelled[-1])
            await label_by_key(labelled[-1])
            # We return to the item we had on screen before the undo; skip it.
            assert await current() == shown_before_undo
            await page.keyboard.press("s")
            await page.wait_for_function(
                "id => document.getElementById('item-id').textContent !== id",
                arg=shown_before_undo)
            await page.wait_for_function(
                "document.getElementById('st-mine').textContent === '3'")
            await page.wait_for_function(  # similar items arrive from the scorer
                "document.querySelectorAll('#similar li .lbl').length > 0", timeout=90_000)
            shot = artifacts() / "review-page.png"
            await page.screenshot(path=str(shot), full_page=False)
            assert not errors, errors
            await browser.close()

        # What the review API guarantees: three labels, one retraction, one relabel, in order.
        reader = stack.bus.consumer([stack.settings.topics.labels], "page-test-reader")
        await reader.start()
        events: list[LabelEvent] = []
        for _ in range(20):
            events += [LabelEvent.model_validate_json(r.value) for r in await reader.poll(100, 0.1)]
        events.sort(key=lambda e: e.labeled_at)
        assert [(e.action, e.item_id) for e in events] == [
            (LabelAction.LABEL, labelled[0]), (LabelAction.LABEL, labelled[1]),
            (LabelAction.LABEL, labelled[2]), (LabelAction.RETRACT, labelled[2]),
            (LabelAction.LABEL, labelled[2])]
        assert events[3].retracts == events[2].event_id
        assert all(e.reviewer == "alice" and e.label == truth[e.item_id] for e in events)

        # The trainer applied all five records: the retraction forgot the undone label, so
        # three labels are learned (one per item), not four.
        async def applied() -> bool:
            status = (await client.get(f"{urls.trainer}/v1/status")).json()
            return bool(sum(status["label_offsets"].values()) >= len(events))

        await eventually(applied, timeout_s=60, what="labels applied by the trainer")
        status = (await client.get(f"{urls.trainer}/v1/status")).json()
        print(f"\ntrainer status after the page test: {status}; screenshot {shot}")
        assert status["labels_learned"] == 3
        await asyncio.sleep(0)
