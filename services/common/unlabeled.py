"""The window of recent unlabeled items the trainer refines its model on.

Shared by the trainer (fed from the observations topic) and the evaluation's replay, so the
replay refines on exactly what the service would. An item leaves the window when its label is
learned: a labelled item counts once, as a label, not again as an unlabeled guess.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


class UnlabeledWindow:
    """The last ``size`` unlabeled embeddings by item id, oldest dropped first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def add(self, item_id: str, embedding: Sequence[float] | np.ndarray) -> None:
        """Add (or refresh: a re-scored item moves to the newest end) one item. An embedding
        of another length than the items held is refused (ValueError): a scorer with another
        encoder must not mix its vectors into the window."""
        x = np.asarray(embedding, dtype=np.float64).ravel()
        if self._items:
            held = next(iter(self._items.values())).size
            if x.size != held:
                raise ValueError(f"embedding has {x.size} values; the window holds {held}")
        self._items[item_id] = x
        self._items.move_to_end(item_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def discard(self, item_id: str) -> None:
        """The item was labelled: it no longer counts as unlabeled."""
        self._items.pop(item_id, None)

    def matrix(self) -> np.ndarray:
        """The items as rows, oldest first (an empty 0-row array when there are none)."""
        if not self._items:
            return np.zeros((0, 0))
        return np.stack(list(self._items.values()))
