"""``python -m services.stack`` (``make run``): the embedded stack on localhost."""

from __future__ import annotations

from services.common.logging import setup_logging
from services.common.runtime import run_or_exit, serve
from services.ingest.settings import IngestSettings
from services.review_api.settings import ReviewSettings
from services.scorer.settings import ScorerSettings
from services.stack.settings import StackSettings
from services.stack.stack import build_stack
from services.trainer.settings import TrainerSettings


def main() -> None:
    settings = StackSettings()
    setup_logging("stack", settings.log_level, settings.log_format, settings.instance_id)
    stack = build_stack(settings, IngestSettings(), ScorerSettings(), ReviewSettings(),
                        TrainerSettings())

    def announce() -> None:
        h = settings.http_host
        print(
            "\nalstream embedded stack is up (in-process bus and store; Ctrl-C to stop)\n"
            f"  ingest      http://{h}:{settings.ingest_port}/docs   POST /v1/documents\n"
            f"  scorer      http://{h}:{settings.scorer_port}/docs   POST /v1/classify\n"
            f"  review API  http://{h}:{settings.review_port}/docs   GET  /v1/review/next\n"
            f"  trainer     http://{h}:{settings.trainer_port}/docs   GET  /v1/status\n"
            "  metrics     /metrics on each of them\n",
            flush=True,
        )

    run_or_exit(serve(stack.endpoints(), stack.bus, stack.store, settings.topics, announce))


if __name__ == "__main__":
    main()
