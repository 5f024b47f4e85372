"""Cross-modal retrieval metrics for paired image and text vectors.

Usage::

    scores = retrieval_recalls(image_vectors, text_vectors)    # row i of each belongs together
    scores["t2i_r10"]      # share of texts whose own image is among the 10 most similar images

Both arrays hold unit rows, so a dot product is the cosine similarity. Ranks count the items
scored strictly higher than the true partner, so exact ties (duplicate texts) do not count
against it. Chance level for Recall@k among n pairs is k / n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["DEFAULT_KS", "partner_ranks", "retrieval_recalls"]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)


def partner_ranks(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """0-based rank of candidate i for query i (0 = most similar)."""
    similarities = queries.astype(np.float32) @ candidates.astype(np.float32).T
    own = np.diagonal(similarities)[:, None]
    return (similarities > own).sum(axis=1)


def retrieval_recalls(
    image_vectors: np.ndarray, text_vectors: np.ndarray, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """``i2t_r{k}`` (image finds its text) and ``t2i_r{k}`` (text finds its image) for each k."""
    if len(image_vectors) != len(text_vectors):
        raise ValueError("image and text vectors must be paired row by row")
    if len(image_vectors) == 0:
        return {}
    image_ranks = partner_ranks(image_vectors, text_vectors)
    text_ranks = partner_ranks(text_vectors, image_vectors)
    scores: dict[str, float] = {}
    for k in ks:
        scores[f"i2t_r{k}"] = float(np.mean(image_ranks < k))
    for k in ks:
        scores[f"t2i_r{k}"] = float(np.mean(text_ranks < k))
    return scores
