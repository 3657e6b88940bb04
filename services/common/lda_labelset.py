"""Label-set changes of StreamingLDA (services/common/lda.py): rename, merge, retire.

Each rewrites the sufficient statistics, no retraining: merging adds the between-class term
n_s n_d / (n_s + n_d) (mu_s - mu_d)(mu_s - mu_d)' to the scatter, which is exactly what
learning src's records under dst's name would have given.

A mixin, not functions on copies of the arrays: these rewrite the model's own per-class arrays
and caches in place, and those must stay attributes of the model under their names (signed
artifacts and checkpoints pickle its ``__dict__``). The mixin itself holds no state.
"""

from __future__ import annotations

import numpy as np

from services.common.rows import Rows


class LabelSetChanges:
    # The model state rewritten here, all set by StreamingLDA.__init__ (declared for mypy).
    rows: Rows
    _sums: np.ndarray
    _weights: np.ndarray
    _dsums: np.ndarray
    _dweights: np.ndarray
    _ma: np.ndarray | None
    _linear: tuple[np.ndarray, np.ndarray] | None
    _cal_x: list[np.ndarray]  # the calibration window's fair records (lda_calibration.py)
    _cal_y: list[str]
    _cal_w: list[float]

    def _rank_one(self, v: np.ndarray, a: float) -> None:
        raise NotImplementedError  # StreamingLDA's Sherman-Morrison update of the scatter

    def clear_population(self) -> None:
        raise NotImplementedError  # lda_semisup.PopulationMeans: drop unlabeled statistics

    def _drop(self, c: int) -> None:
        self.clear_population()  # computed for the old classes
        self._ma = None
        self._sums = np.delete(self._sums, c, axis=0)
        self._dsums = np.delete(self._dsums, c, axis=0)
        self._weights = np.delete(self._weights, c)
        self._dweights = np.delete(self._dweights, c)
        self.rows.remove(self.rows.labels[c])

    def rename(self, old: str, new: str) -> None:
        if new in self.rows.index:
            self.merge(old, new)
        else:
            self.rows.rename(old, new)
            self._relabel_fair(old, new)
            self._linear = None

    def merge(self, src: str, dst: str) -> None:
        """Move src's records into dst, as if they had been learned under dst's name."""
        if src == dst:
            return
        s, d = self.rows.index[src], self.rows.index[dst]
        ns, nd = self._weights[s], self._weights[d]
        between = self._sums[s] / ns - self._sums[d] / nd
        self._rank_one(between, ns * nd / (ns + nd))
        self._sums[d] += self._sums[s]
        self._weights[d] += ns
        self._dsums[d] += self._dsums[s]
        self._dweights[d] += self._dweights[s]
        self.rows.counts[d] += self.rows.counts[s]
        self._drop(s)
        self._relabel_fair(src, dst)
        self._ma = None
        self._linear = None

    def retire(self, label: str) -> None:
        """Stop predicting ``label``. Its records' within-class variation stays in the scatter
        (still valid evidence of how classes vary), so the other classes are unaffected."""
        c = self.rows.index[label]
        self._drop(c)
        self._relabel_fair(label, None)
        self._linear = None

    def _relabel_fair(self, old: str, new: str | None) -> None:
        """The calibration window follows the change: its records of ``old`` are ``new``'s
        now (None: gone with a retired class), so a later class reusing the old name does not
        inherit them (the exact temperature fit unlearns these records from copies)."""
        if new is not None:  # a rename or merge keeps every record
            self._cal_y[:] = [new if y == old else y for y in self._cal_y]
            return
        keep = [i for i, y in enumerate(self._cal_y) if y != old]
        self._cal_x[:] = [self._cal_x[i] for i in keep]
        self._cal_y[:] = [self._cal_y[i] for i in keep]
        self._cal_w[:] = [self._cal_w[i] for i in keep]
