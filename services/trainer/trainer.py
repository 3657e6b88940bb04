"""The trainer's core: fold labels, publish debounced versions through the gate, pin and unpin.

Freshness (docs/lifecycle.md): labels are learned as they arrive; a version is published as soon
as a batch was learned, at most every ``publish_interval_ms`` (debounce), each a full signed
artifact. ``publish_interval_ms = 0`` restores the old cadence (every N labels or T seconds),
which the freshness benchmark uses as its baseline.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Callable
from datetime import datetime

from services.common.bus import Bus
from services.common.bus.runner import Item
from services.common.errors import Conflict, NotFound, SignatureError
from services.common.model import OnlineClassifier, dump_artifact, load_verified
from services.common.schemas import LabelEvent, ModelAnnouncement
from services.common.store import ModelRegistry, ServingState
from services.common.store.lineage import LabelFact, Lineage
from services.trainer.checkpoint import Checkpointer, TrainerState
from services.trainer.fold import Outcome
from services.trainer.gate import GateDecision
from services.trainer.learner import Learner
from services.trainer.metrics import TrainerMetrics
from services.trainer.pins import new_voids, save_voids
from services.trainer.publisher import Publisher
from services.trainer.replay import fold_records, read_log, voided
from services.trainer.semisup import Refiner
from services.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
_CHANGED = {Outcome.LEARNED, Outcome.REPLACED, Outcome.RETRACTED, Outcome.LABEL_SET}


class Trainer:
    def __init__(self, settings: TrainerSettings, learner: Learner, publisher: Publisher,
                 metrics: TrainerMetrics, checkpointer: Checkpointer | None = None, *,
                 bus: Bus | None = None, lineage: Lineage | None = None,
                 new_learner: Callable[[], Learner] | None = None,
                 refiner: Refiner | None = None) -> None:
        self.settings = settings
        self.publisher = publisher
        self.metrics = metrics
        # With a checkpointer the learner survives restarts together with the label offsets
        # it reflects (services/trainer/checkpoint.py).
        self.checkpointer = checkpointer
        self.bus = bus
        self.lineage = lineage
        self.refiner = refiner  # semi-supervised refinement before each publish (or None)
        self.new_learner = new_learner or (lambda: Learner(OnlineClassifier()))
        self.state = TrainerState(learner)
        self.version = 0  # the last version published (promoted or held)
        self.serving: ServingState | None = None
        self.last_decision: GateDecision | None = None
        self._unserved = False  # the live model has changes no promoted version has
        self._facts: dict[str, LabelFact] = {}  # lineage of labels since the last publish
        self._times: list[datetime] = []  # oldest, newest acceptance time since then
        self._last_publish = time.monotonic()
        # learn, pickle and pin must not interleave: one lock around the model.
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._dirty = asyncio.Event()

    @property
    def learner(self) -> Learner:
        return self.state.learner

    @property
    def since_publish(self) -> int:
        return self.state.since_publish

    @property
    def registry(self) -> ModelRegistry:
        return self.publisher.registry

    def _labels_offsets(self) -> dict[int, int]:
        topic = self.settings.topics.labels
        return {p: o for (t, p), o in self.state.offsets.items() if t == topic}

    async def handle(self, items: list[Item[LabelEvent]]) -> None:
        async with self._lock:
            # Records below the checkpointed offsets are already in the restored learner; records
            # in a range a pin voided are not part of the model's history.
            fresh = [i for i in items if self.state.is_new(i.record)
                     and not voided(i.record, self.state.voids)]
            events = [i.message for i in fresh]
            outcomes = await asyncio.to_thread(lambda: [self.learner.apply(e) for e in events])
            changed = 0
            for e, o in zip(events, outcomes, strict=True):
                self.metrics.applied.labels(o.value).inc()
                if o in _CHANGED:
                    changed += 1
                    self._remember(e, o)
            learned = [e.item_id for e, o in zip(events, outcomes, strict=True)
                       if o in (Outcome.LEARNED, Outcome.REPLACED)]
            self.metrics.learned.inc(len(learned))
            if self.refiner is not None:
                self.refiner.learned(learned)
            self.metrics.duplicates.inc(len(items) - len(fresh)
                                        + sum(o == Outcome.DUPLICATE for o in outcomes))
            self.metrics.prequential.set(self.learner.accuracy)
            self.metrics.prequential_recent.set(self.learner.recent_accuracy)
            self.state.since_publish += changed
            self.state.advance(i.record for i in items)
            if (self.settings.publish_interval_ms == 0
                    and self.since_publish >= self.settings.publish_every_labels):
                await self._publish()
            # Before the consumer loop commits these offsets: checkpoint first, commit after.
            await self.save_checkpoint()
        if changed:
            self._dirty.set()

    def _remember(self, e: LabelEvent, outcome: Outcome) -> None:
        if e.action == "label_set":
            return
        retracted = outcome == Outcome.RETRACTED
        self._facts[e.item_id] = LabelFact(
            item_id=e.item_id, event_id=(e.retracts or e.event_id) if retracted else e.event_id,
            label=e.label, reviewer=e.reviewer, source=e.source.value, labeled_at=e.labeled_at,
            status="retracted" if retracted else "learned", weight=e.weight,
        )
        self._times = [min(self._times[0], e.labeled_at), max(self._times[1], e.labeled_at)] \
            if self._times else [e.labeled_at, e.labeled_at]

    async def save_checkpoint(self) -> None:
        if self.checkpointer is not None:
            size = await self.checkpointer.save(self.state)
            self.metrics.checkpoint_bytes.set(size)

    async def restore(self) -> bool:
        """Load the last checkpoint and the serving state; True when a checkpoint was restored."""
        latest = await self.registry.latest()
        self.version = latest.version if latest else 0
        self.serving = await self.registry.serving()
        state = await self.checkpointer.load() if self.checkpointer else None
        if state is not None:
            self.state = state
            log.info("restored checkpoint: %d items labelled, offsets %s, %d voided ranges",
                     self.learner.n_learned, state.offsets, len(state.voids))
        if self.serving is not None:
            self.metrics.pinned.set(int(self.serving.pinned))
            try:
                record, artifact = await self.registry.get(self.serving.version)
                served = await asyncio.to_thread(
                    load_verified, artifact, sha256=record.sha256, signature=record.signature,
                    key=self.publisher.key)
                self.learner.gate.promoted(self.learner.fold.t, served)
            except (NotFound, SignatureError) as exc:  # the gate starts without a reference
                log.error("served version %d cannot be loaded: %s", self.serving.version, exc)
        if self.since_publish:
            self._dirty.set()  # learned before the crash, never published
        return state is not None

    def _decide(self) -> GateDecision:
        if self.serving is not None and self.serving.pinned:
            return GateDecision(False, f"held: version {self.serving.version} is pinned")
        return self.learner.gate.decide()

    async def _publish(self) -> ModelAnnouncement:
        """Store a version, let the gate decide, announce. Call with the lock held."""
        started = time.perf_counter()
        if self.refiner is not None:
            await self.refiner.before_publish(self.learner.model)
        decision = self._decide()
        model = self.learner.model
        artifact, sha256, signature = await asyncio.to_thread(
            dump_artifact, model, self.publisher.key)
        metrics = {"prequential_accuracy": self.learner.accuracy,
                   "prequential_accuracy_recent": self.learner.recent_accuracy}
        if decision.candidate_accuracy is not None and decision.serving_accuracy is not None:
            metrics |= {"gate_candidate_accuracy": decision.candidate_accuracy,
                        "gate_serving_accuracy": decision.serving_accuracy}
        label = "promoted" if decision.promote else "held"
        record = await self.publisher.store(
            artifact, sha256, signature, model.classes, self.learner.n_learned, metrics,
            self._labels_offsets(), label, decision.reason)
        if decision.promote:
            self.serving = ServingState(version=record.version, updated_at=time.time())
            # The gate may compare later labels with this exact model: our own bytes, a copy.
            self.learner.gate.promoted(self.learner.fold.t,
                                       await asyncio.to_thread(pickle.loads, artifact))
        serving = self.serving or ServingState(version=0)
        times = (self._times[0], self._times[1]) if self._times else None
        announcement = await self.publisher.announce(record, serving, label, decision.reason,
                                                     times)
        if self.lineage is not None and self._facts:
            facts = [f.model_copy(update={"learned_in_version": record.version})
                     if f.status == "learned" else f for f in self._facts.values()]
            await self.lineage.put_labels(facts)
        self._facts, self._times = {}, []
        self.version, self.last_decision = record.version, decision
        self._unserved = not decision.promote
        self.state.since_publish = 0
        self._last_publish = time.monotonic()
        await self.publisher.prune(self.serving)
        self.metrics.model_version.set(self.version)
        self.metrics.serving_version.set(serving.version)
        self.metrics.published.inc()
        self.metrics.gate_decisions.labels(label).inc()
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        log.log(logging.INFO if decision.promote else logging.WARNING,
                "version %d %s (%d items): %s", record.version, label, self.learner.n_learned,
                decision.reason)
        return announcement

    async def publish_loop(self) -> None:
        """Debounced publishing: as soon as labels were learned, at most every interval."""
        interval = self.settings.publish_interval_ms / 1000
        while not self._stop.is_set():
            dirty = asyncio.ensure_future(self._dirty.wait())
            stop = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({dirty, stop}, return_when=asyncio.FIRST_COMPLETED)
            dirty.cancel()
            stop.cancel()
            self._dirty.clear()
            wait = self._last_publish + interval - time.monotonic()
            if wait > 0 and not self._stop.is_set():
                await asyncio.sleep(wait)
            async with self._lock:
                if self.since_publish:
                    await self._publish()

    async def timer(self) -> None:
        """Legacy cadence: publish pending labels every publish_every_s."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
            due = time.monotonic() - self._last_publish >= self.settings.publish_every_s
            if self.since_publish and (due or self._stop.is_set()):
                async with self._lock:
                    if self.since_publish:
                        await self._publish()

    async def pin(self, version: int, by: str) -> ModelAnnouncement:
        """Serve ``version`` everywhere and continue learning from exactly its state."""
        if self.bus is None:
            raise Conflict("this trainer cannot pin: it has no bus to rebuild from")
        async with self._lock:
            record, artifact = await self.registry.get(version)  # NotFound: not retained
            if record.n_labels and not record.labels_offsets:
                raise Conflict(f"version {version} does not record its label offsets")
            model = await asyncio.to_thread(load_verified, artifact, sha256=record.sha256,
                                            signature=record.signature, key=self.publisher.key)
            voids = self.state.voids + new_voids(record.labels_offsets, self._labels_offsets())
            learner = self.new_learner()
            until = {int(p): o for p, o in record.labels_offsets.items()}
            async for records in read_log(self.bus, self.settings.topics.labels, until=until):
                await asyncio.to_thread(fold_records, learner, records, voids)
            learner.model = model  # N itself; the rebuilt fold supplies the per-item map
            learner.gate.reset(learner.fold.t, await asyncio.to_thread(pickle.loads, artifact))
            self.state.learner, self.state.voids = learner, voids
            self.state.since_publish, self._facts, self._times = 0, {}, []
            self.serving = ServingState(version=version, pinned=True, updated_at=time.time())
            self._unserved = False
            await self.save_checkpoint()
            if self.checkpointer is not None:
                await save_voids(self.checkpointer.kv, self.settings.consumer_group, voids)
            announcement = await self.publisher.announce(
                record, self.serving, "pinned", f"version {version} pinned by {by}")
            self.metrics.pinned.set(1)
            self.metrics.serving_version.set(version)
            self.metrics.gate_decisions.labels("pinned").inc()
            log.warning("version %d pinned by %s; voided label offsets %s", version, by, voids)
            return announcement

    async def unpin(self, by: str) -> ModelAnnouncement:
        async with self._lock:
            if self.serving is None or not self.serving.pinned:
                raise Conflict("no version is pinned")
            self.serving = ServingState(version=self.serving.version, updated_at=time.time())
            record, _ = await self.registry.get(self.serving.version)
            announcement = await self.publisher.announce(
                record, self.serving, "unpinned", f"unpinned by {by}")
            self.metrics.pinned.set(0)
            self.metrics.gate_decisions.labels("unpinned").inc()
            if self._unserved or self.since_publish:
                await self._publish()  # what was learned meanwhile goes through the gate now
            return announcement

    def stop(self) -> None:
        self._stop.set()
