"""Build the item co-occurrence table a behaviour version serves, and score with it offline.

    table = build_table(split.train, n_items)     # CoocKNN's similarities, NEIGHBOURS per item
    table.save(folder)                            # folder / "cooccurrence.npz", read by serving
    scorer = TableScorer(table)                   # scorer(histories, types) -> (B, n_items), for tune_blend
    scorer = PopularityScorer(popular)            # recent popularity, the same for every shopper

The table itself and how serving reads it: :mod:`recommender.behaviour.cooccurrence`. Building
needs scipy (through :class:`~.baselines.CoocKNN`), so it lives here, apart from serving.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.behaviour.cooccurrence import NEIGHBOURS, CooccurrenceTable
from recommender.behaviour.popularity import RecentPopularity
from recommender.training.behaviour.baselines import COSINE, CoocKNN

__all__ = ["PopularityScorer", "TableScorer", "build_table"]


def build_table(
    sequences: Sequence[Sequence[int]], n_items: int, neighbours: int = NEIGHBOURS, similarity: str = COSINE
) -> CooccurrenceTable:
    """CoocKNN's item-item similarities (``similarity``: cosine or count) over ``sequences``, each
    item's ``neighbours`` best kept.

    Ties at the cut keep the lower item index, so a table does not depend on sparse-matrix order.
    """
    knn = CoocKNN(sequences, n_items, np.zeros(n_items), similarity=similarity)  # no popularity tie-breaker stored
    S = knn.S.tocsr()
    indptr, indices, similarities = [0], [], []
    for item in range(n_items):
        lo, hi = S.indptr[item], S.indptr[item + 1]
        cols, vals = S.indices[lo:hi], S.data[lo:hi]
        keep = vals > 0
        cols, vals = cols[keep], vals[keep]
        order = np.lexsort((cols, -vals))[:neighbours]
        indices.append(cols[order])
        similarities.append(vals[order])
        indptr.append(indptr[-1] + len(order))
    return CooccurrenceTable(
        indptr=np.asarray(indptr, dtype=np.int64),
        indices=np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, dtype=np.int32),
        similarities=np.concatenate(similarities).astype(np.float32) if similarities else np.zeros(0, np.float32),
        recent=int(knn.recent),
        decay=float(knn.decay),
    )


class TableScorer:
    """``scorer(histories, types) -> (B, n_items)``: :meth:`CooccurrenceTable.scores`, 0 elsewhere.

    The co-occurrence part of the blend as serving computes it, for
    :func:`~recommender.training.behaviour.evaluate.tune_blend` and :class:`~recommender.training.behaviour.evaluate.Blend`.
    """

    def __init__(self, table: CooccurrenceTable) -> None:
        self.table = table

    def __call__(self, histories, types=None) -> np.ndarray:
        out = np.zeros((len(histories), self.table.n_items), dtype=np.float32)
        for row, history in enumerate(histories):
            items, scores = self.table.scores(history)
            out[row, items] = scores
        return out


class PopularityScorer:
    """``scorer(histories, types) -> (B, n_items)``: every shopper's row is the recent popularity,
    the part of the blend serving adds (:mod:`recommender.behaviour.popularity`)."""

    def __init__(self, popular: RecentPopularity) -> None:
        self.popular = popular

    def __call__(self, histories, types=None) -> np.ndarray:
        return np.tile(self.popular.scores.astype(np.float32), (len(histories), 1))
