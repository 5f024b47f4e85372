"""The shopper's own purchases as a score, shared by offline evaluation, training and serving.

    own_purchase_scores(["a", "b", "a"])        # {"a": 1.0, "b": 0.9}: newest distinct purchase first
    own_purchase_scores(bought, ranker=BuyAgainRanker(-0.1, 0.4, 3.0), prices={"a": 20.0})
                                                # the order the shop's buy-again ranker learned
    repeat_purchases(sequences, types)          # purchases of a product the shopper had bought before

Offline, :class:`recommender.training.behaviour.baselines.Repurchase` ranks with this score and
:class:`recommender.training.behaviour.evaluate.Blend` adds it, times a weight, to the model's
log-probabilities; :func:`recommender.training.behaviour.train.train_behaviour` tunes that weight and
:mod:`recommender.behaviour.serving` applies it. One formula everywhere, so the weight tuned on
validation means the same thing when serving.

No Django, torch or scipy here: the web process imports it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from recommender.behaviour.codes import PURCHASE

__all__ = ["OWN_DECAY", "OWN_LAST", "BuyAgainRanker", "buy_again_features", "own_purchase_scores", "repeat_purchases"]

K = TypeVar("K", bound=Hashable)

# Score of the k-th newest distinct purchase is OWN_DECAY ** k: the baseline that beat the model on
# H&M (MAP@12 0.16 vs 0.04, bench/results/behaviour_hm.md) used this decay.
OWN_DECAY = 0.9
# Only the newest distinct purchases count (0.9 ** 50 < 0.01: older ones would not matter anyway).
OWN_LAST = 50


def buy_again_features(rank: int, price: float | None, default_log_price: float) -> tuple[float, float]:
    """A purchase's features for :class:`BuyAgainRanker`, the same when fitting and serving:
    ``log(1 + recency rank)`` and ``log(price)`` (``default_log_price`` without a positive price)."""
    usable = price is not None and math.isfinite(price) and price > 0
    return math.log1p(rank), (math.log(price) if usable else default_log_price)


@dataclass(frozen=True)
class BuyAgainRanker:
    """Which of a shopper's purchases they are likeliest to buy again, learned from the shop's events.

    A conditional logit over each shopper's purchased products
    (:mod:`recommender.training.behaviour.buy_again` fits it on the validation days): a product's
    score is ``recency_weight · log(1 + recency rank) + price_weight · log(price)``, the shopper's
    purchases are ranked by it (ties keep the newest first), and that rank replaces the recency
    rank in ``OWN_DECAY ** rank``. Recency alone may suit a repeat-purchase shop (groceries); on
    H&M the pricier purchases come back more often (a size exchange is one likely reason), which
    recency misses.
    A product without a price takes ``default_log_price`` (the validation products' mean).
    """

    recency_weight: float
    price_weight: float
    default_log_price: float

    def score(self, rank: int, price: float | None) -> float:
        recency, log_price = buy_again_features(rank, price, self.default_log_price)
        return self.recency_weight * recency + self.price_weight * log_price

    def order(self, newest_first: Sequence[K], prices: Mapping[K, float | None]) -> list[K]:
        """``newest_first`` ranked by :meth:`score`, best first (stable: ties stay newest first)."""
        scores = [self.score(rank, prices.get(item)) for rank, item in enumerate(newest_first)]
        return [newest_first[i] for i in sorted(range(len(scores)), key=lambda i: -scores[i])]

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any) -> BuyAgainRanker | None:
        """The ranker stored in a version's metrics, or None (absent, or not three finite numbers)."""
        if not isinstance(raw, Mapping):
            return None
        try:
            values = [float(raw[name]) for name in ("recency_weight", "price_weight", "default_log_price")]
        except (KeyError, TypeError, ValueError):
            return None
        return cls(*values) if all(math.isfinite(v) for v in values) else None


def own_purchase_scores(
    purchases: Iterable[K],
    last: int = OWN_LAST,
    *,
    ranker: BuyAgainRanker | None = None,
    prices: Mapping[K, float | None] | None = None,
) -> dict[K, float]:
    """Purchased items (oldest first, repeats allowed) -> ``OWN_DECAY ** rank``.

    The rank counts the newest ``last`` distinct items by their newest purchase (the newest scores
    1.0), or with a ``ranker`` the order it gives them (``prices``: item -> price).
    """
    recent = list(dict.fromkeys(reversed(list(purchases))))[:last]
    if ranker is not None:
        recent = ranker.order(recent, prices or {})
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
