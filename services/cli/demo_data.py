"""What the demo streams: a real labelled dataset from ``.cache/data``, split into a stream
and a holdout, with short class descriptions for the stack's zero-shot cold start."""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.common.datasets import Example, ensure_datasets, load

# Six well-separated newsgroups: a newcomer can judge the predictions by eye.
NEWSGROUPS = {
    "rec.sport.hockey": "ice hockey games, players, teams, goals and the NHL playoffs",
    "sci.space": "space flight, NASA, rockets, satellites, the shuttle and planets",
    "comp.graphics": "computer graphics, images, rendering, 3D, file formats and software",
    "talk.politics.mideast": "Middle East politics, Israel, Arabs, Turkey and Armenia",
    "sci.med": "medicine, doctors, diseases, treatment, symptoms and health",
    "rec.autos": "cars, engines, driving, dealers and car models",
}
REUTERS = {
    "earn": "company earnings, quarterly profit, net income, revenue and dividends",
    "acq": "mergers and acquisitions, takeovers, buying a stake in a company",
    "crude": "crude oil prices, OPEC and oil production",
    "trade": "international trade, tariffs, imports, exports and the trade deficit",
    "money-fx": "currency exchange rates, the dollar and central bank intervention",
    "interest": "interest rates, the prime rate and central bank rate decisions",
    "ship": "shipping, ports, vessels, tankers and freight",
    "grain": "grain, wheat and corn harvests, crops and exports",
}
DATASETS = {"20ng": NEWSGROUPS, "r8": REUTERS}


@dataclass(frozen=True)
class DemoData:
    name: str
    descriptions: dict[str, str]
    stream: list[tuple[str, Example]]  # (document id, example), in stream order
    holdout: list[Example]

    @property
    def truth(self) -> dict[str, str]:
        return {doc_id: ex.label for doc_id, ex in self.stream}


def prepare(name: str, n_docs: int, n_holdout: int, seed: int = 0) -> DemoData:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    ensure_datasets()
    descriptions = DATASETS[name]
    classes = list(descriptions)
    train = load(name, "train", classes)
    test = load(name, "test", classes)
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(test)
    stream = [(f"{name}-{i:05d}", ex) for i, ex in enumerate(train[:n_docs])]
    return DemoData(name, descriptions, stream, test[:n_holdout])
