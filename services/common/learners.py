"""The two online learners behind ``OnlineClassifier``, on dense numpy vectors.

``StreamingLDA`` (the default) lives in services/common/lda.py: exact weighted sufficient
statistics that can also forget a record exactly and relabel classes.

``SoftmaxRegression`` is River's ``linear_model.SoftmaxRegression(optim.AdaGrad(lr), l2)`` on
the features plus a bias, computed with arrays (tests check it against River itself).
"""

from __future__ import annotations

import numpy as np

from services.common.lda import StreamingLDA
from services.common.rows import Rows, softmax

__all__ = ["SoftmaxRegression", "StreamingLDA"]

_CLAMP = 1e-15  # River's clamp_proba


class SoftmaxRegression:
    def __init__(self, learning_rate: float = 0.5, l2: float = 1e-5, eps: float = 1e-8) -> None:
        self.learning_rate = learning_rate
        self.l2 = l2
        self.eps = eps
        self.rows = Rows()
        self._w: np.ndarray = np.zeros((0, 0))
        self._g2: np.ndarray = np.zeros((0, 0))

    def logits(self, X: np.ndarray) -> np.ndarray:
        out: np.ndarray = X @ self._w[:, :-1].T + self._w[:, -1]
        return out

    def proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.logits(X))

    def learn(self, x: np.ndarray, y: str, weight: float = 1.0, t: float | None = None) -> float:
        """One AdaGrad step on the weighted log-loss; ``t`` is unused (no forgetting here)."""
        f = np.append(x, 1.0)  # the bias feature
        if self._w.shape[1] == 0:
            self._w = np.zeros((0, f.size))
            self._g2 = np.zeros((0, f.size))
        elif f.size != self._w.shape[1]:
            raise ValueError(f"expected {self._w.shape[1] - 1} features, got {x.size}")
        # As River: predict over the classes known *before* this label, then add a new one.
        p = softmax(self._w @ f) if self.rows.labels else np.zeros(0)
        if self.rows.add(y):
            self._w = np.vstack([self._w, np.zeros(f.size)])
            self._g2 = np.vstack([self._g2, np.zeros(f.size)])
            p = np.append(p, 0.0)
        target = np.zeros(len(self.rows.labels))
        target[self.rows.index[y]] = 1.0
        grad = weight * np.outer(np.clip(p, _CLAMP, 1.0 - _CLAMP) - target, f)
        grad += self.l2 * self._w
        self._g2 += grad * grad
        self._w -= self.learning_rate / np.sqrt(self._g2 + self.eps) * grad
        self.rows.counts[self.rows.index[y]] += 1
        return 0.0 if t is None else float(t)

    def unlearn(self, x: np.ndarray, y: str, weight: float = 1.0, t: float | None = None) -> None:
        raise NotImplementedError(
            "the softmax model cannot forget a label exactly (gradient steps do not commute); "
            "use ALSTREAM_MODEL_KIND=lda, or replay the labels log"
        )

    def rename(self, old: str, new: str) -> None:
        if new in self.rows.index:
            self.merge(old, new)
        else:
            self.rows.rename(old, new)

    def merge(self, src: str, dst: str) -> None:
        """Approximate: dst keeps its weights and src's row is dropped (no exact merge of two
        separately trained rows exists); later labels refine dst."""
        if src != dst:
            self.rows.counts[self.rows.index[dst]] += self.rows.counts[self.rows.index[src]]
            self.retire(src)

    def retire(self, label: str) -> None:
        c = self.rows.index[label]
        self._w = np.delete(self._w, c, axis=0)
        self._g2 = np.delete(self._g2, c, axis=0)
        self.rows.remove(label)
