"""``python -m services.stack`` (``make run``): the embedded stack on localhost."""

from __future__ import annotations

import time

from services.common.logging import setup_logging
from services.common.runtime import run_or_exit, serve
from services.ingest.settings import IngestSettings
from services.review_api.settings import ReviewSettings
from services.scorer.settings import ScorerSettings
from services.stack.banner import banner, process_age_s
from services.stack.settings import StackSettings
from services.stack.stack import build_stack
from services.trainer.settings import TrainerSettings


def main() -> None:
    started = time.monotonic()
    settings = StackSettings()
    setup_logging("stack", settings.log_level, settings.log_format, settings.instance_id)
    stack = build_stack(settings, IngestSettings(), ScorerSettings(), ReviewSettings(),
                        TrainerSettings())

    def announce() -> None:
        print(banner(settings, process_age_s(time.monotonic() - started)), flush=True)

    run_or_exit(serve(stack.endpoints(), stack.bus, stack.store, settings.topics, announce))


if __name__ == "__main__":
    main()
