"""Streaming LDA on exact weighted sufficient statistics: learn, forget, relabel.

Linear discriminant analysis kept up to date one label at a time (Hayes & Kanan, "Lifelong
machine learning with deep streaming LDA", 2020): class means plus one shared within-class
scatter, regularized by ``prior_strength`` pseudo-observations of isotropic variance, so with
few labels it behaves like a nearest-class-mean rule and with many like full LDA.

Why sufficient statistics: every quantity is a sum over the learned records, so

- the model does not depend on the order labels came in (beyond the calibration, see below);
- ``unlearn`` is the exact inverse of ``learn`` (a reviewer's correction or undo is forgotten
  exactly: learning A, B, C and unlearning B gives the statistics of learning A, C);
- renaming, merging and retiring a class rewrite the statistics exactly, no retraining
  (services/common/lda_labelset.py).

The inverse of the regularized scatter is kept by Sherman-Morrison rank-one updates (O(d^2) per
label, refreshed by a full inversion every ``refresh_every`` updates to wash out rounding).

Forgetting (``half_life``, in units of ``t``, by default the learn-call counter; the trainer
passes the record's sequence number in the labels log): the class means are weighted by
2^((t_i - t_latest) / half_life), so under drift recent labels decide where a class sits, while
the shared scatter (how classes vary, which drifts slowly and needs many labels) stays exact.
Weights are kept relative to a reference ``t`` that is moved forward when they grow large, so
they never overflow; unlearning uses the record's own ``t`` and stays exact.

Calibration: an inverse temperature fitted online on fair records, before each is learned
(services/common/lda_calibration.py); the one part that depends on the order of the records.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import blas

from services.common import lda_calibration as cal
from services.common.lda_labelset import LabelSetChanges
from services.common.lda_semisup import PopulationMeans
from services.common.rows import Rows, softmax

_REBASE = 40.0  # move the decay reference when weights reach e^40, long before overflow


class StreamingLDA(PopulationMeans, LabelSetChanges):
    def __init__(self, prior_strength: float = 500.0, temperature_lr: float = 0.5,
                 initial_beta: float = 0.2, refresh_every: int = 500,
                 half_life: float | None = None, calibration_window: int = 300,
                 calibration_prior: float = 5.0, smoothing: float = 1.0) -> None:
        if half_life is not None and half_life <= 0:
            raise ValueError("half_life must be positive (or None for no forgetting)")
        self.prior_strength = prior_strength
        self.temperature_lr = temperature_lr
        self.initial_beta = initial_beta
        self.refresh_every = refresh_every
        self.half_life = half_life
        self.calibration_window = calibration_window
        self.calibration_prior = calibration_prior
        self.smoothing = smoothing
        self.rows = Rows()
        self._dim = 0
        self._sums: np.ndarray = np.zeros((0, 0))  # per class: sum of w x
        self._weights: np.ndarray = np.zeros(0)  # per class: sum of w
        self._dsums: np.ndarray = np.zeros((0, 0))  # per class: sum of w d(t) x (forgetting)
        self._dweights: np.ndarray = np.zeros(0)  # per class: sum of w d(t)
        self._t_ref = 0.0
        self._clock = 0.0  # default t: number of learn calls
        self._scatter: np.ndarray | None = np.zeros((0, 0))  # prior + within-class scatter: A
        self._inverse: np.ndarray = np.zeros((0, 0))  # A^-1
        self._n = 0.0  # total weight behind the scatter
        self._since_refresh = 0
        self._pending: list[tuple[np.ndarray, float]] = []  # rank-one terms not yet in _scatter
        self._log_beta = float(np.log(initial_beta))  # log inverse temperature
        self._g2 = 0.0
        # The last ``calibration_window`` fair records (x, label, weight), refit on after each.
        self._cal_x: list[np.ndarray] = []
        self._cal_y: list[str] = []
        self._cal_w: list[float] = []
        self._held_beta = False  # temperature from a refinement's exact fit (lda_semisup.py)
        self._linear: tuple[np.ndarray, np.ndarray] | None = None
        # means() @ inverse, kept up to date through every update (O(k d) plus one d x d
        # matvec per label instead of a k x d x d product at each prediction after a label;
        # replay speed, docs/lifecycle.md). None: recomputed when next needed.
        self._ma: np.ndarray | None = None
        self._population: tuple[np.ndarray, np.ndarray] | None = None  # lda_semisup.py

    # -- prediction -------------------------------------------------------------------------

    def _init(self, dim: int) -> None:
        self._dim = dim
        # Prior: prior_strength observations of variance 1/dim per axis (unit-norm inputs).
        prior = self.prior_strength / dim
        self._sums = np.zeros((0, dim))
        self._dsums = np.zeros((0, dim))
        self._scatter = np.eye(dim) * prior
        self._inverse = np.eye(dim) / prior

    def means(self) -> np.ndarray:
        """The class means used for prediction (recency-weighted when forgetting is on, with
        the unlabeled population's share after a ``refine``: services/common/lda_semisup.py)."""
        if self.half_life is None:
            return self._pooled(self._sums, self._weights)
        exact = self._sums / self._weights[:, None]
        # A class whose records all decayed to ~0 falls back to its exact mean.
        eps = 1e-12
        out: np.ndarray = (self._dsums + eps * exact) / (self._dweights + eps)[:, None]
        return out

    def logits(self, X: np.ndarray) -> np.ndarray:
        if self._linear is None:
            # Discriminant g_c(x) = mu_c' P x - mu_c' P mu_c / 2, P = (n + k) A^-1.
            means = self.means()
            W = (self._n + self.prior_strength) * self._mean_inverse()
            self._linear = (W, -0.5 * np.einsum("ij,ij->i", W, means))
        W, b = self._linear
        out: np.ndarray = X @ W.T + b
        return out

    def _mean_inverse(self) -> np.ndarray:
        if self._ma is None:
            self._ma = self.means() @ self._inverse
        return self._ma

    def _refresh_row(self, c: int) -> None:
        """Class c's mean changed: its row of means() @ inverse (the inverse is symmetric)."""
        if self._ma is not None:
            self._ma[c] = self._inverse @ self.means()[c]

    def proba(self, X: np.ndarray) -> np.ndarray:
        p = softmax(np.exp(self._log_beta) * self.logits(X))
        # Shrink towards uniform by smoothing / (labels + smoothing): a model that has seen a
        # handful of labels (and not every class yet) is not 99% sure of anything, and no
        # class ever gets a probability like 1e-16. The ranking of items is unchanged.
        eps = self.smoothing / (self._n + self.smoothing) if self.smoothing > 0 else 0.0
        out: np.ndarray = (1.0 - eps) * p + eps / p.shape[-1]
        return out

    # -- calibration (services/common/lda_calibration.py) ------------------------------------

    def _refit_temperature(self) -> None:
        """Refit the inverse temperature on the kept fair records whose class still exists,
        unless a refinement's exact fit holds it (until the population changes)."""
        if self._held_beta:
            return
        known, X, idx = self._known_fair()
        if len(known) < 5 or len(self.rows.labels) < 2:
            return
        # Computed here, not through logits(): the refit must leave the prediction caches
        # (_ma, _linear) exactly as a model that never refit would have them (replay checks).
        z = self._held_out_logits(X, idx)
        self._log_beta = cal.refit_log_beta(z, idx, self._log_beta, self.initial_beta,
                                            self.calibration_prior)

    def _held_out_logits(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Logits of records ``X`` (true rows ``idx``) as if each had never been learned."""
        return cal.held_out_logits(X, idx, self._sums, self._weights, self.means(),
                                   self._inverse, self._n, self.prior_strength, self._population)

    def _fit_temperature(self, x: np.ndarray, y: int) -> None:
        self._log_beta, self._g2 = cal.online_step(self.logits(x[None])[0], y, self._log_beta,
                                                   self._g2, self.temperature_lr)

    # -- learning and forgetting ------------------------------------------------------------

    def _decay(self, t: float) -> float:
        """Weight factor of a record at ``t`` relative to the reference (1 without forgetting)."""
        if self.half_life is None:
            return 1.0
        exponent = (t - self._t_ref) * math.log(2.0) / self.half_life
        if exponent > _REBASE:  # move the reference to t: rescale every decayed sum
            scale = math.exp(-exponent)
            self._dsums *= scale
            self._dweights *= scale
            self._t_ref = t
            exponent = 0.0
        return math.exp(exponent)

    def _rank_one(self, v: np.ndarray, a: float) -> None:
        """A += a v v' and its inverse by Sherman-Morrison (a < 0 down-dates).

        Why this shape (replay speed, docs/lifecycle.md): the inverse is updated in place by
        one BLAS rank-one call instead of through np.outer temporaries (a 1.2 MB allocation
        each at d = 384: 14x slower on a loaded machine), and the scatter, needed only at the
        periodic refresh, receives its pending rank-one terms then, in one matrix product."""
        if self._scatter is None:  # loaded from an artifact: rebuilt when first needed
            self._scatter = np.linalg.inv(self._inverse)
        u = self._inverse @ v
        alpha = -a / (1.0 + a * float(v @ u))
        if self._ma is not None:  # M A^-1 follows the rank-one change of A^-1
            self._ma += alpha * np.outer(self.means() @ u, u)
        if self._inverse.flags.c_contiguous:  # symmetric: its transpose is the Fortran view
            blas.dger(alpha, u, u, a=self._inverse.T, overwrite_a=1)
        else:
            self._inverse += alpha * np.outer(u, u)
        self._pending.append((v, a))
        self._since_refresh += 1
        if self._since_refresh >= self.refresh_every:  # wash out rounding drift
            self._flush_scatter()
            self._inverse = np.linalg.inv(self._scatter)
            self._since_refresh = 0
            self._ma = None

    def _flush_scatter(self) -> None:
        assert self._scatter is not None  # _rank_one rebuilt it before the first pending term
        if self._pending:
            V = np.stack([v for v, _ in self._pending])
            weights = np.array([a for _, a in self._pending])
            self._scatter += V.T @ (V * weights[:, None])
            self._pending = []

    def learn(self, x: np.ndarray, y: str, weight: float = 1.0, t: float | None = None,
              calibrate: bool = True) -> float:
        """Learn one record; returns the ``t`` used (pass it to ``unlearn`` to forget it).
        With ``calibrate`` False the record does not fit the temperature (a label picked for
        being uncertain is not a fair sample of how right the model is)."""
        if self._dim == 0:
            self._init(x.size)
        elif x.size != self._dim:
            raise ValueError(f"expected {self._dim} features, got {x.size}")
        if weight <= 0:
            raise ValueError("weight must be positive")
        t = self._clock if t is None else float(t)
        self._clock += 1.0
        if len(self.rows.labels) >= 2 and y in self.rows.index:
            if calibrate and len(self._cal_x) < 5:  # until the window can be refit on
                self._fit_temperature(x, self.rows.index[y])
            else:  # the prediction cache is built here on every such call, fit or not
                self._mean_inverse()
        if self.rows.add(y):
            self.clear_population()  # computed for the old classes
            self._sums = np.vstack([self._sums, np.zeros(self._dim)])
            self._dsums = np.vstack([self._dsums, np.zeros(self._dim)])
            self._weights = np.append(self._weights, 0.0)
            self._dweights = np.append(self._dweights, 0.0)
            if self._ma is not None:
                self._ma = np.vstack([self._ma, np.zeros(self._dim)])
        c = self.rows.index[y]
        n = self._weights[c]
        if n > 0:  # weighted Welford: the scatter grows by w n / (n + w) (x - mu)(x - mu)'
            self._rank_one(x - self._sums[c] / n, weight * n / (n + weight))
        d = self._decay(t)
        self._sums[c] += weight * x
        self._weights[c] += weight
        self._dsums[c] += weight * d * x
        self._dweights[c] += weight * d
        self.rows.counts[c] += 1
        self._n += weight
        self._refresh_row(c)
        self._linear = None
        if calibrate:
            cal.remember_fair(self._cal_x, self._cal_y, self._cal_w, x, y, weight,
                              self.calibration_window)
            self._refit_temperature()
        return t

    def unlearn(self, x: np.ndarray, y: str, weight: float = 1.0, t: float | None = None) -> None:
        """Forget one record learned with the same x, y, weight and t, exactly."""
        if y not in self.rows.index:
            raise KeyError(f"unknown class {y!r}")
        if self.half_life is not None and t is None:
            raise ValueError("with forgetting on, unlearn needs the t the record was learned at")
        c = self.rows.index[y]
        if self.rows.counts[c] <= 1:  # its last record: a one-record class adds no scatter
            self._drop(c)
        else:
            n = self._weights[c]
            rest = n - weight
            if rest <= 0:
                raise ValueError(f"class {y!r} holds less weight than the record to forget")
            # Inverse of the Welford step: the scatter shrinks by w n / (n - w) (x - mu)(x - mu)'.
            self._rank_one(x - self._sums[c] / n, -weight * n / rest)
            d = self._decay(self._clock if t is None else float(t))
            self._sums[c] -= weight * x
            self._weights[c] = rest
            self._dsums[c] -= weight * d * x
            self._dweights[c] = max(self._dweights[c] - weight * d, 0.0)
            self.rows.counts[c] -= 1
            self._refresh_row(c)
        self._n -= weight
        self._linear = None
        cal.forget_fair(self._cal_x, self._cal_y, self._cal_w, x, y)  # no longer fair

    # -- persistence ------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, object]:
        # Artifacts carry one d x d matrix: the inverse, so a loaded model predicts exactly as
        # the one saved; the scatter, only needed for the periodic refresh, is rebuilt from it.
        state = dict(self.__dict__)
        state["_scatter"] = None
        state["_pending"] = []  # the scatter is rebuilt from the inverse, which has them
        state["_linear"] = None  # _ma (k x d) stays: a loaded model predicts bit for bit alike
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        # Artifacts and checkpoints from before the windowed calibration lack its state.
        defaults = {"calibration_window": 300, "calibration_prior": 10.0, "smoothing": 0.0,
                    "_cal_x": [], "_cal_y": [], "_population": None, "_held_beta": False}
        self.__dict__.update({**defaults, **state})
        self.__dict__.setdefault("_cal_w", [1.0] * len(self._cal_x))
        self._pending = []
        self._ma = state.get("_ma")  # type: ignore[assignment]
        # Rebuilt from the inverse by the first update (_rank_one), not here: a scorer loading
        # a version several times a second never needs it.
        self._scatter = None if self._dim else np.zeros((0, 0))
