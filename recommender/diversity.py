"""Maximal marginal relevance: trade a little relevance for a list that is not ten near-copies.

Score of a pick = λ · relevance − (1 − λ) · (max cosine similarity to what is already picked),
with relevance rescaled to [0, 1] within the list so λ means the same for every strategy.

``repeat`` candidates (the shopper's own products, "Buy again") are not suggestions: they keep the
place their score gives them and stay out of the rescaling, while the suggestions around them are
spread (away from them too). Rescaled together, the blend's large own-purchase bonus squeezed
every suggestion's relevance into a sliver, so the similarity penalty alone chose them: on H&M,
"other colours of what you bought" gave way to unrelated products and served "for you" lost
MAP@12 0.011 against diversity off (``bench/results/served_evaluation.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recommender.strategies.base import Candidate

__all__ = ["AUTO_LAMBDA", "cost_per_lambda", "diversity_lambda", "mmr"]

# What "auto" diversifies with where nothing was measured: lists ranked by similarity alone
# ("similar products", the profile path) are where ten near-copies happen.
AUTO_LAMBDA = 0.8


def diversity_lambda(setting: float | None, measured: float | None = None) -> float:
    """The λ a list is diversified with: the shop owner's ``setting``, else (auto, None) the one
    training measured for the strategy's blend (``measured``), else ``AUTO_LAMBDA``."""
    if setting is not None:
        return float(setting)
    return float(measured) if measured is not None else AUTO_LAMBDA


def cost_per_lambda(measurement: dict) -> str:
    """ "λ 0.95: +0.0000, λ 0.9: -0.0004, ...": each λ's validation score against relevance alone's
    (λ 1) in a measurement training stored (``metrics["diversity"]["new"]``), most relevant first."""
    scores = {float(lam): float(value) for lam, value in (measurement.get("by_lambda") or {}).items()}
    relevance = scores.get(1.0, 0.0)
    return ", ".join(
        f"λ {lam:g}: {score - relevance:+.4f}" for lam, score in sorted(scores.items(), reverse=True) if lam < 1
    )


def mmr(candidates: Sequence[Candidate], vectors: dict[str, np.ndarray], k: int, lam: float) -> list[Candidate]:
    """Pick ``k`` of ``candidates`` (best first) by MMR; λ = 1 keeps the original order.

    A ``repeat`` candidate is taken whenever it is the best-scored one left; the others are
    chosen by MMR among themselves.
    """
    candidates = list(candidates)
    if lam >= 1.0 or len(candidates) <= 1:
        return candidates[:k]
    scores = np.array([c.score for c in candidates], dtype=np.float64)
    repeat = np.array([c.repeat for c in candidates], dtype=bool)
    relevance = np.ones_like(scores)
    if (~repeat).any():
        low, high = scores[~repeat].min(), scores[~repeat].max()
        if high > low:
            relevance = (scores - low) / (high - low)
    dims = next((v.shape[0] for v in vectors.values()), 0)
    matrix = np.stack([vectors.get(c.key, np.zeros(dims, dtype=np.float32)) for c in candidates]) if dims else None
    by_score = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    taken = np.zeros(len(candidates), dtype=bool)
    max_sim = np.zeros(len(candidates))
    chosen: list[int] = []
    while len(chosen) < min(k, len(candidates)):
        best = next(i for i in by_score if not taken[i])
        if not repeat[best]:  # the best-scored one left is a suggestion: MMR among the suggestions
            value = lam * relevance - (1 - lam) * max_sim
            value[taken | repeat] = -np.inf
            best = int(np.argmax(value))  # ties: the earlier candidate, as before
        chosen.append(best)
        taken[best] = True
        if matrix is not None:
            max_sim = np.maximum(max_sim, matrix @ matrix[best])
    return [candidates[i] for i in chosen]
