"""The reviewer page shows hostile ids, texts and metadata as text, in a real browser.

Only the review API (memory bus and store, no model): an item whose id, text, metadata and
model output carry markup and script is rendered literally, runs nothing, and the label keys
still work on it.
"""

from __future__ import annotations

import pytest

from services.common.bus import MemoryBus
from services.common.runtime import hosting
from services.common.schemas import Reason, ReviewRequest
from services.common.store import MemoryStore
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from tests.e2e.test_review_page import ARGS, CHROMIUM, artifacts

pytestmark = pytest.mark.e2e
EVIL = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


@pytest.mark.timeout(120)
async def test_hostile_item_is_shown_as_text() -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    bus, store = MemoryBus(), MemoryStore()
    settings = ReviewSettings(label_set=["ok", EVIL[:40]])
    service = build_review_api(settings, bus, store)
    await store.queue.enqueue(ReviewRequest(
        item_id='https://x.org/"><b>id</b>', text=f"hello {EVIL}", embedding=[0.0],
        priority=0.5, reason=Reason.UNCERTAINTY, predicted_label=EVIL[:30],
        probabilities={EVIL[:30]: 0.6, "ok": 0.4}, metadata={EVIL[:20]: EVIL}))
    async with hosting([(service, "127.0.0.1", 0)], bus, store, settings.topics) as hosted:
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await browser.new_page(bypass_csp=False)
            dialogs: list[str] = []
            page.on("dialog", lambda d: dialogs.append(d.message))
            await page.goto(hosted.urls[0] + "/")
            await page.fill("#login-key", "mallory")
            await page.press("#login-key", "Enter")
            await page.wait_for_selector("#text:has-text('hello')")
            assert await page.text_content("#text") == f"hello {EVIL}"
            assert await page.text_content("#item-id") == 'https://x.org/"><b>id</b>'
            assert await page.locator("#text img, #text script, #meta img, #probs img").count() == 0
            assert await page.evaluate("window.pwned === undefined")
            await page.screenshot(path=str(artifacts() / "review-page-hostile.png"))
            await page.keyboard.press("1")
            await page.wait_for_selector("#empty:not([hidden])")
            assert dialogs == []
            await browser.close()
    done = await store.queue.stats()
    assert done.labeled == 1
