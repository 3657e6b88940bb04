"""Issue 13: no routing blackout after cold start, on the scorer itself (memory bus).

Before the fix, a scorer whose first model arrived while its uncertainty history was full of
the model-less period's 1.0s (and whose cold start had spent the warm-up allowance) routed
nothing for hundreds of documents: threshold 1.0, an empty review queue."""

from __future__ import annotations

import numpy as np

from services.common.model import OnlineClassifier
from services.common.schemas import Document, Prediction
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.unit.conftest import drain, eventually
from tests.unit.scorer.test_scorer import register

TOPICS = {"space": "rocket orbit launch nasa moon shuttle",
          "hockey": "puck goal ice team season playoff",
          "food": "bread flour yeast oven loaf butter"}
BUDGET = 0.1


def documents(start: int, n: int, rng: np.random.Generator) -> list[tuple[Document, str]]:
    out = []
    for i in range(start, start + n):
        label = list(TOPICS)[int(rng.integers(3))]
        words = [*rng.choice(TOPICS[label].split(), size=3).tolist(),
                 *[f"w{rng.integers(40)}" for _ in range(3)], f"id{i}"]
        out.append((Document(id=f"doc-{i:05d}", text=" ".join(words)), label))
    return out


async def test_routing_resumes_at_the_budget_rate_after_the_first_model(bus, store, topics,
                                                                      encoder, running):
    # No near-duplicate suppression: every document reaches the router.
    settings = ScorerSettings(label_budget=BUDGET, selection_seed=3, dup_threshold=1.0)
    rng = np.random.default_rng(0)
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as scorer:
        predictions: dict[str, Prediction] = {}

        async def score(docs: list[tuple[Document, str]]) -> None:
            await bus.publish_many(topics.documents, [(d.id, d) for d, _ in docs])

            async def done() -> bool:
                for raw in await drain(bus, topics.predictions, group="reader"):
                    p = Prediction.model_validate_json(raw)
                    predictions[p.doc_id] = p
                return all(d.id in predictions for d, _ in docs)

            await eventually(done, timeout_s=120, what="every document scored")

        # Cold start: no model yet. Reviewers label what is routed, at once.
        cold = documents(0, 400, rng)
        await score(cold)
        routed_cold = [(d, y) for d, y in cold if predictions[d.id].routed]
        assert routed_cold, "cold start routes documents while there is no model"
        # The trainer learns those labels and publishes the first model (>= 20 labels, so
        # the scorer's cold start hands over to the uncertainty rule right away).
        model = OnlineClassifier()
        for d, y in routed_cold:
            model.learn_one(encoder.encode([d.text])[0], y)
        assert model.n_learned >= 20
        record = await register(store, model, settings)
        assert await scorer.service.state["holder"].load(record.version)

        after = documents(400, 800, rng)
        for start in range(0, len(after), 100):
            await score(after[start:start + 100])
        routed = np.array([predictions[d.id].routed for d, _ in after], dtype=int)
        assert all(predictions[d.id].model_version == record.version for d, _ in after)
        # Routing resumes within a few dozen documents of the first model ...
        assert routed[:50].sum() >= 1
        # ... and every window of 200 documents routes at least a third of the budget rate
        # (no queue pressure here: nobody polls a queue depth in this test).
        worst = min(routed[i:i + 200].sum() for i in range(0, len(routed) - 199, 10))
        assert worst >= BUDGET * 200 / 3, f"a window of 200 documents routed only {worst}"
        # The exact budget: never more than 10% of all documents scored (+ warm-up allowance).
        total = sum(p.routed for p in predictions.values())
        n = len(predictions)
        assert total < BUDGET * (n + 100 * max(0, 1 - n / 1000)) + 1
