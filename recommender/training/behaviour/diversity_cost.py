"""What diversity costs on the shop's own validation shoppers, and the λ "auto" serves "for you" with.

    new = measure_diversity(model_scorer, parts, features, valid_new, "map@12", 12)
    kept = measure_diversity(..., own=(weight, own_scorer))     # with "Buy again" in the lists
    choose_lambda(scores_by_lambda(new), scores_by_lambda(kept))  # the most diverse λ that costs nothing

MMR (:func:`recommender.diversity.mmr`) trades relevance for lists that are not ten near-copies,
and what it costs depends on the shop. On H&M the likeliest new purchase is another colour of
what the shopper bought, and λ 0.8 cost "for you" 6 % of MAP@12 on products new to the shopper
(0.04503 to 0.0424 on the test days, ``bench/results/served_evaluation.md``); on a catalogue
where near-copies are rarely bought together, spreading the list costs nothing or helps. So
"auto" (``RecommenderSettings.diversity_lambda`` blank) is decided on the shop's data, as
"exclude purchased products" on auto is: training builds each validation shopper's list the way
serving does and keeps the smallest λ, the most diverse, whose validation score is not below
relevance alone's.

A list is built as :func:`recommender.strategies.personal.blended` builds it: the model's
``fetch`` best and each blend part's own ``fetch`` best (``fetch`` as :class:`Context` sizes it
for ``k`` results) are the candidates, ranked by the blend, then picked by the serving MMR itself
over the catalogue vectors it reads when serving (the encoder's fused vectors, ``features``). It
is measured twice where the shop offers "Buy again" (a positive repurchase weight): on products
new to the shopper, their own left out, and on every purchase with their own purchases in the
list, where MMR keeps their place and spreads the suggestions away from them too. The λ kept
costs nothing on either. Scores are the model's plus each part's weighted score: the blend's
order, and min-max relevance, which MMR reads, is the same for any shift of a shopper's scores.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from recommender.diversity import mmr
from recommender.strategies.base import Candidate, Context
from recommender.training.behaviour.baselines import Scorer
from recommender.training.behaviour.data import EvalSet
from recommender.training.behaviour.metrics import average_precision_at_k, ndcg_at_k

__all__ = ["DIVERSITY_GRID", "choose_lambda", "kept_lambda", "measure_diversity", "scores_by_lambda"]

# The λs measured, relevance alone first. Below 0.5 similarity outweighs relevance in MMR.
DIVERSITY_GRID = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5)
METRICS = {"map": average_precision_at_k, "ndcg": ndcg_at_k}


def choose_lambda(*by_lambdas: dict[float, float]) -> float:
    """The smallest λ scoring at least relevance alone's (λ 1) in every measurement, 1.0 when none does."""
    return min(lam for lam in DIVERSITY_GRID if all(scores[lam] >= scores[1.0] for scores in by_lambdas))


def kept_lambda(*measurements: dict[str, Any] | None) -> float | None:
    """:func:`choose_lambda` over the measurements that scored any shopper; None when none did, so
    "auto" falls back to ``AUTO_LAMBDA`` rather than read an empty measurement as "costs nothing"."""
    scored = [scores_by_lambda(m) for m in measurements if m is not None and m["valid_users"]]
    return choose_lambda(*scored) if scored else None


