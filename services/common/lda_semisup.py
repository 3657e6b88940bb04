"""Semi-supervised refinement of StreamingLDA's class means from unlabeled items.

Why: with few labels per class the class means are the weak part of the model (20 Newsgroups
at 2 % labels reaches 0.671 whichever items are labelled, uniformly random or selected:
docs/evaluation.md), while the scorer sees every item. A few EM steps over a window of recent
unlabeled embeddings move each mean towards where its class's items actually lie.

How, kept apart from the labeled statistics so ``unlearn`` stays exact:

- the refinement is a separate pair of *population* statistics, per class the
  responsibility-weighted sum of unlabeled items and its total weight, each item counted at
  ``weight`` (0.05: a label outweighs twenty unlabeled items). Prediction means are
  (labeled sum + population sum) / (labeled weight + population weight); the shared scatter
  stays labeled-only (unlabeled scatter around soft means measured no better, +1.6-2.1 pt).
- each refinement starts again from the labeled-only model (responsibilities at the model's
  own calibrated temperature), so it never feeds on its own earlier guesses.
- it is kept only if it helps where it can be checked: the calibrated, leave-one-out log-loss
  of the fair (uniformly sampled) labelled records must drop by at least ``min_gain`` nats.
  Without that check drift turns EM against the model: it confirms the current mistakes on a
  new sub-group (R8 drifting at 2 %: 0.906 -> 0.859).
- any change to the label set (a new class, a merge, a retire, a class whose last record was
  undone) drops the population statistics: they were computed for the old classes.
- with three classes or more the E-step is class-balanced (services/common/lda_balance.py),
  so a class with few labels keeps its cluster.
- with three classes or more the temperature of an applied refinement is fitted on *exact*
  held-out logits of the fair records (``folds``-fold: each fold unlearned from a copy and the
  refinement redone without it) and held until the next refinement. The fast leave-one-out
  keeps the population, whose E-step saw each record's label through its neighbours'
  responsibilities: it fitted temperatures about 15 % too confident (20 Newsgroups at 2 %,
  docs/evaluation.md). With two classes the exact fit measured worse (the two-class stream:
  end ECE 0.057 instead of 0.043 at 2 %), so two classes keep the fast leave-one-out.

Forgetting (``half_life``) and refinement do not mix (the decayed weights have no common scale
with item counts): with forgetting on, ``refine`` does nothing and says so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from services.common.lda_balance import MIN_CLASSES, balance, target_shares
from services.common.lda_calibration import refit_log_beta
from services.common.rows import Rows, softmax


@dataclass(frozen=True)
class RefineConfig:
    """How the trainer (and the replay) refine: over the last ``window`` unlabeled items once
    it holds ``min_items``, by ``steps`` EM steps at ``weight`` per item, kept when the fair
    log-loss drops by ``min_gain`` nats; ``balanced`` E-steps, the temperature fitted
    ``temperature_folds``-fold (0: the fast leave-one-out). Defaults measured in
    docs/evaluation.md."""

    window: int = 3000
    min_items: int = 100
    steps: int = 2
    weight: float = 0.05
    min_gain: float = 0.02
    balanced: bool = True
    temperature_folds: int = 5


@dataclass(frozen=True)
class Refinement:
    """What one ``refine`` call did. Losses are nats per fair record (None: not computed)."""

    applied: bool
    reason: str
    loss_before: float | None = None
    loss_after: float | None = None


class PopulationMeans:
    """Mixin of StreamingLDA: the population statistics and the refinement (see module doc)."""

    # Model state this mixin reads, all set by StreamingLDA.__init__ (declared for mypy).
    rows: Rows
    half_life: float | None
    initial_beta: float
    calibration_prior: float
    _sums: np.ndarray
    _weights: np.ndarray
    _log_beta: float
    _cal_x: list[np.ndarray]
    _cal_y: list[str]
    _cal_w: list[float]
    _held_beta: bool
    _scatter: np.ndarray | None
    _pending: list[tuple[np.ndarray, float]]
    _ma: np.ndarray | None
    _linear: tuple[np.ndarray, np.ndarray] | None
    # (per-class responsibility-weighted sums of unlabeled items, per-class weights) or None.
    _population: tuple[np.ndarray, np.ndarray] | None

    def logits(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # StreamingLDA's discriminant

    def _held_out_logits(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # StreamingLDA's exact leave-one-out logits

    def _refit_temperature(self) -> None:
        raise NotImplementedError

    def unlearn(self, x: np.ndarray, y: str, weight: float = 1.0,
                t: float | None = None) -> None:
        raise NotImplementedError

    @property
    def population_weight(self) -> float:
        """Total weight of unlabeled items in the prediction means (0: none)."""
        return 0.0 if self._population is None else float(self._population[1].sum())

    def _set_population(self, population: tuple[np.ndarray, np.ndarray] | None) -> None:
        self._population = population
        self._held_beta = False  # a temperature fitted for another population
        self._ma = None  # prediction caches follow the means
        self._linear = None

    def clear_population(self) -> None:
        if self._population is not None:
            self._set_population(None)

    def _pooled(self, exact_sums: np.ndarray, exact_weights: np.ndarray) -> np.ndarray:
        """Prediction means: labeled plus population statistics."""
        if self._population is None:
            out: np.ndarray = exact_sums / exact_weights[:, None]
            return out
        sums, weights = self._population
        pooled: np.ndarray = (exact_sums + sums) / (exact_weights + weights)[:, None]
        return pooled

    def _known_fair(self) -> tuple[list[int], np.ndarray, np.ndarray]:
        """The calibration window's records whose class exists: their positions in the window,
        their rows ``X`` and class rows ``idx`` (artifacts from before the window followed
        label-set changes may hold records of classes gone since)."""
        known = [i for i, label in enumerate(self._cal_y) if label in self.rows.index]
        if not known:
            return known, np.zeros((0, self._sums.shape[1])), np.zeros(0, dtype=int)
        X = np.stack([self._cal_x[i] for i in known])
        idx = np.array([self.rows.index[self._cal_y[i]] for i in known])
        return known, X, idx

    def _fair_records(self) -> tuple[np.ndarray, np.ndarray] | None:
        known, X, idx = self._known_fair()
        return None if len(known) < 10 else (X, idx)

    def _fair_loss(self, X: np.ndarray, idx: np.ndarray) -> float:
        """Log-loss of the fair records under leave-one-out logits, at the temperature that
        minimizes it (the temperature is refit after a refinement anyway)."""
        z = self._held_out_logits(X, idx)
        s = refit_log_beta(z, idx, self._log_beta, self.initial_beta, self.calibration_prior)
        p = softmax(np.exp(s) * z)
        return float(-np.mean(np.log(p[np.arange(len(idx)), idx] + 1e-12)))

    def refine(self, X: np.ndarray, steps: int = 2, weight: float = 0.05,
               min_gain: float = 0.02, balanced: bool = True, folds: int = 5) -> Refinement:
        """Refit the population statistics from unlabeled rows ``X`` (see module doc)."""
        X = np.asarray(X, dtype=np.float64)
        if self.half_life is not None:
            return Refinement(False, "forgetting is on")
        k = len(self.rows.labels)
        if k < 2 or len(X) == 0:
            return Refinement(False, "needs two classes and unlabeled items")
        if X.shape[1] != self._sums.shape[1]:
            return Refinement(False, f"unlabeled items have {X.shape[1]} features, the model "
                                     f"{self._sums.shape[1]}")
        self.clear_population()
        fair = self._fair_records()
        if fair is None:
            return Refinement(False, "fewer than 10 fair labelled records to check it on")
        before = self._fair_loss(*fair)
        log_beta = self._log_beta
        self._e_steps(X, steps, weight, balanced)
        after = self._fair_loss(*fair)
        applied = after <= before - min_gain
        if not applied:
            self.clear_population()
        if applied and folds > 0 and k >= MIN_CLASSES:
            self._fit_temperature_exact(X, steps, weight, balanced, folds, log_beta)
        else:
            self._refit_temperature()
        reason = "fair leave-one-out log-loss " + ("dropped" if applied else "did not drop enough")
        return Refinement(applied, reason, before, after)

    def _e_steps(self, X: np.ndarray, steps: int, weight: float, balanced: bool) -> None:
        """``steps`` EM steps from the labelled-only model, responsibilities at the model's
        own temperature (balanced towards the fair records' shares: lda_balance.py)."""
        shares = None
        if balanced and len(self.rows.labels) >= MIN_CLASSES:
            shares = target_shares(np.bincount(self._known_fair()[2],
                                               minlength=len(self.rows.labels)))
        for _ in range(steps):
            R = softmax(np.exp(self._log_beta) * self.logits(X))
            if shares is not None:
                R = balance(R, shares)
            R = R * weight
            self._set_population((R.T @ X, R.sum(axis=0)))

    def _fit_temperature_exact(self, X: np.ndarray, steps: int, weight: float,
                               balanced: bool, folds: int, log_beta: float) -> None:
        """Fit the temperature on exact held-out logits of the fair records: per fold, a copy
        of the model unlearns the fold's records and redoes the refinement (from the same
        temperature ``log_beta``) without them. A record alone in its class keeps its fast
        leave-one-out logits. Held until the population changes (``_refit_temperature``)."""
        known, Xf, idx = self._known_fair()
        z = self._held_out_logits(Xf, idx)
        order = np.random.default_rng(len(known)).permutation(len(known))  # reproducible
        for fold in np.array_split(order, min(folds, len(known))):
            without = copy.deepcopy(self)
            without.clear_population()
            if self._scatter is not None:  # else each copy re-inverts the inverse: a third
                without._scatter = self._scatter.copy()  # of the time (pickling drops it)
                without._pending = list(self._pending)
            out = []
            for j in fold:
                x, label, w = self._cal_x[known[j]], self._cal_y[known[j]], self._cal_w[known[j]]
                if without.rows.counts[without.rows.index[label]] > 1:
                    without.unlearn(x, label, w)
                    out.append(j)
            if out:
                without._log_beta = log_beta
                without._e_steps(X, steps, weight, balanced)
                z[out] = without.logits(Xf[out])
        self._log_beta = refit_log_beta(z, idx, self._log_beta, self.initial_beta,
                                        self.calibration_prior)
        self._held_beta = True
