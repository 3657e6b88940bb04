"""All four services in one process, sharing one in-process bus and store.

This is the composition root: the only module that imports the services. They still talk only
through the bus and store contracts, exactly as in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.bus import Bus, make_bus
from services.common.encoding import Encoder
from services.common.runtime import Service
from services.common.store import Store, make_store
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from services.stack.settings import StackSettings
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings


@dataclass
class Stack:
    bus: Bus
    store: Store
    ingest: Service
    scorer: Service
    review: Service
    trainer: Service
    settings: StackSettings

    @property
    def services(self) -> list[Service]:
        return [self.ingest, self.scorer, self.review, self.trainer]

    def endpoints(self) -> list[tuple[Service, str, int]]:
        s = self.settings
        return [
            (self.ingest, s.http_host, s.ingest_port),
            (self.scorer, s.http_host, s.scorer_port),
            (self.review, s.http_host, s.review_port),
            (self.trainer, s.http_host, s.trainer_port),
        ]


def build_stack(
    settings: StackSettings,
    ingest: IngestSettings,
    scorer: ScorerSettings,
    review: ReviewSettings,
    trainer: TrainerSettings,
    encoder: Encoder | None = None,
) -> Stack:
    bus = make_bus(settings)
    store = make_store(settings)
    # One auth switch for the whole stack: the stack's (off by default in dev mode).
    auth = {"auth": settings.auth}
    return Stack(
        bus=bus,
        store=store,
        ingest=build_ingest(ingest.model_copy(update=auth), bus, store),
        scorer=build_scorer(scorer.model_copy(update=auth), bus, store, encoder=encoder),
        review=build_review_api(review.model_copy(update=auth), bus, store),
        trainer=build_trainer(trainer.model_copy(update=auth), bus, store),
        settings=settings,
    )
