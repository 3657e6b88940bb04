"""Simulated reviewers with known error rates: how well does each consolidation recover truth?

Used by ``python -m services.review_api.consensus_sim`` (numbers in docs/reviewing.md) and by
the unit test. Honest reviewers are right with their accuracy and otherwise pick a wrong label
at random; the adversary always picks a wrong label. Each item gets k distinct reviewers drawn
at random; reliability is learned online from the items consolidated so far, exactly as the
review API does (leave-one-out agreement, services/review_api/consensus.py).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass

from services.review_api.consensus import Reliability, Vote, majority, weight, weighted

HONEST = {"r1": 0.95, "r2": 0.9, "r3": 0.85, "r4": 0.8, "r5": 0.7, "r6": 0.65}


@dataclass
class SimResult:
    items: int
    k: int
    majority_accuracy: float
    weighted_accuracy: float
    estimated: dict[str, float]  # learned p per reviewer (adversary included)
    weights: dict[str, float]


def simulate(items: int = 3000, k: int = 3, n_labels: int = 4, seed: int = 0,
             adversary: bool = True, extra: int = 0) -> SimResult:
    """``extra``: a split vote gets up to this many more reviewers (as the service does)."""
    rng = random.Random(seed)
    labels = [f"c{i}" for i in range(n_labels)]
    accuracy = dict(HONEST)
    if adversary:
        accuracy["adversary"] = 0.0
    reviewers = sorted(accuracy)
    rel = Reliability(n_labels=n_labels)
    right_majority = right_weighted = 0
    for _ in range(items):
        truth = rng.choice(labels)
        order = rng.sample(reviewers, k + extra)

        def vote(r: str, truth: str = truth) -> Vote:
            correct = rng.random() < accuracy[r]
            return Vote(r, truth if correct else rng.choice([c for c in labels if c != truth]))

        drawn = [vote(r) for r in order]
        m_votes, w_votes = drawn[:k], drawn[:k]
        while majority(m_votes).split and len(m_votes) < k + extra:
            m_votes = drawn[:len(m_votes) + 1]
        p = rel.snapshot(reviewers)
        while weighted(w_votes, p, n_labels).split and len(w_votes) < k + extra:
            w_votes = drawn[:len(w_votes) + 1]
        right_majority += majority(m_votes).label == truth
        right_weighted += weighted(w_votes, p, n_labels).label == truth
        rel.update(w_votes, n_labels)

    return SimResult(
        items=items, k=k, majority_accuracy=right_majority / items,
        weighted_accuracy=right_weighted / items,
        estimated={r: round(rel.p(r), 3) for r in reviewers},
        weights={r: round(weight(rel.p(r), n_labels), 3) for r in reviewers},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    for k, extra in ((2, 0), (2, 1), (3, 0), (3, 1)):
        runs = [simulate(args.items, k, seed=s, extra=extra) for s in range(args.seeds)]
        print(json.dumps({
            "k": k, "extra_on_split": extra, "items": args.items, "seeds": args.seeds,
            "majority": round(sum(r.majority_accuracy for r in runs) / len(runs), 4),
            "weighted": round(sum(r.weighted_accuracy for r in runs) / len(runs), 4),
            "estimated_seed0": runs[0].estimated, "weights_seed0": runs[0].weights,
        }))


if __name__ == "__main__":
    main()
