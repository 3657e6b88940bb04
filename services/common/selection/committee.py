"""Committee disagreement from a small online-bagging committee (Oza & Russell, 2001).

Each member is the service's own ``OnlineClassifier``; each returned label is learned
``k ~ Poisson(1)`` times by each member, which is how online bagging approximates bootstrap
resamples. Disagreement is vote entropy (how split the members' votes are) or the mean KL
divergence of each member from the consensus; both in [0, 1], 1 when nobody is trained yet.
"""

from __future__ import annotations

import math
import random

import numpy as np

from services.common.schemas import Reason
from services.common.selection.base import Context, Outcome, Probabilities
from services.common.selection.uncertainty import Margin, Measure


def _poisson1(rng: random.Random) -> int:
    # Knuth's method; lambda = 1 keeps it to a couple of draws.
    limit, k, p = math.exp(-1.0), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Committee(Measure):
    """``disagreement``: "vote_entropy" or "kl". Vote entropy is discrete with few members,
    so it is tie-broken by the consensus margin (weight ``tie_weight``)."""

    name = "committee"
    reason = Reason.COMMITTEE

    def __init__(self, n_members: int = 5, disagreement: str = "kl", tie_weight: float = 0.1,
                 seed: int | None = None) -> None:
        if disagreement not in ("vote_entropy", "kl"):
            raise ValueError(f"disagreement must be 'vote_entropy' or 'kl', got {disagreement!r}")
        if n_members < 2:
            raise ValueError("a committee needs at least 2 members")
        self.n_members = n_members
        self.disagreement = disagreement
        self.tie_weight = tie_weight
        self.seed = seed
        from services.common.model import OnlineClassifier

        # Raw LDA posteriors (inverse temperature 1, never calibrated): the committee measures
        # how far members' evidence differs; a calibrated, softer temperature squashes that
        # difference where it matters most, near the boundary.
        self._members = [OnlineClassifier(initial_beta=1.0) for _ in range(n_members)]
        self._rng = random.Random(seed)

    def __call__(self, probabilities: Probabilities) -> float:
        raise TypeError("a committee needs the item's embedding: call score(probs, context)")

    def score(self, probabilities: Probabilities, context: Context | None) -> float:
        if context is None or context.x is None:
            raise ValueError("Committee needs context.x (the item's embedding)")
        if sum(1 for m in self._members if len(m.classes) >= 2) < 2:
            return 1.0
        preds = [m.predict_proba_one(context.x) for m in self._members]
        classes = sorted({c for p in preds for c in p})
        if len(classes) < 2:
            return 0.0
        matrix = np.array([[p.get(c, 0.0) for c in classes] for p in preds])
        consensus = matrix.mean(axis=0)
        if self.disagreement == "kl":
            eps = 1e-9
            kl = (matrix * (np.log(matrix + eps) - np.log(consensus + eps))).sum(axis=1).mean()
            # KL to the consensus is at most log(#members) per member's mass; squash to [0, 1).
            return float(1.0 - math.exp(-kl))
        votes = np.bincount(matrix.argmax(axis=1), minlength=len(classes)) / len(preds)
        nz = votes[votes > 0]
        h = float(-(nz * np.log(nz)).sum()) / math.log(min(len(preds), len(classes)))
        tie = Margin()(dict(zip(classes, consensus.tolist(), strict=True)))
        return (h + self.tie_weight * tie) / (1.0 + self.tie_weight)

    def learn(self, outcome: Outcome) -> None:
        if outcome.x is None:
            return
        for member in self._members:
            for _ in range(_poisson1(self._rng)):
                member.learn_one(outcome.x, outcome.label, calibrate=False)

    def __repr__(self) -> str:
        return (f"Committee(n_members={self.n_members}, disagreement={self.disagreement!r}, "
                f"seed={self.seed})")
