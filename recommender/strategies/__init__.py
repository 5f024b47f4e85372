"""Recommendation strategies, by name.

Each is a function ``(Context) -> list[Candidate]``; ``recommend()`` applies the rules,
diversity and caching on top. Register another with ``STRATEGIES["name"] = func``.
"""

from __future__ import annotations

from collections.abc import Callable

from recommender.strategies.base import Candidate, Context
from recommender.strategies.cooccurrence import also_viewed, bought_together
from recommender.strategies.personal import for_you, recently_viewed
from recommender.strategies.popularity import trending
from recommender.strategies.similar import similar

Strategy = Callable[[Context], list[Candidate]]

STRATEGIES: dict[str, Strategy] = {
    "similar": similar,
    "for_you": for_you,
    "bought_together": bought_together,
    "also_viewed": also_viewed,
    "trending": trending,
    "recently_viewed": recently_viewed,
}
# Strategies about one product (need product_key) and about one shopper.
PRODUCT_STRATEGIES = {"similar", "bought_together", "also_viewed"}
PERSONAL_STRATEGIES = {"for_you", "recently_viewed"}

__all__ = ["PERSONAL_STRATEGIES", "PRODUCT_STRATEGIES", "STRATEGIES", "Candidate", "Context", "Strategy"]
