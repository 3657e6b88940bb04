"""The promotion gate: a new model state is served only if it is not worse than a served one.

Evidence: the last ``window`` labels, each with whether the live model (the candidate's
lineage) predicted it correctly *before* learning it (prequential). The reference is a promoted
model that had not learned any of those labels yet: the newest promoted version from before the
window began. It predicts the same items now, so both sides are test-then-train on the same
items and the comparison is paired. Why not simply the version served a moment ago: with
sub-second publishing each candidate differs from it by a few labels, every step passes, and
a stream of bad labels degrades the served model in steps too small to see (a ratchet); against
a reference from before the window, the damage of everything learned inside it adds up.

Only the items where the two disagree carry information (b: only the reference right, c: only
the candidate right): the candidate is worse when (b - c) / n exceeds the tolerance *and* b - c
exceeds ``z`` standard errors, sqrt(b + c) (McNemar), so a few disagreements in a small sample
never hold a version. This is tested on the whole window and on each reviewer's labels in it:
a reviewer sending deliberately wrong labels makes the candidate better at predicting *their*
labels and worse at everyone else's, which cancel out over the whole window but not per
reviewer.

That accuracy test is slow to see a reviewer who sends deliberately wrong labels: each wrong
label moves the model a little, and the lineage's predictions average the damage over the
window. The strong signal is the conflict itself: the reference contradicts that reviewer's
labels far more often than everyone else's (measured on classes the reference knows, so a new
class is never a conflict). A candidate that learned such labels is held too: agreement below
the other reviewers' by more than ``conflict_margin``, significant at ``z`` (two proportions).
A legitimate disagreement (a reviewer who knows better than the model) is held the same way;
the reason names the reviewer, and an admin can pin the candidate or correct the labels.
A held candidate keeps its reason; the last promoted version keeps serving (docs/lifecycle.md).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Predictor(Protocol):
    @property
    def classes(self) -> list[str]: ...

    def predict_many(self, X: np.ndarray) -> list[str | None]: ...


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    candidate_accuracy: float | None = None
    serving_accuracy: float | None = None
    compared: int = 0


Row = tuple[int, str, np.ndarray, str, bool]  # (t, reviewer, x, label, candidate right)


class Gate:
    def __init__(self, window: int = 200, tolerance: float = 0.03, min_compared: int = 30,
                 enabled: bool = True, z: float = 1.645, conflict_margin: float = 0.3) -> None:
        self.window = window
        self.conflict_margin = conflict_margin
        self.tolerance = tolerance
        self.min_compared = min_compared
        self.enabled = enabled
        self.z = z
        self._rows: deque[Row] = deque(maxlen=window)
        # Promoted models with the label sequence number t they had reached, oldest first; one
        # kept per quarter window (each is a d x d model), enough to always have a reference.
        self._refs: list[tuple[int, Predictor]] = []

    def observe(self, t: int, reviewer: str, x: Any, label: str,
                candidate: str | None) -> None:
        if candidate is not None:
            vec = np.asarray(x, dtype=np.float32)
            self._rows.append((t, reviewer, vec, label, candidate == label))

    def promoted(self, t: int, model: Predictor) -> None:
        if not self._refs or t - self._refs[-1][0] >= max(1, self.window // 4):
            self._refs.append((t, model))
        start = self._rows[0][0] if self._rows else t
        while len(self._refs) > 1 and self._refs[1][0] <= start:
            self._refs.pop(0)  # a newer one also predates the window

    def reset(self, t: int, model: Predictor) -> None:
        """After a pin: the evidence described another lineage."""
        self._rows.clear()
        self._refs = [(t, model)]

    def _worse(self, cand: list[bool], ref: list[bool]) -> bool:
        n = len(cand)
        b = sum(1 for c, s in zip(cand, ref, strict=True) if s and not c)
        c = sum(1 for c, s in zip(cand, ref, strict=True) if c and not s)
        return (b - c) / n > self.tolerance and (b - c) > self.z * math.sqrt(b + c)

    def decide(self) -> GateDecision:
        if not self.enabled:
            return GateDecision(True, "gate disabled")
        if not self._refs:
            return GateDecision(True, "nothing served yet: promoted")
        t_ref, reference = self._refs[0]
        rows = [r for r in self._rows if r[0] >= t_ref]
        n = len(rows)
        if n < self.min_compared:
            return GateDecision(True, f"{n} < {self.min_compared} compared labels: promoted",
                                compared=n)
        predicted = reference.predict_many(np.stack([r[2] for r in rows]).astype(np.float64))
        ref_ok = [p == r[3] for p, r in zip(predicted, rows, strict=True)]
        cand_ok = [r[4] for r in rows]
        c_all, s_all = sum(cand_ok) / n, sum(ref_ok) / n
        slices: dict[str, list[int]] = {"all reviewers": list(range(n))}
        for i, r in enumerate(rows):
            slices.setdefault(f"reviewer {r[1]!r}", []).append(i)
        conflict = self._conflict(rows, predicted, set(reference.classes))
        if conflict:
            return GateDecision(False, conflict, c_all, s_all, n)
        for name, idx in slices.items():
            if len(idx) < self.min_compared:
                continue
            cand, ref = [cand_ok[i] for i in idx], [ref_ok[i] for i in idx]
            if self._worse(cand, ref):
                return GateDecision(
                    False, f"held: candidate accuracy {sum(cand) / len(idx):.3f} < reference "
                    f"{sum(ref) / len(idx):.3f} - tolerance {self.tolerance:g} on {name}'s "
                    f"last {len(idx)} labels (prequential, paired)", c_all, s_all, n)
        return GateDecision(
            True, f"candidate {c_all:.3f} vs reference {s_all:.3f} on the last {n} labels: "
            f"not worse on any reviewer's labels", c_all, s_all, n)

    def _conflict(self, rows: list[Row], predicted: list[str | None],
                  known: set[str]) -> str | None:
        """A reviewer whose labels the reference contradicts far more than the others'."""
        agree: dict[str, list[bool]] = {}
        for r, p in zip(rows, predicted, strict=True):
            if r[3] in known:
                agree.setdefault(r[1], []).append(p == r[3])
        for reviewer, own in agree.items():
            others = [a for name, v in agree.items() if name != reviewer for a in v]
            if len(own) < self.min_compared or len(others) < self.min_compared:
                continue
            p1, p2 = sum(own) / len(own), sum(others) / len(others)
            pooled = (sum(own) + sum(others)) / (len(own) + len(others))
            se = math.sqrt(max(pooled * (1 - pooled), 1e-9) * (1 / len(own) + 1 / len(others)))
            if p2 - p1 > self.conflict_margin and (p2 - p1) / se > self.z:
                return (f"held: reviewer {reviewer!r}'s last {len(own)} labels agree with the "
                        f"reference model {p1:.0%} of the time, the other reviewers' {p2:.0%} "
                        f"(conflict margin {self.conflict_margin:g})")
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_refs"] = []  # models are in the registry; the trainer re-adds the served one
        return state