def measure_diversity(
    model_scorer: Scorer,
    parts: list[tuple[dict[str, Any], Scorer]],
    features: np.ndarray,
    valid: EvalSet,
    metric: str,
    k: int,
    *,
    own: tuple[float, Scorer] | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Validation ``metric`` ("map@12", "ndcg@10") of the served list at every λ of ``DIVERSITY_GRID``
    and the mean cosine similarity within the lists.

    ``parts``: the blend's parts as tuned (``(info, scorer)``, ``info["weight"]``), in serving's
    order. Without ``own`` the shopper's products are left out, as the served evaluation asks for
    products new to them; with ``own`` (weight, scorer: the shopper's own purchases) nothing is, and
    the products ``own`` scores are "Buy again" candidates, whose place MMR keeps and which the
    suggestions after them are spread away from, as serving does when it offers them.
    """
    started = time.perf_counter()
    name, cut = metric.split("@")
    score_list, cut = METRICS[name], int(cut)
    fetch = Context(version=None, limit=k).fetch
    weighted = [(float(info["weight"]), scorer) for info, scorer in parts if info["weight"]]
    sums = dict.fromkeys(DIVERSITY_GRID, 0.0)
    similarity = dict.fromkeys(DIVERSITY_GRID, 0.0)
    vectors = np.asarray(features, dtype=np.float32)
    for start in range(0, len(valid), batch_size):
        batch = valid.subset(range(start, min(start + batch_size, len(valid))))
        model = np.asarray(model_scorer(batch.histories, batch.types), dtype=np.float64)
        scored = [(w, np.asarray(scorer(batch.histories, batch.types), dtype=np.float64)) for w, scorer in weighted]
        blend = model + sum((w * s for w, s in scored), np.zeros_like(model))
        owned = np.asarray(own[1](batch.histories, batch.types), dtype=np.float64) if own else None
        if owned is not None:
            blend += own[0] * owned
        for row, (history, targets) in enumerate(zip(batch.histories, batch.targets, strict=True)):
            if owned is None:
                left_out, repeats = np.unique(np.asarray(history, dtype=np.int64)), np.zeros(0, dtype=np.int64)
            else:
                left_out, repeats = np.zeros(0, dtype=np.int64), np.flatnonzero(owned[row] > 0)
            pool = np.union1d(_candidates(model[row], [s[row] for _, s in scored], left_out, fetch), repeats)
            order = pool[np.lexsort((pool, -blend[row, pool]))]
            repeat = set(repeats.tolist())
            candidates = [Candidate(str(i), float(blend[row, i]), repeat=i in repeat) for i in order.tolist()]
            by_key = {str(i): vectors[i] for i in order}
            for lam in DIVERSITY_GRID:
                picked = [int(c.key) for c in mmr(candidates, by_key, k, lam)]
                sums[lam] += score_list(picked, targets, cut)
                similarity[lam] += _list_similarity(vectors[picked])
    n = max(len(valid), 1)
    return {
        "metric": f"valid_{metric}",
        "by_lambda": {str(lam): round(value / n, 6) for lam, value in sums.items()},
        "list_similarity": {str(lam): round(value / n, 4) for lam, value in similarity.items()},
        "valid_users": len(valid),
        "fetch": fetch,
        "seconds": round(time.perf_counter() - started, 2),
    }


def scores_by_lambda(measured: dict[str, Any]) -> dict[float, float]:
    """A measurement's ``by_lambda`` with float keys, as :func:`choose_lambda` reads it."""
    return {float(lam): float(value) for lam, value in measured["by_lambda"].items()}


def _candidates(model: np.ndarray, parts: list[np.ndarray], left_out: np.ndarray, fetch: int) -> np.ndarray:
    """The model's ``fetch`` best and each part's own ``fetch`` best with a positive score, none of ``left_out``."""
    pools = []
    for scores, positive_only in ((model, False), *((part, True) for part in parts)):
        scores = scores.copy()
        scores[left_out] = -np.inf
        if positive_only:
            scores[scores <= 0] = -np.inf
        count = min(fetch, int(np.isfinite(scores).sum()))
        if count:
            best = np.argpartition(-scores, count - 1)[:count]
            pools.append(best[np.isfinite(scores[best])])
    return np.unique(np.concatenate(pools)) if pools else np.zeros(0, dtype=np.int64)


def _list_similarity(matrix: np.ndarray) -> float:
    """Mean cosine similarity of the list's pairs (0 for fewer than two)."""
    n = len(matrix)
    if n < 2:
        return 0.0
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    gram = unit @ unit.T
    return float((gram.sum() - np.trace(gram)) / (n * (n - 1)))
