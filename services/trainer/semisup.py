"""The trainer's side of the semi-supervised refinement: the window of unlabeled items.

Fed from the observations topic (every scorer publishes the embeddings of a share of what it
scores); an item leaves the window when its label is learned. Before each publish the model
refines its class means on the window (services/common/lda_semisup.py), so the version
announced is the refined one and the gate judges it like any other change.

The window is soft state: it is not checkpointed (a few MB of embeddings in every checkpoint
would slow the label path), so after a restart refinement waits until ``min_items`` new
observations arrived; the model's refined means themselves are in the checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from services.common.bus.runner import Item
from services.common.lda_semisup import RefineConfig, Refinement
from services.common.model import OnlineClassifier
from services.common.schemas import Observation
from services.common.unlabeled import UnlabeledWindow
from services.trainer.metrics import TrainerMetrics

log = logging.getLogger(__name__)


class Refiner:
    def __init__(self, config: RefineConfig, metrics: TrainerMetrics,
                 labelled: Callable[[str], bool]) -> None:
        self.config = config
        self.metrics = metrics
        self.window = UnlabeledWindow(config.window)
        self._labelled = labelled  # whether the model already holds a label for an item id

    async def observe(self, items: list[Item[Observation]]) -> None:
        """Consumer handler of the observations topic."""
        for item in items:
            o = item.message
            if not self._labelled(o.item_id):
                self.window.add(o.item_id, o.embedding)
        self.metrics.unlabeled_window.set(len(self.window))

    def learned(self, item_ids: Iterable[str]) -> None:
        for item_id in item_ids:
            self.window.discard(item_id)
        self.metrics.unlabeled_window.set(len(self.window))

    async def before_publish(self, model: OnlineClassifier) -> Refinement | None:
        """Refine ``model`` in place on the window; call with the trainer's lock held."""
        if len(self.window) < self.config.min_items:
            self.metrics.refinements.labels("skipped").inc()
            return None
        X = self.window.matrix()
        done = await asyncio.to_thread(model.refine, X, self.config)
        self.metrics.refinements.labels("applied" if done.applied else "rejected").inc()
        if done.loss_before is not None and done.loss_after is not None:
            self.metrics.refine_gain.set(done.loss_before - done.loss_after)
        log.debug("refinement on %d unlabeled items: %s (%s -> %s)", len(X), done.reason,
                  done.loss_before, done.loss_after)
        return done
