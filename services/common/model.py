"""The online classifier the trainer learns and the scorer predicts with.

One class for both, so the scorer predicts with exactly what the trainer evaluated. Artifacts
are pickles; ``load_verified`` checks digest and HMAC before anything is unpickled.

``kind="lda"`` (default) is a calibrated streaming LDA, ``kind="softmax"`` River's
SoftmaxRegression with AdaGrad (services/common/learners.py). The default replaced River's
``StandardScaler | OneVsRest(LogisticRegression(SGD))`` after docs/evaluation.md: on unit-norm
sentence embeddings the running scaler is noisy while few labels exist, and one SGD step per
label learns little per label, which is what a label-saving service cannot afford (20NG single
pass: 0.64 -> 0.78 holdout accuracy with every label; with a random 10%, 0.56 -> 0.74).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Literal

import numpy as np

from services.common.errors import SignatureError
from services.common.lda_semisup import RefineConfig, Refinement
from services.common.learners import SoftmaxRegression, StreamingLDA
from services.common.signing import sha256_hex, sign, verify

Vector = Sequence[float] | np.ndarray
Kind = Literal["lda", "softmax"]


def as_features(x: Vector) -> dict[int, float]:
    return {i: float(v) for i, v in enumerate(x)}


class OnlineClassifier:
    """Learns one ``(embedding, label)`` at a time; predicts class probabilities.

    ``prior_strength`` (lda): pseudo-observations shrinking the covariance towards isotropic;
    500 was chosen by measurement on the four evaluation streams (docs/evaluation.md): more
    shrinkage helps with few labels and keeps the confidence calibrated (ECE), less fits more
    labels better; 200 to 2000 were compared.
    ``half_life`` (lda): forgetting of the class means, in units of ``t`` (None: off).
    ``learning_rate`` and ``l2`` (softmax): AdaGrad's base rate and the L2 penalty.

    Records are learned with a ``weight`` in (0, 1] and a ``t`` (the record's sequence number in
    the labels log; by default a counter of learn calls). ``unlearn_one`` with the same
    arguments forgets a record exactly (lda). Label-set changes (rename, merge, retire) rewrite
    the statistics; afterwards ``resolve`` maps an old name to the class that now holds its
    records (None when retired), so a later correction of an old record finds it.
    """

    def __init__(self, learning_rate: float = 0.5, l2: float = 1e-5, kind: Kind = "lda",
                 prior_strength: float = 500.0, half_life: float | None = None,
                 initial_beta: float = 0.2) -> None:
        if kind not in ("lda", "softmax"):
            raise ValueError(f"unknown model kind {kind!r}; expected 'lda' or 'softmax'")
        self.learning_rate = learning_rate
        self.l2 = l2
        self.kind = kind
        self.prior_strength = prior_strength
        self.half_life = half_life
        self.initial_beta = initial_beta  # lda: the inverse temperature before calibration
        self._learner: StreamingLDA | SoftmaxRegression = (
            StreamingLDA(prior_strength, half_life=half_life, initial_beta=initial_beta)
            if kind == "lda"
            else SoftmaxRegression(learning_rate, l2)
        )
        self._aliases: dict[str, str | None] = {}  # old name -> current class (None: retired)

    @property
    def classes(self) -> list[str]:
        return sorted(self._learner.rows.labels)

    @property
    def n_learned(self) -> int:
        return sum(self._learner.rows.counts)

    @property
    def class_counts(self) -> dict[str, int]:
        rows = self._learner.rows
        return dict(zip(rows.labels, rows.counts, strict=True))

    def resolve(self, label: str) -> str | None:
        """The class that holds records learned as ``label`` (after renames and merges)."""
        seen: set[str] = set()
        current: str | None = label
        while current is not None and current in self._aliases and current not in seen:
            seen.add(current)
            current = self._aliases[current]
        return current

    def learn_one(self, x: Vector, y: str, weight: float = 1.0, t: float | None = None,
                  calibrate: bool = True) -> float:
        """Learn one record; returns the ``t`` used, which ``unlearn_one`` needs back.
        ``calibrate``: whether the record also fits the LDA's temperature (False for labels
        chosen *because* the model was unsure: fitted on those alone, the model becomes
        under-confident everywhere else; see ``selection.calibrates``)."""
        target = self.resolve(y)
        if target is None:  # a retired label used again starts afresh
            self._aliases.pop(y, None)
            target = y
        x = np.asarray(x, dtype=np.float64).ravel()
        if isinstance(self._learner, StreamingLDA):
            return self._learner.learn(x, target, weight, t, calibrate=calibrate)
        return self._learner.learn(x, target, weight, t)

    def unlearn_one(self, x: Vector, y: str, weight: float = 1.0, t: float | None = None) -> bool:
        """Forget a record learned with these arguments; False if its class was retired."""
        target = self.resolve(y)
        if target is None or target not in self._learner.rows.index:
            return False
        self._learner.unlearn(np.asarray(x, dtype=np.float64).ravel(), target, weight, t)
        return True

    # Label-set changes are bookkeeping on names first, statistics second: a class whose
    # records were all undone holds no statistics (unlearning its last record drops it), yet
    # its name is still in use, so a change to it must still record where the name now leads
    # (``resolve``) instead of failing. Each change then equals learning the surviving records
    # under the new label set: statistics move only where there are some.

    def rename_class(self, old: str, new: str) -> None:
        """Rename; when ``new`` is a live class, merge into it. ``new`` becomes a live name
        again even if it was renamed away or retired earlier."""
        source = self._source(old)
        self._aliases.pop(new, None)
        self._relabel(source, new)

    def merge_classes(self, src: str, dst: str) -> None:
        """Move src's records into the class that holds ``dst``'s records (``dst`` itself
        when it holds none); later records learned as ``src`` land there too."""
        source = self._source(src)
        self._relabel(source, self._source(dst))

    def _source(self, label: str) -> str:
        """The class that holds (or would hold) ``label``'s records; a retired name is a new,
        empty class from here on (as ``learn_one`` treats it)."""
        current = self.resolve(label)
        if current is None:
            self._aliases.pop(label, None)
            return label
        return current

    def _relabel(self, source: str, target: str) -> None:
        if source == target:
            return
        if source in self._learner.rows.index:
            self._learner.rename(source, target)  # a merge when target holds records
        self._aliases[source] = target

    def retire_class(self, label: str) -> None:
        """Stop predicting ``label``; records learned under it resolve to None from now on."""
        source = self.resolve(label)
        if source is None:
            return  # retired already
        if source in self._learner.rows.index:
            self._learner.retire(source)
        self._aliases[source] = None

    def refine(self, X: np.ndarray, config: RefineConfig) -> Refinement:
        """Refine the class means on unlabeled rows ``X`` (lda; services/common/lda_semisup.py).
        Learning and unlearning stay exact: the unlabeled share is kept apart."""
        if not isinstance(self._learner, StreamingLDA):
            return Refinement(False, "only the lda model refines")
        return self._learner.refine(X, config.steps, config.weight, config.min_gain,
                                   config.balanced, config.temperature_folds)

    @property
    def unlabeled_weight(self) -> float:
        """Weight of unlabeled items in the current means (0 when not refined)."""
        return self._learner.population_weight if isinstance(self._learner, StreamingLDA) \
            else 0.0

    def predict_proba_one(self, x: Vector) -> dict[str, float]:
        """Class probabilities summing to 1; empty until a label was learned."""
        labels = self._learner.rows.labels
        if not labels:
            return {}
        if len(labels) == 1:
            return {labels[0]: 1.0}
        p = self._learner.proba(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]
        return {c: float(pi) for c, pi in zip(labels, p, strict=True)}

    def predict_proba_many(self, X: np.ndarray) -> list[dict[str, float]]:
        """``predict_proba_one`` for each row, in one matrix product."""
        X = np.asarray(X, dtype=np.float64)
        labels = self._learner.rows.labels
        if len(labels) < 2:
            return [self.predict_proba_one(x) for x in X]
        P = self._learner.proba(X)
        return [dict(zip(labels, row.tolist(), strict=True)) for row in P]

    def predict_one(self, x: Vector) -> str | None:
        probs = self.predict_proba_one(x)
        return max(probs, key=probs.__getitem__) if probs else None

    def predict_many(self, X: np.ndarray) -> list[str | None]:
        X = np.asarray(X, dtype=np.float64)
        labels = self._learner.rows.labels
        if len(labels) < 2:
            return [labels[0] if labels else None] * len(X)
        return [labels[i] for i in self._learner.logits(X).argmax(axis=1)]

    def __repr__(self) -> str:
        if self.kind == "lda":
            return (f"OnlineClassifier(kind='lda', prior_strength={self.prior_strength}, "
                    f"half_life={self.half_life})")
        return (f"OnlineClassifier(kind='softmax', learning_rate={self.learning_rate}, "
                f"l2={self.l2})")


def dump_artifact(model: OnlineClassifier, key: bytes) -> tuple[bytes, str, str]:
    """Serialize and sign: returns (artifact, sha256, signature)."""
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    return data, sha256_hex(data), sign(data, key)


def load_verified(data: bytes, *, sha256: str, signature: str, key: bytes) -> OnlineClassifier:
    verify(data, sha256=sha256, signature=signature, key=key)  # raises before unpickling
    model = pickle.loads(data)  # verified above
    if not isinstance(model, OnlineClassifier):
        raise SignatureError(f"artifact holds {type(model).__name__}, not OnlineClassifier")
    return model
