"""The promotion gate: a new model state is served only if it is not worse than the serving one.

The evidence is prequential and paired: for every label the trainer learns it first records
whether the live model (the candidate's lineage, before learning this label) and the serving
model each predicted it correctly. Both predictions are test-then-train on the same items, so
the comparison is honest and its noise is small (only items where the two disagree count).
Wrong labels that the live model learned show up as a lower live accuracy on the labels that
follow them; the random labels themselves are scored alike by both models and cancel out.
A candidate is held, with a reason, when its window accuracy is below the serving model's by
more than the tolerance; the last promoted version keeps serving (docs/lifecycle.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    candidate_accuracy: float | None = None
    serving_accuracy: float | None = None
    compared: int = 0


class Gate:
    def __init__(self, window: int = 200, tolerance: float = 0.03, min_compared: int = 30,
                 enabled: bool = True) -> None:
        self.window = window
        self.tolerance = tolerance
        self.min_compared = min_compared
        self.enabled = enabled
        self._rows: deque[tuple[bool, bool]] = deque(maxlen=window)

    def observe(self, label: str, candidate: str | None, serving: str | None) -> None:
        """One label's paired outcome; nothing to compare before a model is served."""
        if serving is not None and candidate is not None:
            self._rows.append((candidate == label, serving == label))

    def reset(self) -> None:
        self._rows.clear()

    def accuracies(self) -> tuple[float | None, float | None, int]:
        n = len(self._rows)
        if n == 0:
            return None, None, 0
        return (sum(c for c, _ in self._rows) / n, sum(s for _, s in self._rows) / n, n)

    def decide(self) -> GateDecision:
        cand, serv, n = self.accuracies()
        if not self.enabled:
            return GateDecision(True, "gate disabled", cand, serv, n)
        if cand is None or serv is None or n < self.min_compared:
            return GateDecision(True, f"{n} < {self.min_compared} compared labels: promoted",
                                cand, serv, n)
        if cand >= serv - self.tolerance:
            return GateDecision(
                True, f"candidate {cand:.3f} >= serving {serv:.3f} - {self.tolerance:g} "
                f"on the last {n} labels", cand, serv, n)
        return GateDecision(
            False, f"held: candidate accuracy {cand:.3f} < serving {serv:.3f} - tolerance "
            f"{self.tolerance:g} on the last {n} labels (prequential, paired)", cand, serv, n)
