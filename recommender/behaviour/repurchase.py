"""The shopper's own purchases as a score, shared by offline evaluation, training and serving.

    own_purchase_scores(["a", "b", "a"])        # {"a": 1.0, "b": 0.9}: newest distinct purchase first
    repeat_purchases(sequences, types)          # purchases of a product the shopper had bought before

Offline, :class:`recommender.training.behaviour.baselines.Repurchase` ranks with this score and
:class:`recommender.training.behaviour.evaluate.Blend` adds it, times a weight, to the model's
log-probabilities; :func:`recommender.training.behaviour.train.train_behaviour` tunes that weight and
:mod:`recommender.behaviour.serving` applies it. One formula everywhere, so the weight tuned on
validation means the same thing when serving.

No Django, torch or scipy here: the web process imports it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

from recommender.behaviour.codes import PURCHASE

__all__ = ["OWN_DECAY", "OWN_LAST", "own_purchase_scores", "repeat_purchases"]

K = TypeVar("K", bound=Hashable)

# Score of the k-th newest distinct purchase is OWN_DECAY ** k: the baseline that beat the model on
# H&M (MAP@12 0.16 vs 0.04, bench/results/behaviour_hm.md) used this decay.
OWN_DECAY = 0.9
# Only the newest distinct purchases count (0.9 ** 50 < 0.01: older ones would not matter anyway).
OWN_LAST = 50


def own_purchase_scores(purchases: Iterable[K], last: int = OWN_LAST) -> dict[K, float]:
    """Purchased items (oldest first, repeats allowed) -> ``OWN_DECAY ** recency rank``.

    The rank counts distinct items by their newest purchase: the newest scores 1.0.
    """
    recent = list(dict.fromkeys(reversed(list(purchases))))[:last]
    return {item: OWN_DECAY**rank for rank, item in enumerate(recent)}


def repeat_purchases(sequences: Sequence[Sequence[int]], types: Sequence[Sequence[int]] | None = None) -> int:
    """How many purchases repeat an earlier purchase in the same sequence; ``types=None``: all are purchases.

    Sequences collapse consecutive events of one product (:func:`recommender.training.behaviour.shop.load_shop`), so a repeat
    here is a purchase of a product bought earlier with some other event in between.
    """
    total = 0
    for i, seq in enumerate(sequences):
        kinds = types[i] if types is not None else None
        bought = [item for j, item in enumerate(seq) if kinds is None or kinds[j] == PURCHASE]
        total += len(bought) - len(set(bought))
    return total
