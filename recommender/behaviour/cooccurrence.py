"""The item co-occurrence kNN a behaviour version serves: each item's nearest neighbours, kept in its artifact.

    table = load_table(folder)                    # folder / "cooccurrence.npz"; None when the version has none
    items, scores = table.scores([4, 9, 2])       # history oldest first -> neighbours, 0..1, best first
    families = load_table(folder, FAMILY_FILENAME)  # the same structure: each item's family siblings

The similarity is :class:`~recommender.training.behaviour.baselines.CoocKNN`'s (cosine of two
items' co-occurrence in shoppers' item sets) and a shopper's score is CoocKNN's too, its sum over
their newest distinct items weighted by recency (:func:`recency_weights`), divided by the
shopper's maximum as :class:`~recommender.training.behaviour.evaluate.RowScaled` does. Only each
item's ``NEIGHBOURS`` most similar items are kept: that is what serving reads, and training tunes
the blend weight over the same table, so the weight means the same in both. Item indices are
positions in the artifact's ``items.json``.

The same structure holds a version's **family table** (``families.npz``): each item's neighbours
are the other variants of its product family (``RECOMMENDER["FIELDS"]["family"]``: the colours
and sizes of one garment share a family), similarity 1, and a shopper's score sums the families
of their ``FAMILY_RECENT`` newest items. On H&M, "another colour of what you bought" is the
strongest single predictor of a purchase new to the shopper (bench/results/served_evaluation.md).

Training builds and saves the table (:mod:`recommender.training.behaviour.cooccurrence`), serving
loads it with the model (:mod:`recommender.behaviour.loading`). Only numpy here: the web process
imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FAMILY_DECAY",
    "FAMILY_FILENAME",
    "FAMILY_RECENT",
    "FILENAME",
    "NEIGHBOURS",
    "CooccurrenceTable",
    "family_table",
    "load_table",
    "recency_weights",
]

FILENAME = "cooccurrence.npz"
FAMILY_FILENAME = "families.npz"
# A shopper's family score counts the families of their newest 10 distinct items, each weighted
# 0.8 ** recency rank. On H&M, families alone then popularity (siblings in popularity order) give
# MAP@12 0.040 on products new to the shopper, with 5 items at 0.7 as well; the order among
# siblings matters more (0.037 without it), and in the blend the model's scores set it.
FAMILY_RECENT = 10
FAMILY_DECAY = 0.8
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

    def save(self, folder: Path, filename: str = FILENAME) -> Path:
        path = Path(folder) / filename
        np.savez(
            path,
            indptr=self.indptr,
            indices=self.indices,
            similarities=self.similarities,
            recent=np.int64(self.recent),
            decay=np.float64(self.decay),
        )
        return path


def family_table(families: Sequence[str], counts: np.ndarray, neighbours: int = NEIGHBOURS) -> CooccurrenceTable:
    """Each item's siblings: the other items of its family (``families[i]``, "" for none), the most
    popular first (``counts``, ties: lower index), at most ``neighbours``, similarity 1."""
    members: dict[str, list[int]] = {}
    for item, family in enumerate(families):
        if family:
            members.setdefault(family, []).append(item)
    for family, items in members.items():
        members[family] = sorted(items, key=lambda i: (-float(counts[i]), i))
    indptr, indices = [0], []
    for item, family in enumerate(families):
        siblings = [i for i in members.get(family, ()) if i != item][:neighbours] if family else []
        indices.extend(siblings)
        indptr.append(len(indices))
    return CooccurrenceTable(
        indptr=np.asarray(indptr, dtype=np.int64),
        indices=np.asarray(indices, dtype=np.int32),
        similarities=np.ones(len(indices), dtype=np.float32),
        recent=FAMILY_RECENT,
        decay=FAMILY_DECAY,
    )


def load_table(folder: Path, filename: str = FILENAME) -> CooccurrenceTable | None:
    """The table saved in ``folder`` (``filename``: the co-occurrence table, or ``FAMILY_FILENAME``),
    or None when there is none (a version trained without it).

    Raises ValueError for a file that does not hold a consistent table.
    """
    path = Path(folder) / filename
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
        raise ValueError(f"{path} does not hold a valid neighbour table")
    return table
