"""``python -m services.stack`` (``make run``): the embedded stack on localhost."""

from __future__ import annotations

import logging
import time

from services.common.logging import setup_logging
from services.common.runtime import run_or_exit, serve
from services.common.settings import load_settings
from services.ingest.settings import IngestSettings
from services.review_api.settings import ReviewSettings
from services.scorer.settings import ScorerSettings
from services.stack.banner import banner, process_age_s
from services.stack.settings import StackSettings
from services.stack.stack import build_stack
from services.trainer.settings import TrainerSettings

log = logging.getLogger("services.stack")


def warn_dev_mode(settings: StackSettings) -> None:
    """Loud, on purpose: nobody should mistake the dev stack for a deployment."""
    problems = settings.insecure_reasons()
    if not problems:
        return
    bar = "!" * 78
    lines = [bar, "!! alstream embedded DEV stack: NOT SAFE ON A SHARED NETWORK", bar,
             *(f"!!  - {p}" for p in problems),
             "!! Fine on your own machine (it listens on " + settings.http_host + ").",
             "!! Production: ALSTREAM_BUS=kafka ALSTREAM_STORE=redis, a random 32+ byte",
             "!! ALSTREAM_SIGNING_KEY and API keys (docs/security.md).", bar]
    log.warning("\n%s", "\n".join(lines))


def main() -> None:
    started = time.monotonic()
    settings = load_settings(StackSettings)
    setup_logging("stack", settings.log_level, settings.log_format, settings.instance_id)
    warn_dev_mode(settings)
    review = load_settings(ReviewSettings)
    if review.scorer_url is None:  # the reviewer page's "similar items" come from our scorer
        review.scorer_url = f"http://{settings.http_host}:{settings.scorer_port}"
    stack = build_stack(settings, load_settings(IngestSettings), load_settings(ScorerSettings),
                        review, load_settings(TrainerSettings))

    def announce() -> None:
        print(banner(settings, process_age_s(time.monotonic() - started)), flush=True)

    run_or_exit(serve(stack.endpoints(), stack.bus, stack.store, settings.topics, announce))


if __name__ == "__main__":
    main()
