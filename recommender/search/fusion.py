"""Reciprocal rank fusion: one ranking from several, using ranks only (scores are not comparable).

    reciprocal_rank_fusion({"fulltext": [("a", 3.1), ("b", 1.2)], "text_vector": [("b", .61)]},
                           weights={"fulltext": 1.0, "text_vector": 1.0}, k=60)
    # [("b", 0.0325), ("a", 0.0164)]

score(product) = sum over lists of weight / (k + rank), rank starting at 1 (Cormack, Clarke and
Buettcher, SIGIR 2009). A ts_rank, a cosine and a trigram similarity live on different scales;
their ranks do not. A larger ``k`` flattens the head of every list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["reciprocal_rank_fusion"]

Ranking = Sequence[tuple[str, float]]


def reciprocal_rank_fusion(
    lists: Mapping[str, Ranking], weights: Mapping[str, float], k: float = 60
) -> list[tuple[str, float]]:
    """Fused (key, score) best first; lists without a positive weight are ignored."""
    scores: dict[str, float] = {}
    for name, ranking in lists.items():
        weight = float(weights.get(name, 0.0))
        if weight <= 0:
            continue
        for rank, (key, _score) in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
