"""Maximal marginal relevance: trade a little relevance for a list that is not ten near-copies.

Score of a pick = λ · relevance − (1 − λ) · (max cosine similarity to what is already picked),
with relevance rescaled to [0, 1] within the list so λ means the same for every strategy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.strategies.base import Candidate


def mmr(candidates: Sequence[Candidate], vectors: dict[str, np.ndarray], k: int, lam: float) -> list[Candidate]:
    """Pick ``k`` of ``candidates`` (best first) by MMR; λ = 1 keeps the original order."""
    candidates = list(candidates)
    if lam >= 1.0 or len(candidates) <= 1:
        return candidates[:k]
    scores = np.array([c.score for c in candidates], dtype=np.float64)
    span = scores.max() - scores.min()
    relevance = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    dims = next((v.shape[0] for v in vectors.values()), 0)
    matrix = np.stack([vectors.get(c.key, np.zeros(dims, dtype=np.float32)) for c in candidates]) if dims else None
    chosen: list[int] = []
    max_sim = np.zeros(len(candidates))
    remaining = set(range(len(candidates)))
    while remaining and len(chosen) < k:
        best = max(remaining, key=lambda i: lam * relevance[i] - (1 - lam) * max_sim[i])
        chosen.append(best)
        remaining.discard(best)
        if matrix is not None:
            max_sim = np.maximum(max_sim, matrix @ matrix[best])
    return [candidates[i] for i in chosen]
