"""Consolidating k reviewers' labels: majority vote, or votes weighted by reliability.

Reliability is the one-coin Dawid-Skene model: reviewer r is right with probability p_r and
otherwise picks one of the other L-1 labels at random. Under it the posterior of a label is
proportional to exp(sum of w_r over the reviewers who chose it), with the log-odds weight
w_r = log(p_r (L-1) / (1 - p_r)). A reviewer no better than chance (p_r <= 1/L) gets weight 0,
so an adversary who is always wrong stops counting instead of steering the result.

p_r is estimated online, leave-one-out: after each consolidated item, reviewer r scores an
agreement if their label equals the weighted consensus of the *other* votes (their own vote
would otherwise vouch for itself), and we note q, the model's probability that those others
are right. Under the one-coin model P(agree) = p q + (1 - p)(1 - q)/(L - 1), so from the
agreement rate a and the mean q the estimate is p = (a - c) / (q - c), c = (1 - q)/(L - 1):
agreement corrected for the peers' own mistakes. A Beta prior keeps new reviewers at 0.7.
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


def accuracy(agree: float, total: float, q_sum: float | None = None,
             n_labels: int = 2) -> float:
    """Estimated accuracy from agreements with peers (and their summed correctness q)."""
    a = (agree + PRIOR_AGREE) / (total + PRIOR_TOTAL)
    if q_sum is None or total <= 0:
        return a
    q = (q_sum + PRIOR_AGREE) / (total + PRIOR_TOTAL)
    c = (1.0 - q) / max(n_labels - 1, 1)
    if q - c < 0.05:  # peers no better than chance tell us nothing
        return a
    return min(0.99, max(0.01, (a - c) / (q - c)))


def posterior(votes: Sequence[Vote], p: Mapping[str, float], n_labels: int) -> dict[str, float]:
    """One-coin posterior over the voted labels (unvoted labels share the rest). Weights are
    not floored here: an adversary's vote makes its label *less* likely."""
    n_labels = max(n_labels, len({v.label for v in votes}), 2)
    scores: dict[str, float] = {}
    for v in votes:
        pr = min(max(p.get(v.reviewer, 0.7), 1e-3), 1 - 1e-3)
        scores[v.label] = scores.get(v.label, 0.0) + math.log(pr * (n_labels - 1) / (1 - pr))
    top = max(0.0, *scores.values())
    z = sum(math.exp(s - top) for s in scores.values()) + (n_labels - len(scores)) * math.exp(
        -top)
    return {label: math.exp(s - top) / z for label, s in scores.items()}


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

    n_labels: int = 2
    agree: dict[str, float] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)
    q_sum: dict[str, float] = field(default_factory=dict)

    def p(self, reviewer: str) -> float:
        return accuracy(self.agree.get(reviewer, 0.0), self.total.get(reviewer, 0.0),
                        self.q_sum.get(reviewer, 0.0), self.n_labels)

    def snapshot(self, reviewers: Sequence[str]) -> dict[str, float]:
        return {r: self.p(r) for r in reviewers}

    def update(self, votes: Sequence[Vote], n_labels: int) -> None:
        p = self.snapshot([v.reviewer for v in votes])
        for reviewer, agreed, q in agreements(votes, p, n_labels):
            self.total[reviewer] = self.total.get(reviewer, 0.0) + 1
            self.agree[reviewer] = self.agree.get(reviewer, 0.0) + float(agreed)
            self.q_sum[reviewer] = self.q_sum.get(reviewer, 0.0) + q


def agreements(votes: Sequence[Vote], p: Mapping[str, float],
               n_labels: int) -> list[tuple[str, bool, float]]:
    """(reviewer, agreed, q) for each voter against the others' weighted consensus, q being
    the probability (one-coin posterior) that the others' consensus is right."""
    out = []
    for i, v in enumerate(votes):
        others = [o for j, o in enumerate(votes) if j != i]
        if not others:
            continue
        peer = weighted(others, p, n_labels)
        q = posterior(others, p, n_labels).get(peer.label, 0.0)
        out.append((v.reviewer, v.label == peer.label, q))
    return out
