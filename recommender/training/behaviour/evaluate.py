"""Offline evaluation: full-catalogue ranking of held-out items for the model and every baseline.

    result = evaluate(scorer, split.test, counts=counts)         # {"recall@10": ..., ...}
    weight, by_weight = tune_blend(model, other, split.valid, counts, "ndcg@10", (10,))
    scorer = Blend(model, other, weight)                         # log_softmax(model) + weight * other

Whole runs (train, baselines, report): :mod:`.report`.

``scorer(histories, types)`` returns (B, n_items) scores. Metrics: Recall@K, NDCG@K, MRR
(rank of the first relevant item over the full catalogue), MAP@12 (H&M competition),
catalogue coverage of the top 10 over all users, and the popularity bias of the top 10 (mean
popularity percentile of the recommended items: 100 = the most popular item, 50 = median).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from recommender.training.behaviour.data import EvalSet
from recommender.training.behaviour.metrics import average_precision_at_k, ndcg_at_k, recall_at_k, reciprocal_rank

__all__ = [
    "BLEND_GRID",
    "CURVE_KS",
    "Blend",
    "OwnPurchases",
    "RowScaled",
    "evaluate",
    "popularity_percentiles",
    "tune_blend",
]

# Cut-offs of the "metric by K" plot.
CURVE_KS = (1, 5, 10, 20, 50, 100)


def popularity_percentiles(counts: np.ndarray) -> np.ndarray:
    """Each item's popularity percentile (0..100; ties share the mean rank)."""
    return (rankdata(counts, method="average") - 1) / max(len(counts) - 1, 1) * 100.0


def evaluate(
    scorer,
    evalset: EvalSet,
    *,
    ks: Sequence[int] = (10, 50),
    map_k: int = 12,
    counts: np.ndarray | None = None,
    mask_history: bool = False,
    batch_size: int = 256,
    curve: bool = False,
) -> dict[str, Any]:
    """Mean metrics over the users of ``evalset``; ``mask_history`` removes already-seen items."""
    if len(evalset) == 0:
        return {"users": 0}
    top_k = max([*ks, map_k, 10, *(CURVE_KS if curve else ())])
    sums: dict[str, float] = {}
    recommended = set()
    pop_pct = popularity_percentiles(counts) if counts is not None else None
    pop_sum = 0.0

    def add(key: str, value: float) -> None:
        sums[key] = sums.get(key, 0.0) + value

    for start in range(0, len(evalset), batch_size):
        batch = evalset.subset(range(start, min(start + batch_size, len(evalset))))
        scores = np.asarray(scorer(batch.histories, batch.types), dtype=np.float32)
        if mask_history:
            for row, history in enumerate(batch.histories):
                scores[row, history] = -np.inf
        k = min(top_k, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(part, np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable"), 1)
        for row, targets in enumerate(batch.targets):
            ranked = order[row].tolist()
            # Full-catalogue rank of the best-placed target (strictly higher scores count).
            best = max(scores[row, t] for t in targets)
            first = int((scores[row] > best).sum()) if np.isfinite(best) else None
            add("mrr", reciprocal_rank(first))
            add(f"map@{map_k}", average_precision_at_k(ranked, targets, map_k))
            for cut in sorted(set(ks) | (set(CURVE_KS) if curve else set())):
                add(f"recall@{cut}", recall_at_k(ranked, targets, cut))
                add(f"ndcg@{cut}", ndcg_at_k(ranked, targets, cut))
            recommended.update(ranked[:10])
            if pop_pct is not None:
                pop_sum += float(pop_pct[ranked[:10]].mean())
    n = len(evalset)
    out: dict[str, Any] = {key: value / n for key, value in sums.items()}
    out["users"] = n
    out["coverage@10"] = len(recommended) / scores.shape[1]
    if pop_pct is not None:
        out["popularity_pct@10"] = pop_sum / n
    return out


# Weights of the other scores added to the model's log-probabilities (tuned on validation). Up to
# 256: each part is tuned on top of the ones before, and with co-occurrence and families weighed
# 64 (H&M) the shopper's own purchases need more than that to stay on top.
BLEND_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)


class Blend:
    """log_softmax(model scores) + weight * other scores (own purchases, or a heuristic in 0..1)."""

    def __init__(self, model_scorer, other, weight: float) -> None:
        self.model_scorer, self.other, self.weight = model_scorer, other, weight

    def __call__(self, histories, types=None) -> np.ndarray:
        s = np.asarray(self.model_scorer(histories, types), dtype=np.float64)
        s = s - s.max(axis=1, keepdims=True)
        s = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        if self.weight:
            s = s + self.weight * np.asarray(self.other(histories, types), dtype=np.float64)
        return s.astype(np.float32)


class OwnPurchases:
    """The repurchase part of :class:`~recommender.training.behaviour.baselines.Repurchase` as a scorer.

    Blended with the model on H&M (``bench/behaviour_eval.py``), and when a shop model is trained
    (:func:`recommender.training.behaviour.train.tune_repurchase`); serving adds the same score.
    """

    def __init__(self, repurchase) -> None:
        self.repurchase = repurchase

    def __call__(self, histories, types=None) -> np.ndarray:
        return self.repurchase.own(histories, types)


class RowScaled:
    """A scorer's scores divided by each user's maximum: 0..1, so a blend weight means the same
    for every user (co-occurrence sums grow with the length of the history)."""

    def __init__(self, scorer) -> None:
        self.scorer = scorer

    def __call__(self, histories, types=None) -> np.ndarray:
        s = np.asarray(self.scorer(histories, types), dtype=np.float32)
        return s / np.maximum(s.max(axis=1, keepdims=True), 1e-9)


def tune_blend(
    model_scorer, other, valid: EvalSet, counts, metric: str, ks, *, mask_history: bool = False
) -> tuple[float, dict]:
    """The BLEND_GRID weight with the best validation ``metric``."""
    by_weight = {
        w: evaluate(Blend(model_scorer, other, w), valid, ks=ks, counts=counts, mask_history=mask_history)[metric]
        for w in BLEND_GRID
    }
    return max(by_weight, key=by_weight.get), by_weight
