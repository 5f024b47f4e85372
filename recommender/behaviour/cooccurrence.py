"""The item co-occurrence kNN a behaviour version serves: each item's nearest neighbours, kept in its artifact.

    table = load_table(folder)                    # folder / "cooccurrence.npz"; None when the version has none
    items, scores = table.scores([4, 9, 2])       # history oldest first -> neighbours, 0..1, best first

The similarity is :class:`~recommender.training.behaviour.baselines.CoocKNN`'s (cosine of two
items' co-occurrence in shoppers' item sets) and a shopper's score is CoocKNN's too, its sum over
their newest distinct items weighted by recency (:func:`recency_weights`), divided by the
shopper's maximum as :class:`~recommender.training.behaviour.evaluate.RowScaled` does. Only each
item's ``NEIGHBOURS`` most similar items are kept: that is what serving reads, and training tunes
the blend weight over the same table, so the weight means the same in both. Item indices are
positions in the artifact's ``items.json``.

Training builds and saves the table (:mod:`recommender.training.behaviour.cooccurrence`), serving
loads it with the model (:mod:`recommender.behaviour.loading`). Only numpy here: the web process
imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FILENAME", "NEIGHBOURS", "CooccurrenceTable", "load_table", "recency_weights"]

FILENAME = "cooccurrence.npz"
# Neighbours kept per item. A score sums the lists of at most 5 history items and "for you" takes
# 40 co-occurrence candidates, so 100 per item covers what a page can show; it caps the file at
# 8 bytes x 100 per item (85 MB for H&M's 105k articles, where most items have far fewer).
NEIGHBOURS = 100


def recency_weights(history: Sequence[int], recent: int, decay: float) -> dict[int, float]:
    """The ``recent`` newest distinct items of ``history`` (oldest first) -> ``decay ** rank``, newest 1.0."""
    return {item: decay**rank for rank, item in enumerate(list(dict.fromkeys(reversed(history)))[:recent])}


@dataclass(frozen=True)
class CooccurrenceTable:
    """Item ``i``'s neighbours are ``indices[indptr[i]:indptr[i + 1]]`` (most similar first), with
    their ``similarities``; ``recent`` and ``decay`` are the CoocKNN history weights it was built with."""

    indptr: np.ndarray  # (n_items + 1,) int64
    indices: np.ndarray  # (pairs,) int32
    similarities: np.ndarray  # (pairs,) float32
    recent: int
    decay: float

    @property
    def n_items(self) -> int:
        return len(self.indptr) - 1

    @property
    def pairs(self) -> int:
        return len(self.indices)

    def neighbours(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[item], self.indptr[item + 1]
        return self.indices[lo:hi], self.similarities[lo:hi]

    def scores(self, history: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(items, scores in 0..1), best first (ties: lower index first): CoocKNN's
        ``weights(history) @ S`` over the stored neighbours, divided by its maximum.

        History items outside the table (-1: a product the version never saw) are ignored.
        """
        items, values = [], []
        for item, weight in recency_weights(history, self.recent, self.decay).items():
            if 0 <= item < self.n_items:
                neighbours, similarities = self.neighbours(item)
                items.append(neighbours)
                values.append(weight * similarities.astype(np.float64))
        if not items:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        found, inverse = np.unique(np.concatenate(items), return_inverse=True)
        total = np.bincount(inverse, weights=np.concatenate(values), minlength=len(found))
        total = total / max(float(total.max(initial=0.0)), 1e-9)
        order = np.lexsort((found, -total))
        return found[order].astype(np.int64), total[order]

    def save(self, folder: Path) -> Path:
        path = Path(folder) / FILENAME
        np.savez(
            path,
            indptr=self.indptr,
            indices=self.indices,
            similarities=self.similarities,
            recent=np.int64(self.recent),
            decay=np.float64(self.decay),
        )
        return path


def load_table(folder: Path) -> CooccurrenceTable | None:
    """The table saved in ``folder``, or None when there is none (a version trained without it).

    Raises ValueError for a file that does not hold a consistent table.
    """
    path = Path(folder) / FILENAME
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        table = CooccurrenceTable(
            indptr=saved["indptr"].astype(np.int64),
            indices=saved["indices"].astype(np.int32),
            similarities=saved["similarities"].astype(np.float32),
            recent=int(saved["recent"]),
            decay=float(saved["decay"]),
        )
    ends = table.indptr
    if (
        len(ends) < 1
        or ends[0] != 0
        or ends[-1] != table.pairs
        or np.any(np.diff(ends) < 0)
        or len(table.similarities) != table.pairs
        or (table.pairs and (table.indices.min() < 0 or table.indices.max() >= table.n_items))
    ):
        raise ValueError(f"{path} does not hold a valid co-occurrence table")
    return table
