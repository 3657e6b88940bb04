"""Pieces both online learners share: the label <-> row table and a stable softmax."""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


class Rows:
    """Label <-> row index, in order of first appearance (River's order too), with the number
    of records learned per label."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.index: dict[str, int] = {}
        self.counts: list[int] = []

    def add(self, y: str) -> bool:
        if y in self.index:
            return False
        self.index[y] = len(self.labels)
        self.labels.append(y)
        self.counts.append(0)
        return True

    def remove(self, y: str) -> None:
        c = self.index[y]
        del self.labels[c]
        del self.counts[c]
        self.index = {label: i for i, label in enumerate(self.labels)}

    def rename(self, old: str, new: str) -> None:
        if new in self.index:
            raise ValueError(f"label {new!r} exists already")
        c = self.index.pop(old)
        self.labels[c] = new
        self.index[new] = c
