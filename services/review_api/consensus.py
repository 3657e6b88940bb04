"""Consolidating k reviewers' labels: majority vote, or votes weighted by reliability.

Reliability is the one-coin Dawid-Skene model: reviewer r is right with probability p_r and
otherwise picks one of the other L-1 labels at random. Under it the posterior of a label is
proportional to exp(sum of w_r over the reviewers who chose it), with the log-odds weight
w_r = log(p_r (L-1) / (1 - p_r)). A reviewer no better than chance (p_r <= 1/L) gets weight 0,
so an adversary who is always wrong stops counting instead of steering the result.

p_r is estimated online, leave-one-out: after each consolidated item, reviewer r scores an
agreement if their label equals the weighted consensus of the *other* votes (their own vote
would otherwise vouch for itself). A Beta prior keeps new reviewers at a modest 0.7.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PRIOR_AGREE = 1.4  # Beta(1.4, 0.6): a new reviewer starts at p = 0.7, two labels' worth
PRIOR_TOTAL = 2.0


@dataclass(frozen=True)
class Vote:
    reviewer: str
    label: str


@dataclass(frozen=True)
class Outcome:
    label: str
    share: float  # posterior (reliability) or vote share (majority) of the winner
    split: bool  # no clear winner: worth one more look


def accuracy(agree: float, total: float) -> float:
    return (agree + PRIOR_AGREE) / (total + PRIOR_TOTAL)


def weight(p: float, n_labels: int) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return max(0.0, math.log(p * max(n_labels - 1, 1) / (1 - p)))


def majority(votes: Sequence[Vote]) -> Outcome:
    counts: dict[str, int] = {}
    for v in votes:  # dict order = first vote first: ties go to the earliest label
        counts[v.label] = counts.get(v.label, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    top = ranked[0][1]
    split = len(ranked) > 1 and ranked[1][1] == top
    return Outcome(ranked[0][0], top / len(votes), split)


def weighted(votes: Sequence[Vote], p: Mapping[str, float], n_labels: int,
             split_below: float = 0.6) -> Outcome:
    """Reliability-weighted consensus; majority when no vote carries weight."""
    n_labels = max(n_labels, len({v.label for v in votes}), 2)
    scores: dict[str, float] = {}
    for v in votes:
        scores[v.label] = scores.get(v.label, 0.0) + weight(p.get(v.reviewer, 0.7), n_labels)
    if not any(scores.values()):
        return majority(votes)
    # Posterior over all n_labels (labels nobody chose have score 0).
    top = max(scores.values())
    z = sum(math.exp(s - top) for s in scores.values()) + (n_labels - len(scores)) * math.exp(
        -top)
    label = max(scores, key=lambda k: (scores[k], -list(scores).index(k)))
    share = 1.0 / z
    return Outcome(label, share, share < split_below)


@dataclass
class Reliability:
    """Online agreement counts per reviewer (the store keeps them for the service)."""

    agree: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)

    def p(self, reviewer: str) -> float:
        return accuracy(self.agree.get(reviewer, 0.0), self.total.get(reviewer, 0.0))

    def snapshot(self, reviewers: Sequence[str]) -> dict[str, float]:
        return {r: self.p(r) for r in reviewers}

    def update(self, votes: Sequence[Vote], n_labels: int) -> None:
        p = self.snapshot([v.reviewer for v in votes])
        for reviewer, agreed in agreements(votes, p, n_labels):
            self.total[reviewer] = self.total.get(reviewer, 0.0) + 1
            self.agree[reviewer] = self.agree.get(reviewer, 0.0) + float(agreed)


def agreements(votes: Sequence[Vote], p: Mapping[str, float],
               n_labels: int) -> list[tuple[str, bool]]:
    """(reviewer, agreed) for each voter against the others' weighted consensus."""
    out = []
    for i, v in enumerate(votes):
        others = [o for j, o in enumerate(votes) if j != i]
        if not others:
            continue
        peer = weighted(others, p, n_labels)
        if not peer.split or len(others) == 1:
            out.append((v.reviewer, v.label == peer.label))
    return out
