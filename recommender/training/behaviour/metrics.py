"""Ranking metrics on one user's ranked list (best first) and their target items.

All take ``ranked`` (item ids, best first, no duplicates) and ``targets`` (the relevant items):

    recall_at_k([3, 1, 2], [1], 2)      # 1.0
    ndcg_at_k([3, 1, 2], [1], 2)        # 1 / log2(3)
    average_precision_at_k(ranked, targets, 12)   # the H&M competition's MAP@12 term
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["average_precision_at_k", "ndcg_at_k", "recall_at_k", "reciprocal_rank"]


def recall_at_k(ranked: Sequence[int], targets: Sequence[int], k: int) -> float:
    """Share of the targets in the top ``k`` (= hit rate when there is one target)."""
    if not targets:
        return 0.0
    return len(set(ranked[:k]) & set(targets)) / len(set(targets))


def ndcg_at_k(ranked: Sequence[int], targets: Sequence[int], k: int) -> float:
    """Binary-relevance NDCG: DCG of the hits over the DCG of the ideal list."""
    wanted = set(targets)
    if not wanted:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in wanted)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(wanted), k)))
    return dcg / ideal


def reciprocal_rank(first_hit_rank: int | None) -> float:
    """1 / (1-based rank of the first relevant item); 0 when none is ranked."""
    return 0.0 if first_hit_rank is None else 1.0 / (first_hit_rank + 1)


def average_precision_at_k(ranked: Sequence[int], targets: Sequence[int], k: int = 12) -> float:
    """Kaggle H&M MAP@12 term: sum of precision@i at each hit i <= k, over min(|targets|, k)."""
    wanted = set(targets)
    if not wanted:
        return 0.0
    hits, total = 0, 0.0
    for rank, item in enumerate(ranked[:k]):
        if item in wanted:
            hits += 1
            total += hits / (rank + 1)
    return total / min(len(wanted), k)
